/**
 * A scrolling log that keeps only what is near the viewport in the DOM, so a session of thousands
 * of messages scrolls as smoothly as a short one.
 *
 * Items above and below the rendered window are spacers sized from measured heights (a
 * ResizeObserver watches every rendered item) or, for items never shown yet, a fixed estimate per
 * kind. When an item above the viewport changes height — measured for the first time, or a
 * folded output opened — the scroll position moves by the same amount, so what the reader looks at
 * stays put (the browser's own scroll anchoring is off: it knows nothing of the spacers, and Safari
 * has none). At the bottom the log follows new content; scrolled up it stays, and a button jumps
 * back to the latest message.
 *
 * Scrolling renders once per animation frame, and mounts at most MOUNT_PER_FRAME items the log has
 * not shown the frame before, nearest the viewport first (more only when more scroll into the
 * viewport at once): the others, in the margin beyond the viewport, are placeholders of their known
 * or estimated height, filled in on the next frames. A fast fling so costs a frame about two
 * messages' worth of work (their markdown, layout and paint) however many it crosses; a new message,
 * a resize or the first render mount everything at once.
 */
import type { ComponentChildren, VNode } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

/** Pixels rendered beyond each edge of the viewport. */
const OVERSCAN = 700;
/** A hard bound on rendered items, whatever their heights. */
const MAX_RENDERED = 120;
/** Closer than this to the end counts as "at the bottom". */
const END_SLACK = 48;
/** Items on each side of the rendered window that `prepare` gets in idle time. */
const PREPARE_AHEAD = 40;
/** An idle period with less left than this is not started on: a message may take that long on a slow phone. */
const IDLE_SLICE_MS = 8;
/** At most this long per idle callback, so preparing never makes a long task of its own. */
const IDLE_BUDGET_MS = 12;
/** Room left above a pinned element brought to the top of the viewport. */
const PIN_MARGIN = 8;
/** New items mounted per frame while scrolling: the rest wait as placeholders for the next frames. */
const MOUNT_PER_FRAME = 2;

type Idle = { timeRemaining(): number };
/** requestIdleCallback where the browser has it (Safari has not): else a short slice after a timeout. */
function whenIdle(run: (deadline: Idle) => void): void {
  if (typeof requestIdleCallback === "function") requestIdleCallback(run, { timeout: 1000 });
  else
    setTimeout(() => {
      const until = performance.now() + 8;
      run({ timeRemaining: () => until - performance.now() });
    }, 50);
}

export interface VirtualLogProps<T extends { key: string }> {
  items: T[];
  renderItem: (item: T) => VNode | null;
  /** Height to assume for an item never rendered. */
  estimate: (item: T) => number;
  label: string;
  /** Rendered before the items (a loading note). */
  before?: ComponentChildren;
  /** Rendered after the items, always (approval cards). */
  after?: ComponentChildren;
  /**
   * A selector for an element of `after` that following the end brings to the top of the viewport
   * rather than past it: an approval card taller than the screen shows its heading, reason and
   * command before its buttons. Scrolled further down (to the buttons) still counts as at the end.
   */
  pin?: string;
  /**
   * Called in idle time for the items around the rendered window, nearest first, so their costly
   * part (parsing markdown) is done before they scroll in. It should be cheap for an item already
   * prepared: it is called again after every render.
   */
  prepare?: (item: T) => void;
}

/** First index i with ends[i] > y (ends[i] = bottom of item i). */
function firstEndingAfter(ends: Float64Array, y: number): number {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! > y) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function VirtualLog<T extends { key: string }>(props: VirtualLogProps<T>) {
  const { items, renderItem, estimate } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const list = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  /** What each rendered item was assumed to be, to know how far it moved the content when measured. */
  const assumed = useRef(new Map<string, number>());
  const follow = useRef(true);
  const observer = useRef<ResizeObserver>();
  const observed = useRef(new Set<Element>());
  const width = useRef(0);
  const [view, setView] = useState({ top: 0, height: 800 });
  const [atEnd, setAtEnd] = useState(true);
  const [, setMeasured] = useState(0);
  const preparing = useRef(false);
  /** Keys rendered with their content by the last render (not as placeholders). */
  const live = useRef(new Set<string>());
  /** The next render comes from scrolling: it mounts at most MOUNT_PER_FRAME new items. */
  const bounded = useRef(false);
  /** A render is asked for on the next animation frame. */
  const frameAsked = useRef(false);

  /** Estimates by item: a render during a fling sums every item's height, and most are estimates. */
  const estimates = useRef(new WeakMap<T, number>());
  const guess = (it: T): number => {
    let h = estimates.current.get(it);
    if (h === undefined) estimates.current.set(it, (h = estimate(it)));
    return h;
  };

  const n = items.length;
  const ends = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const it = items[i]!;
    sum += heights.current.get(it.key) ?? guess(it);
    ends[i] = sum;
  }
  const listTop = list.current?.offsetTop ?? 0;

  /** The items to render for a viewport at `scrollTop`: [start, end). */
  function windowAt(scrollTop: number, height: number): [number, number] {
    // Following: the window is the end of the list, whatever the last scroll event said.
    const top = follow.current ? Math.max(0, sum - height) : scrollTop - listTop;
    let start = Math.min(n, firstEndingAfter(ends, top - OVERSCAN));
    let end = Math.min(n, firstEndingAfter(ends, top + height + OVERSCAN) + 1);
    if (end - start > MAX_RENDERED) {
      if (follow.current) start = end - MAX_RENDERED;
      else end = start + MAX_RENDERED;
    }
    return [start, end];
  }
  const [start, end] = windowAt(view.top, view.height);
  const rendered = useRef({ start, end, windowAt });
  rendered.current = { start, end, windowAt };
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const padTop = start > 0 ? ends[start - 1]! : 0;
  const padBottom = end > 0 && end < n ? sum - ends[end - 1]! : 0;

  const shown = items.slice(start, end);
  for (const it of shown) assumed.current.set(it.key, heights.current.get(it.key) ?? guess(it));

  // Which of the window's items get their content now: all, unless this render comes from
  // scrolling away from the end; then those shown before, those in the viewport (never a blank
  // where the reader looks), and of the others beyond it as many of the nearest as make
  // MOUNT_PER_FRAME new ones.
  const wasLive = live.current;
  let mount: Set<string> | undefined;
  if (bounded.current && !follow.current) {
    const top = view.top - listTop;
    const bottom = top + view.height;
    const distance = (i: number): number => {
      const from = i > 0 ? ends[i - 1]! : 0;
      return from >= bottom ? from - bottom : ends[i]! <= top ? top - ends[i]! : 0;
    };
    const fresh: number[] = [];
    for (let i = start; i < end; i++) if (!wasLive.has(items[i]!.key)) fresh.push(i);
    if (fresh.length > MOUNT_PER_FRAME) {
      fresh.sort((a, b) => distance(a) - distance(b));
      let take = 0;
      while (take < fresh.length && (take < MOUNT_PER_FRAME || distance(fresh[take]!) === 0)) take++;
      mount = new Set(fresh.slice(0, take).map((i) => items[i]!.key));
    }
  }
  bounded.current = false;
  const nowLive = new Set<string>();
  for (const it of shown) if (!mount || wasLive.has(it.key) || mount.has(it.key)) nowLive.add(it.key);
  live.current = nowLive;
  const waiting = nowLive.size < shown.length;

  /** Where following the end stops: the top of the pinned element, if it is taller than what is left. */
  function pinTop(el: HTMLElement): number | undefined {
    const target = props.pin ? el.querySelector<HTMLElement>(props.pin) : null;
    if (!target) return undefined;
    const top = target.getBoundingClientRect().top - el.getBoundingClientRect().top + el.scrollTop;
    return Math.max(0, top - PIN_MARGIN);
  }

  function toEnd(): void {
    const el = scroller.current;
    if (!el) return;
    const max = el.scrollHeight - el.clientHeight;
    const pinned = pinTop(el);
    // The reader already below the pinned element's top (at its buttons) stays there.
    if (pinned !== undefined && pinned < max) el.scrollTop = Math.max(pinned, Math.min(el.scrollTop, max));
    else el.scrollTop = el.scrollHeight;
  }

  if (!observer.current && typeof ResizeObserver !== "undefined") {
    observer.current = new ResizeObserver((entries) => {
      const el = scroller.current;
      if (!el) return;
      let shift = 0;
      let resized = false;
      for (const entry of entries) {
        const node = entry.target as HTMLElement;
        if (node === el) {
          // A new width re-wraps every message: what was measured no longer holds.
          if (width.current && width.current !== el.clientWidth) heights.current.clear();
          width.current = el.clientWidth;
          resized = true;
          continue;
        }
        const key = node.dataset.item;
        // A placeholder's height is only what was assumed: the item is measured once it is mounted.
        if (!key || !node.isConnected || node.dataset.placeholder !== undefined) continue;
        const h = node.offsetHeight;
        const before = heights.current.get(key) ?? assumed.current.get(key) ?? h;
        heights.current.set(key, h);
        if (h === before) continue;
        if (node.offsetTop < el.scrollTop) shift += h - before;
      }
      // Moving the scroll position brings a scroll event, and with it a render with the new heights;
      // otherwise they wait for the next one: a render per measurement would double the work per frame.
      if (follow.current) toEnd();
      else if (shift) el.scrollTop += shift;
      if (resized) setMeasured((x) => x + 1);
    });
  }

  useLayoutEffect(() => {
    const el = scroller.current;
    const ro = observer.current;
    if (!el || !ro) return;
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Every render: watch the items now in the DOM, and keep following the end.
  useLayoutEffect(() => {
    const ro = observer.current;
    if (ro) {
      for (const node of observed.current) {
        if (node.isConnected) continue;
        ro.unobserve(node);
        observed.current.delete(node);
      }
      for (const node of list.current?.children ?? []) {
        if (!(node as HTMLElement).dataset.item || observed.current.has(node)) continue;
        ro.observe(node);
        observed.current.add(node);
      }
    }
    if (follow.current) toEnd();
  });

  // After every render: prepare the items around the window in idle time, nearest first.
  useEffect(() => {
    const prepare = props.prepare;
    if (!prepare || preparing.current) return;
    preparing.current = true;
    const step = (deadline: Idle): void => {
      const until = performance.now() + IDLE_BUDGET_MS;
      const { start: s, end: e } = rendered.current;
      const all = itemsRef.current;
      for (let d = 0; d < PREPARE_AHEAD; d++) {
        for (const i of [e + d, s - 1 - d]) {
          const it = all[i];
          if (!it) continue;
          if (deadline.timeRemaining() < IDLE_SLICE_MS || performance.now() > until) return whenIdle(step);
          prepare(it);
        }
      }
      preparing.current = false;
    };
    whenIdle(step);
  });

  /**
   * Renders the window where the scroller is now, on the next animation frame: once per frame
   * however many scroll events came, and in the same frame as the scroll event that asked (a scroll
   * event's frame runs its animation frame callbacks after it), before layout.
   */
  function renderOnNextFrame(): void {
    if (frameAsked.current) return;
    frameAsked.current = true;
    requestAnimationFrame(() => {
      frameAsked.current = false;
      const el = scroller.current;
      if (!el) return;
      bounded.current = true;
      setView({ top: el.scrollTop, height: el.clientHeight });
    });
  }

  // Placeholders left: the next frame mounts the next of them.
  useLayoutEffect(() => {
    if (waiting) renderOnNextFrame();
  });

  function onScroll(): void {
    const el = scroller.current;
    if (!el) return;
    const pinned = pinTop(el);
    const bottom =
      el.scrollHeight - el.scrollTop - el.clientHeight < END_SLACK ||
      (pinned !== undefined && el.scrollTop >= pinned - END_SLACK);
    follow.current = bottom;
    setAtEnd(bottom);
    // Most scroll events move within the rendered window: no render for those.
    const r = rendered.current;
    const [s, e] = r.windowAt(el.scrollTop, el.clientHeight);
    if (s !== r.start || e !== r.end || el.clientHeight !== view.height) renderOnNextFrame();
  }

  function jump(): void {
    follow.current = true;
    setAtEnd(true);
    toEnd();
    setMeasured((x) => x + 1);
  }

  /**
   * Home and End move at once. The browser's own smooth scroll would cross a long session's whole
   * height over a few frames, and a height measured on the way (the reader's place kept) ends it
   * short of the first message.
   */
  function onKeyDown(e: KeyboardEvent): void {
    const el = scroller.current;
    if (!el || e.target !== el || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    if (e.key === "Home") {
      e.preventDefault();
      follow.current = false;
      el.scrollTop = 0;
    } else if (e.key === "End") {
      e.preventDefault();
      jump();
    }
  }

  return (
    <div class="log-wrap">
      <div
        class="messages"
        ref={scroller}
        role="log"
        aria-live="polite"
        aria-label={props.label}
        tabIndex={0}
        onScroll={onScroll}
        onKeyDown={onKeyDown}
      >
        {props.before}
        <div class="vlist" ref={list}>
          {padTop > 0 ? <div class="vpad" aria-hidden="true" style={{ height: `${padTop}px` }} /> : null}
          {shown.map((it) =>
            nowLive.has(it.key) ? (
              <div key={it.key} class="vitem" data-item={it.key}>
                {renderItem(it)}
              </div>
            ) : (
              <div
                key={it.key}
                class="vitem vph"
                data-item={it.key}
                data-placeholder=""
                aria-hidden="true"
                style={{ height: `${assumed.current.get(it.key)!}px` }}
              />
            ),
          )}
          {padBottom > 0 ? (
            <div class="vpad" aria-hidden="true" style={{ height: `${padBottom}px` }} />
          ) : null}
        </div>
        {props.after}
      </div>
      {/* A row of its own under the log, not a button floating over it: it hides no message. */}
      {!atEnd ? (
        <div class="jump-bar">
          <button type="button" class="jump-end" onClick={jump}>
            <span aria-hidden="true">↓</span> Latest
          </button>
        </div>
      ) : null}
    </div>
  );
}
