/** An event stamped with its seq and serialised once, whatever the number of listeners. */
export interface OutboundEvent {
  seq: number;
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
  };
}

/**
 * The last events of a session, bounded by count and by bytes. A circular buffer: pushing and
 * evicting are O(1), and since seqs are contiguous, finding where a replay starts is arithmetic.
 */
export class ReplayRing {
  /** Grows as events arrive (slots are written in order until the ring wraps): idle sessions stay small. */
  private readonly slots: (OutboundEvent | undefined)[] = [];
  private head = 0;
  private size = 0;
  private bytesHeld = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes: number,
  ) {}

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
    this.slots[(this.head + this.size) % this.maxEvents] = e;
    this.size++;
    this.bytesHeld += e.data.length;
    while (this.size > 0 && this.bytesHeld > this.maxBytes) this.evict();
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
    const e = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.maxEvents;
    this.size--;
    this.bytesHeld -= e?.data.length ?? 0;
  }
}
