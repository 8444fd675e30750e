/** An event stamped with its seq and serialised once, whatever the number of listeners. */
export interface OutboundEvent {
  seq: number;
  /** On a merged delta only: the first of the seqs firstSeq … seq it stands for. */
  firstSeq?: number;
  type: string;
  data: string;
  /** Set on text/thinking deltas so a lagging connection can merge consecutive pieces of one block. */
  merge?: {
    key: string;
    sessionId: string;
    epoch: string;
    deltaType: string;
    contentIndex: number;
    text: string;
    /** The benchmark's `ts` of the first delta (PI_SERVER_BENCH_TIMESTAMPS), so a merged frame's latency is its oldest delta's. */
    ts?: number;
  };
}

/**
 * What an event costs the ring beyond its frame's characters: the event object, its merge record
 * with the delta's own string, the slot (a heap snapshot of full rings: about 200 bytes an event
 * on 64-bit Node). Counted so that the byte limits bound the memory the rings hold, not only the
 * text of their frames, which for a streamed delta is under half of it.
 */
export const EVENT_OVERHEAD_BYTES = 200;

function cost(e: OutboundEvent): number {
  return e.data.length + EVENT_OVERHEAD_BYTES + (e.merge ? e.merge.text.length : 0);
}

/**
 * The bytes every session's ring holds together, bounded by `maxBytes`. A ring over its fair share
 * (maxBytes ÷ rings) gives up its own oldest events first; only when the others hold more than
 * theirs does the largest ring give way. An evicted event is gone for replay: a resume from before
 * it is answered `gap`, never a replay with a hole.
 */
export class ReplayBudget {
  private readonly rings = new Set<ReplayRing>();
  bytes = 0;

  constructor(readonly maxBytes: number) {}

  add(ring: ReplayRing): void {
    this.rings.add(ring);
  }

  remove(ring: ReplayRing): void {
    this.rings.delete(ring);
  }

  /** Called by a ring that just grew. */
  settle(grown: ReplayRing): void {
    if (this.bytes <= this.maxBytes) return;
    const share = this.maxBytes / Math.max(1, this.rings.size);
    while (this.bytes > this.maxBytes && grown.bytes > share) grown.evictOldest();
    while (this.bytes > this.maxBytes) {
      let largest: ReplayRing | undefined;
      for (const r of this.rings) if (!largest || r.bytes > largest.bytes) largest = r;
      if (!largest || largest.count === 0) return;
      largest.evictOldest();
    }
  }
}

/**
 * The last events of a session, bounded by count and by bytes (its own, and the budget's over all
 * sessions). A circular buffer: pushing and
 * evicting are O(1), and since seqs are contiguous, finding where a replay starts is arithmetic.
 */
export class ReplayRing {
  /** Grows as events arrive (slots are written in order until the ring wraps): idle sessions stay small. */
  private readonly slots: (OutboundEvent | undefined)[] = [];
  /** What each slot's event was charged when it came in (cost()), given back when it goes. */
  private readonly costs: number[] = [];
  private head = 0;
  private size = 0;
  private bytesHeld = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes: number,
    private readonly budget?: ReplayBudget,
  ) {
    budget?.add(this);
  }

  get count(): number {
    return this.size;
  }

  get bytes(): number {
    return this.bytesHeld;
  }

  /** Seq of the oldest buffered event, undefined when empty. */
  get oldestSeq(): number | undefined {
    return this.size === 0 ? undefined : this.slots[this.head]?.seq;
  }

  push(e: OutboundEvent): void {
    if (this.maxEvents === 0) return;
    if (this.size === this.maxEvents) this.evict();
    const slot = (this.head + this.size) % this.maxEvents;
    const bytes = cost(e);
    this.slots[slot] = e;
    this.costs[slot] = bytes;
    this.size++;
    this.bytesHeld += bytes;
    if (this.budget) this.budget.bytes += bytes;
    while (this.size > 0 && this.bytesHeld > this.maxBytes) this.evict();
    this.budget?.settle(this);
  }

  evictOldest(): void {
    if (this.size > 0) this.evict();
  }

  /** Empties the ring and leaves the budget (the session is unloaded). */
  release(): void {
    while (this.size > 0) this.evict();
    this.budget?.remove(this);
  }

  /** Every buffered event with seq > sinceSeq, oldest first. */
  since(sinceSeq: number): OutboundEvent[] {
    const oldest = this.oldestSeq;
    if (oldest === undefined) return [];
    const skip = Math.max(0, sinceSeq - oldest + 1);
    const out: OutboundEvent[] = [];
    for (let i = skip; i < this.size; i++) {
      const e = this.slots[(this.head + i) % this.maxEvents];
      if (e) out.push(e);
    }
    return out;
  }

  private evict(): void {
    const bytes = this.costs[this.head] ?? 0;
    this.slots[this.head] = undefined;
    this.costs[this.head] = 0;
    this.head = (this.head + 1) % this.maxEvents;
    this.size--;
    this.bytesHeld -= bytes;
    if (this.budget) this.budget.bytes -= bytes;
  }
}
