import type { Socket } from "node:net";
import type { WebSocket } from "ws";
import type { OutboundEvent } from "../sessions/live-session.js";
import { continues, firstSeqOf, type Merge, mergedDeltaFrame } from "./merged-delta.js";

/** Counters over every connection, for operators and for tests that check memory stays bounded. */
export interface TransportStats {
  /** Connections closed with 4409 because their send queue passed its limit. */
  slowConsumerCloses: number;
  /** Largest number of bytes any connection had waiting in its own queue (on top of the socket's buffer). */
  peakQueuedBytes: number;
  /** Largest ws.bufferedAmount seen when a frame was handed to the socket. */
  peakBufferedBytes: number;
  /** Delta events folded into the previous queued delta because the client was behind. */
  mergedDeltas: number;
  /** Session events handed to send queues (metrics). */
  eventsSent: number;
}

export function newTransportStats(): TransportStats {
  return { slowConsumerCloses: 0, peakQueuedBytes: 0, peakBufferedBytes: 0, mergedDeltas: 0, eventsSent: 0 };
}

/** Largest batch of corked frames held back within one tick. */
const CORK_FLUSH_BYTES = 64 * 1024;
/** Frames of a tick written at once before the rest are batched (see batchBurst). */
const UNCORKED_FRAMES_PER_TICK = 8;

interface Item {
  data: string | undefined;
  bytes: number;
  merge?: Merge & { firstSeq: number; seq: number };
}

/**
 * What a connection still has to send. Frames go straight to the socket while its buffer is below
 * `highWater`; past that they wait here, where consecutive deltas of one content block are merged
 * into a single frame (as are a compressing connection's bursts, see joinsBurst). When more than
 * `limit` bytes wait, `onOverflow` drops the client.
 */
export class SendQueue {
  private items: Item[] = [];
  private head = 0;
  private bytesQueued = 0;
  private dead = false;
  /** Frames written in this tick, and the socket corked for the rest of it. */
  private tickWrites = 0;
  private corkedSocket: Socket | undefined;
  /**
   * A compressing connection's last delta handed to the socket, until the event loop's check phase
   * after it (setImmediate): a delta that continues it meanwhile is part of the same burst.
   */
  private burst: { merge: Merge; seq: number } | undefined;
  private burstEnds: NodeJS.Immediate | undefined;
  private readonly mergesBursts: boolean;

  constructor(
    private readonly ws: WebSocket,
    private readonly limit: number,
    private readonly highWater: number,
    private readonly stats: TransportStats,
    private readonly onOverflow: (queued: number) => void,
  ) {
    this.mergesBursts = ws.extensions.includes("permessage-deflate");
  }

  get queuedBytes(): number {
    return this.bytesQueued;
  }

  /** Stops sending and frees what waits. */
  drop(): void {
    this.dead = true;
    clearImmediate(this.burstEnds);
    this.burst = undefined;
    this.items = [];
    this.head = 0;
    this.bytesQueued = 0;
  }

  /** Resolves once everything queued has reached the socket's buffer and the buffer is empty, or after timeoutMs. */
  async drained(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (
      !this.dead &&
      (this.head < this.items.length || this.ws.bufferedAmount > 0) &&
      Date.now() < until
    ) {
      this.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  send(data: string, event?: OutboundEvent): void {
    if (this.dead || this.ws.readyState !== this.ws.OPEN) return;
    if (event !== undefined) this.stats.eventsSent++;
    const joinsBurst = this.joinsBurst(event);
    if (
      this.head === this.items.length &&
      this.ws.bufferedAmount < this.highWater &&
      !this.compressing() &&
      !joinsBurst
    ) {
      this.write(data, event);
      return;
    }
    const last = this.items[this.items.length - 1];
    const m = event?.merge;
    if (
      m &&
      event &&
      last?.merge &&
      this.items.length - 1 >= this.head &&
      continues(last.merge, last.merge.seq, event)
    ) {
      last.merge.text += m.text;
      last.merge.seq = event.seq;
      last.data = undefined;
      last.bytes += m.text.length;
      this.bytesQueued += m.text.length;
      this.stats.mergedDeltas++;
    } else {
      const item: Item = { data, bytes: data.length };
      if (m && event) item.merge = { ...m, firstSeq: firstSeqOf(event), seq: event.seq };
      this.items.push(item);
      this.bytesQueued += data.length;
    }
    if (this.bytesQueued > this.limit) {
      // Never held: the frame that would pass the limit drops the client instead.
      const queued = this.bytesQueued;
      this.drop();
      this.onOverflow(queued);
      return;
    }
    if (this.bytesQueued > this.stats.peakQueuedBytes) this.stats.peakQueuedBytes = this.bytesQueued;
    // Only a delta of the burst waits for the burst's end; anything else goes now, after what waits.
    if (!joinsBurst) this.pump();
  }

  /**
   * Whether `event` is a delta continuing the one this compressing connection just sent, in the
   * same turn of the event loop (pi emits a whole read of the LLM's response at once when the
   * server is behind). Such deltas wait for the loop's check phase and leave as one merged frame:
   * one deflate call and one frame for the burst instead of one per token (npm run bench, issue
   * #16). The burst's first delta, and a delta at an LLM's pace, never waits.
   */
  private joinsBurst(event: OutboundEvent | undefined): boolean {
    if (!this.burst || !event?.merge) return false;
    const last = this.items[this.items.length - 1];
    if (this.head < this.items.length && last?.merge) return continues(last.merge, last.merge.seq, event);
    return this.head === this.items.length && continues(this.burst.merge, this.burst.seq, event);
  }

  private readonly endBurst = (): void => {
    this.burstEnds = undefined;
    this.burst = undefined;
    this.pump();
  };

  private write(data: string, event?: { merge?: Merge; seq: number }): void {
    if (this.mergesBursts) {
      this.burst = event?.merge ? { merge: event.merge, seq: event.seq } : undefined;
      if (this.burst && !this.burstEnds) this.burstEnds = setImmediate(this.endBurst);
    }
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.stats.peakBufferedBytes) this.stats.peakBufferedBytes = buffered;
    const socket = this.batchBurst();
    this.ws.send(data, () => this.pump());
    // Corked bytes count in bufferedAmount: flush them before they could pass for a slow client's.
    if (socket && socket.writableLength >= Math.min(CORK_FLUSH_BYTES, this.highWater / 2)) {
      socket.uncork();
      socket.cork();
    }
  }

  /**
   * A streaming burst (hundreds of events from one read of the LLM's response) would cost one
   * syscall per frame, more CPU than pi spends per event (npm run bench, issue #6). Past the first
   * few frames of a tick the socket is corked, and the rest leave in one writev when the tick ends.
   * The first few go at once: a turn's opening events are followed by synchronous work in the same
   * tick, and corking them would hold them back for its duration. Returns the socket while corked.
   */
  private batchBurst(): Socket | undefined {
    const n = ++this.tickWrites;
    if (n === 1) process.nextTick(this.endTick);
    if (n <= UNCORKED_FRAMES_PER_TICK) return undefined;
    // ws exposes no cork of its own; _socket is the net.Socket it writes to.
    const socket = (this.ws as unknown as { _socket?: Socket })._socket;
    if (n === UNCORKED_FRAMES_PER_TICK + 1 && socket) {
      socket.cork();
      this.corkedSocket = socket;
    }
    return this.corkedSocket;
  }

  private readonly endTick = (): void => {
    this.tickWrites = 0;
    this.corkedSocket?.uncork();
    this.corkedSocket = undefined;
  };

  /**
   * Whether ws is still compressing the previous frame (permessage-deflate). Frames are compressed
   * inline (compressInline) except a large one, which goes through zlib's thread pool: a frame
   * handed to ws meanwhile would only wait in ws's own queue. Held here instead, consecutive deltas
   * of a block merge into one frame. The write callback pumps what waits.
   */
  private compressing(): boolean {
    // ws has no public flag: Sender._state is 0 (DEFAULT) when it is free to take a frame.
    const sender = (this.ws as unknown as { _sender?: { _state?: number } })._sender;
    return sender?._state !== undefined && sender._state !== 0;
  }

  private pump(): void {
    while (
      !this.dead &&
      this.head < this.items.length &&
      this.ws.bufferedAmount < this.highWater &&
      !this.compressing()
    ) {
      if (this.ws.readyState !== this.ws.OPEN) return;
      const item = this.items[this.head] as Item;
      this.items[this.head] = undefined as unknown as Item;
      this.head++;
      this.bytesQueued -= item.bytes;
      this.write(item.data ?? render(item), item.merge);
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/** A merged delta: one frame for seqs firstSeq … seq. */
function render(item: Item): string {
  const m = item.merge as NonNullable<Item["merge"]>;
  return mergedDeltaFrame(m, m.firstSeq, m.seq);
}
