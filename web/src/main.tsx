import { render } from "preact";
import { App, preloadFirstScreen, preloadScreens } from "./components/App.js";
import { go, parse } from "./router.js";
import { loadServers } from "./store.js";
import "./styles.css";

preloadFirstScreen();
render(<App />, document.getElementById("app")!);
void loadServers();
addEventListener("load", () => setTimeout(preloadScreens, 500));

// The app shell is cached for a flaky network; a service worker needs a secure context (or localhost).
if ("serviceWorker" in navigator && window.isSecureContext) {
  addEventListener("load", () => {
    navigator.serviceWorker
      .register(`${import.meta.env.BASE_URL}sw.js`, { scope: import.meta.env.BASE_URL })
      .catch(() => undefined);
  });
}

// A tapped notification opens its session in this window (sw.js posts the route).
navigator.serviceWorker?.addEventListener("message", (e: MessageEvent<{ type?: string; hash?: unknown }>) => {
  if (e.data?.type === "open" && typeof e.data.hash === "string" && parse(e.data.hash).name !== "pair")
    go(e.data.hash);
});
