import { render } from "preact";
import { App, preloadScreens } from "./components/App.js";
import { loadServers } from "./store.js";
import "./styles.css";

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
