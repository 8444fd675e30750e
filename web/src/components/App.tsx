import { lazy, Suspense } from "preact/compat";
import { useEffect } from "preact/hooks";
import { route } from "../router.js";
import { current, ready, servers } from "../store.js";
import { ConnectionBadge } from "./ConnectionBadge.js";
import { NewSession } from "./NewSession.js";
import { PairScreen } from "./PairScreen.js";
import { Revoked } from "./Revoked.js";
import { ServersScreen } from "./ServersScreen.js";
import { SessionList } from "./SessionList.js";

// The chat and the review screen carry the markdown renderer, its sanitiser and the diff viewer:
// loaded on their own, so the pairing screen and the session list start with half the script.
const loadChat = () => import("./ChatView.js").then((m) => ({ default: m.ChatView }));
const loadReview = () => import("./ReviewView.js").then((m) => ({ default: m.ReviewView }));
const ChatView = lazy(loadChat);
const ReviewView = lazy(loadReview);
// Screens used now and then, fetched when first opened.
const WorkspacesScreen = lazy(() =>
  import("./WorkspacesScreen.js").then((m) => ({ default: m.WorkspacesScreen })),
);
const WorkspaceSettings = lazy(() =>
  import("./WorkspaceSettings.js").then((m) => ({ default: m.WorkspaceSettings })),
);
const ImportScreen = lazy(() => import("./ImportScreen.js").then((m) => ({ default: m.ImportScreen })));
const CheckpointsView = lazy(() =>
  import("./CheckpointsView.js").then((m) => ({ default: m.CheckpointsView })),
);

/**
 * Opened on a chat (a reload, a notification, a shared link): its chunk is fetched at once, beside
 * the device's keys from IndexedDB and the WebSocket's hello, not after them.
 */
export function preloadFirstScreen(): void {
  const name = route.value.name;
  if (name === "session") void loadChat().catch(() => undefined);
  else if (name === "changes") void loadReview().catch(() => undefined);
}

/** Fetched once the first screen is up, so opening a chat later does not wait for the network. */
export function preloadScreens(): void {
  void loadChat().catch(() => undefined);
  void loadReview().catch(() => undefined);
}

export function App() {
  const r = route.value;
  // Moving between screens puts keyboard and screen-reader focus on the new screen's heading.
  useEffect(() => {
    document.querySelector<HTMLElement>("main h1, main h2")?.focus();
  }, [r.name, "id" in r ? r.id : ""]);

  let body;
  if (r.name === "pair") body = <PairScreen key={r.invite} encoded={r.invite} deviceName={r.deviceName} />;
  else if (!ready.value) body = <p class="muted">Loading…</p>;
  else if (servers.value.length === 0) body = <NotPaired />;
  else if (r.name === "servers") body = <ServersScreen />;
  else if (current.value?.revoked) body = <Revoked server={current.value} />;
  else if (r.name === "session") body = <ChatView key={r.id} sessionId={r.id} />;
  else if (r.name === "changes") body = <ReviewView key={r.id} sessionId={r.id} />;
  else if (r.name === "checkpoints") body = <CheckpointsView key={r.id} sessionId={r.id} />;
  else if (r.name === "new") body = <NewSession key={r.workspaceId ?? ""} workspaceId={r.workspaceId} />;
  else if (r.name === "workspaces") body = <WorkspacesScreen />;
  else if (r.name === "workspace") body = <WorkspaceSettings key={r.id} workspaceId={r.id} />;
  else if (r.name === "workspace-new")
    body = <WorkspaceSettings key={`new:${r.repoId ?? ""}`} repoId={r.repoId} />;
  else if (r.name === "import") body = <ImportScreen />;
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
      <main id="main">
        <Suspense fallback={<p class="muted">Loading…</p>}>{body}</Suspense>
      </main>
    </div>
  );
}

function NotPaired() {
  return (
    <section class="empty">
      <h1 tabIndex={-1}>Pair this device</h1>
      <p>
        On the machine that runs pi-server, run <code class="cmd">pi-server pair</code> and open the link it
        prints (or scan its QR code) on this device.
      </p>
    </section>
  );
}
