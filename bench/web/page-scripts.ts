/**
 * Code the benchmark runs inside the page. Strings, not functions: the server-side tsconfig has no
 * DOM types, and tsx would wrap named inner functions in a helper the page does not have.
 */

/** Sets the chat's scroller to its top for 30 frames, so the window settles on the first message. */
export const TO_TOP = `(async () => {
  const el = document.querySelector(".messages");
  for (let i = 0; i < 30; i++) {
    el.scrollTop = 0;
    await new Promise((r) => requestAnimationFrame(r));
  }
})()`;

/**
 * Moves the scroller `step` px per animation frame until it has been at the bottom for 10 frames;
 * returns the frames' lengths (rAF deltas: the longest, which frame it was, the 95th percentile, how
 * many over 50 ms), long animation frames, and the most items rendered.
 */
export function fling(selector: string, step: number, countItems: boolean): string {
  return `(async () => {
  const el = document.querySelector(${JSON.stringify(selector)});
  const loafs = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) loafs.push(e.duration);
  });
  try {
    obs.observe({ type: "long-animation-frame" });
  } catch {
    // An older Chromium without the entry type: the rAF deltas still tell.
  }
  const deltas = [];
  let maxRenderedItems = 0;
  let scrolledPx = 0;
  let atBottom = 0;
  let last = await new Promise((r) => requestAnimationFrame(r));
  // Five times the frames the distance needs: a log whose end keeps moving away is reported, not waited on.
  const maxFrames = Math.ceil((5 * el.scrollHeight) / ${step}) + 100;
  let endState = "";
  while (atBottom < 10 && deltas.length < maxFrames) {
    const before = el.scrollTop;
    el.scrollTop = before + ${step};
    const now = await new Promise((r) => requestAnimationFrame(r));
    deltas.push(now - last);
    last = now;
    scrolledPx += Math.max(0, el.scrollTop - before);
    ${countItems ? 'maxRenderedItems = Math.max(maxRenderedItems, el.querySelectorAll("[data-item]").length);' : ""}
    atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 2 ? atBottom + 1 : 0;
    if (deltas.length > maxFrames - 5)
      endState += \`scrollTop \${el.scrollTop}, clientHeight \${el.clientHeight}, scrollHeight \${el.scrollHeight}; \`;
  }
  await new Promise((r) => setTimeout(r, 200));
  obs.disconnect();
  const sorted = [...deltas].sort((a, b) => a - b);
  return {
    frames: deltas.length,
    scrolledPx,
    maxFrameMs: sorted[sorted.length - 1] ?? 0,
    maxFrameAt: deltas.indexOf(sorted[sorted.length - 1]),
    p95FrameMs: sorted[Math.floor(sorted.length * 0.95)] ?? 0,
    framesOver50: deltas.filter((d) => d > 50).length,
    longAnimationFrames: loafs.filter((d) => d > 50).length,
    maxLongAnimationFrameMs: Math.max(0, ...loafs),
    maxRenderedItems,
    reachedEnd: atBottom >= 10,
    endState,
  };
})()`;
}

/** Drops the service worker and its caches (IndexedDB stays), so a load is not served from them. */
export const FORGET_SHELL = `(async () => {
  for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
  for (const k of await caches.keys()) await caches.delete(k);
})()`;

/** When the probe saw the screen painted, moved past a long task running at that moment. */
export const INTERACTIVE_AT = `(() => {
  const { painted, longTasks } = window.__bench;
  let at = painted;
  for (const [start, duration] of longTasks) if (start <= at && start + duration > at) at = start + duration;
  return at;
})()`;

export const PAINTED = "window.__bench !== undefined && window.__bench.painted !== undefined";
