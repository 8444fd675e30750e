// The app shell is served network-first and cached as it is fetched, so a new build reaches the
// phone at once when the server is reachable, and the last one still opens when it is not.
// /rpc and /pair are never cached: they are live and carry secrets.
const CACHE = "pi-app-v1";
const SHELL = ["/app/", "/app/manifest.webmanifest", "/app/icons/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith("/app/")) return;
  event.respondWith(
    fetch(event.request)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(event.request, copy));
        }
        return res;
      })
      .catch(() =>
        caches
          .match(event.request, { ignoreSearch: true })
          .then((hit) => hit || caches.match("/app/"))
          .then((hit) => hit || new Response("offline", { status: 503 })),
      ),
  );
});

// ---- Notifications (docs/push.md) ----
// A push carries JSON: a permission request (kind "permission", with Approve and Deny bound to a
// single-use action token), a turn that ended or failed, an interrupted session, or a summary of a
// burst. Redacted payloads (push.redact) hold ids only: the text shown then is generic.

const GENERIC = {
  permission: ["Approval needed", "A session needs you"],
  turnEnded: ["Turn ended", "A session finished its turn"],
  turnFailed: ["Turn failed", "A session's turn failed"],
  interrupted: ["Session interrupted", "A session was interrupted"],
  summary: ["Sessions need you", "Open pi to see what happened"],
};

const text = (v, max) => (typeof v === "string" && v.trim() ? v.slice(0, max) : undefined);

/** What a push payload shows: its title and the options (body, tag, Approve and Deny, data). */
function notificationFor(p) {
  const kind = typeof p.kind === "string" ? p.kind : "unknown";
  const [genericTitle, genericBody] = GENERIC[kind] || ["pi", "A session needs you"];
  const sessionId = text(p.sessionId, 100);
  const requestId = text(p.requestId, 100);
  const token = kind === "permission" ? text(p.actionToken, 200) : undefined;
  const options = {
    body: text(p.body, 400) || genericBody,
    icon: new URL("icons/icon-192.png", self.registration.scope).href,
    // One notification per request (a re-sent request replaces its own), one per session otherwise.
    tag: requestId ? `pi-${requestId}` : `pi-${kind}-${sessionId || "all"}`,
    renotify: true,
    data: { kind, sessionId, requestId, token },
  };
  if (kind === "permission") {
    options.requireInteraction = true;
    if (token && requestId) {
      options.actions = [
        { action: "allow", title: "Approve" },
        { action: "deny", title: "Deny" },
      ];
    }
  }
  return { title: text(p.title, 200) || genericTitle, options };
}

function handlePush(payload) {
  const { title, options } = notificationFor(payload || {});
  return self.registration.showNotification(title, options);
}

self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(handlePush(payload));
});

const FAILURE = {
  401: "These buttons no longer work (already used, expired, or the device was revoked). Open pi to answer.",
  404: "Already answered elsewhere, or no longer waiting.",
  429: "Too many answers from this address just now. Open pi to answer.",
};

/**
 * Approve or Deny: POST /push/action with the notification's action token, then say how it went in
 * the notification's place. Resolves with the HTTP status (0 when the server was not reached).
 */
async function answer(notification, action) {
  const { requestId, token, sessionId } = notification.data || {};
  const title = notification.title;
  notification.close();
  let status = 0;
  try {
    const res = await fetch(new URL("../push/action", self.registration.scope).href, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, requestId, action }),
      credentials: "omit",
    });
    status = res.status;
  } catch {
    status = 0;
  }
  const ok = status === 200;
  const done = action === "allow" ? "Approved" : "Denied";
  const verb = action === "allow" ? "approve" : "deny";
  await self.registration.showNotification(ok ? done : `Could not ${verb}`, {
    body: ok
      ? title
      : FAILURE[status] ||
        (status === 0
          ? "The server did not answer. Open pi to answer."
          : `The server answered ${status}. Open pi to answer.`),
    tag: `pi-${requestId}`,
    icon: new URL("icons/icon-192.png", self.registration.scope).href,
    data: { kind: ok ? "answered" : "answer-failed", sessionId, requestId, status },
  });
  return status;
}

/** Focuses an open window of the app on a route (or opens one): `#/s/<id>` or the list `#/`. */
async function openApp(hash) {
  const url = new URL(`#${hash}`, self.registration.scope).href;
  const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const win = wins.find((c) => c.url.startsWith(self.registration.scope));
  if (!win) return self.clients.openWindow(url);
  // The page changes its own route (main.tsx): no reload, its connection stays up.
  win.postMessage({ type: "open", hash });
  return win.focus().catch(() => win);
}

function handleClick(notification, action) {
  const { sessionId } = notification.data || {};
  if (action === "allow" || action === "deny") return answer(notification, action);
  notification.close();
  return openApp(sessionId ? `/s/${sessionId}` : "/");
}

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(handleClick(event.notification, event.action));
});
