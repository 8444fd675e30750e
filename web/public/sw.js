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
