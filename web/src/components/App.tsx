import { useEffect } from "preact/hooks";
import { route } from "../router.js";
import { current, ready, servers } from "../store.js";
import { ChatView } from "./ChatView.js";
import { ConnectionBadge } from "./ConnectionBadge.js";
import { NewSession } from "./NewSession.js";
import { PairScreen } from "./PairScreen.js";
import { ReviewView } from "./ReviewView.js";
import { Revoked } from "./Revoked.js";
import { ServersScreen } from "./ServersScreen.js";
import { SessionList } from "./SessionList.js";

export function App() {
  const r = route.value;
  // Moving between screens puts keyboard and screen-reader focus on the new screen's heading.
  useEffect(() => {
    document.querySelector<HTMLElement>("main h1, main h2")?.focus();
  }, [r.name]);

  let body;
  if (r.name === "pair") body = <PairScreen encoded={r.invite} />;
  else if (!ready.value) body = <p class="muted">Loading…</p>;
  else if (servers.value.length === 0) body = <NotPaired />;
  else if (r.name === "servers") body = <ServersScreen />;
  else if (current.value?.revoked) body = <Revoked server={current.value} />;
  else if (r.name === "session") body = <ChatView key={r.id} sessionId={r.id} />;
  else if (r.name === "changes") body = <ReviewView key={r.id} sessionId={r.id} />;
  else if (r.name === "new") body = <NewSession />;
  else body = <SessionList />;

  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/" aria-label="pi sessions">
          <img src={`${import.meta.env.BASE_URL}icons/icon.svg`} alt="" width="28" height="28" />
          <span>pi</span>
        </a>
        {current.value && r.name !== "pair" ? <ConnectionBadge /> : null}
        <a class="icon-link" href="#/servers">
          Servers
        </a>
      </header>
      <main id="main">{body}</main>
    </div>
  );
}

function NotPaired() {
  return (
    <section class="empty">
      <h1 tabIndex={-1}>Pair this device</h1>
      <p>
        On the machine that runs pi-server, run <code>pi-server pair</code> and open the link it prints (or
        scan its QR code) on this device.
      </p>
    </section>
  );
}
