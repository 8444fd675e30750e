/**
 * Per-device bursts. The first notification of a quiet device goes at once and opens a window of
 * `windowMs`; what arrives during the window is held and, when it closes, sent as one notification
 * (with the one that opened the burst counted in). A flush that sent something opens the next
 * window, so a steady stream makes at most one notification per window. Nothing waits longer
 * than one window.
 */
export class Bursts<N> {
  private readonly open = new Map<string, { opener: N | undefined; held: N[]; timer: NodeJS.Timeout }>();

  constructor(
    private readonly windowMs: () => number,
    /** A window closed with notifications held: `all` is the opener (if any) and what was held. */
    private readonly flush: (device: string, held: N[], all: N[]) => void,
  ) {}

  /** true: send `n` to `device` now. false: it is held for the window's end. */
  offer(device: string, n: N): boolean {
    const ms = this.windowMs();
    if (ms <= 0) return true;
    const w = this.open.get(device);
    if (w) {
      w.held.push(n);
      return false;
    }
    this.start(device, n, ms);
    return true;
  }

  private start(device: string, opener: N | undefined, ms: number): void {
    const timer = setTimeout(() => this.close(device), ms);
    timer.unref();
    this.open.set(device, { opener, held: [], timer });
  }

  private close(device: string): void {
    const w = this.open.get(device);
    if (!w) return;
    this.open.delete(device);
    clearTimeout(w.timer);
    if (w.held.length === 0) return;
    const ms = this.windowMs();
    if (ms > 0) this.start(device, undefined, ms);
    this.flush(device, w.held, w.opener === undefined ? w.held : [w.opener, ...w.held]);
  }

  /** Every window closes now (the server stops): what is held is sent, nothing waits. */
  flushAll(): void {
    for (const device of [...this.open.keys()]) {
      const w = this.open.get(device);
      if (!w) continue;
      this.open.delete(device);
      clearTimeout(w.timer);
      if (w.held.length > 0)
        this.flush(device, w.held, w.opener === undefined ? w.held : [w.opener, ...w.held]);
    }
  }
}
