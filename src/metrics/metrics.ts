import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** What sessions report as turns run. Called once per turn, never per event. */
export interface TurnMetrics {
  /** A turn ended: how long it ran and how (an `error` is a failed LLM call). */
  turnEnded(seconds: number, outcome: "ok" | "error" | "aborted"): void;
  /** A client attached with sinceSeq and was told "ok" (replayed) or "gap" (reload). */
  replay(verdict: "ok" | "gap"): void;
}

/** What the permission broker reports about requests sent to clients. */
export interface PermissionMetrics {
  asked(tool: string): void;
  /** A request ended: its decision (allow, deny, expired, cancelled) and how long it waited. */
  settled(decision: string, seconds: number): void;
}

/** Read at scrape time, so the hot path only bumps plain numbers. */
export interface MetricSources {
  sessions(): { loaded: number; running: number };
  /** Sessions with at least one permission request waiting for an answer, and the requests. */
  permissionsPending(): { sessions: number; requests: number };
  transport(): {
    connections: number;
    authenticated: number;
    opened: number;
    eventsSent: number;
    bytesSent: number;
    queuedBytes: number;
    peakQueuedBytes: number;
    slowConsumerCloses: number;
    mergedDeltas: number;
  };
}

const NO_SOURCES: MetricSources = {
  sessions: () => ({ loaded: 0, running: 0 }),
  permissionsPending: () => ({ sessions: 0, requests: 0 }),
  transport: () => ({
    connections: 0,
    authenticated: 0,
    opened: 0,
    eventsSent: 0,
    bytesSent: 0,
    queuedBytes: 0,
    peakQueuedBytes: 0,
    slowConsumerCloses: 0,
    mergedDeltas: 0,
  }),
};

const MAX_TOOL_LABELS = 50;

/** A counter whose value lives elsewhere (a plain number the transport bumps). */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * The server's Prometheus registry: its own counters (one registry per server, so several servers
 * in one process, as in the tests, do not mix), gauges read from the services when scraped, and
 * prom-client's process and Node.js metrics.
 */
export class ServerMetrics implements TurnMetrics, PermissionMetrics {
  readonly registry = new Registry();
  private sources: MetricSources = NO_SOURCES;
  private readonly turns: Counter<"outcome">;
  private readonly turnSeconds: Histogram;
  private readonly llmErrors: Counter;
  private readonly replays: Counter<"verdict">;
  private readonly permissionRequests: Counter<"tool">;
  private readonly permissionSeconds: Histogram<"decision">;
  private readonly toolNames = new Set<string>();

  constructor(versions: { version: string; piVersion: string }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "pi_server_info",
      help: "The running server's version and the pi SDK version (always 1)",
      labelNames: ["version", "pi_version"],
      registers,
    }).set({ version: versions.version, pi_version: versions.piVersion }, 1);

    const src = (): MetricSources => this.sources;
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    gauge("pi_server_sessions_loaded", "Sessions loaded in memory", () => src().sessions().loaded);
    gauge("pi_server_sessions_running", "Sessions running a turn", () => src().sessions().running);
    gauge(
      "pi_server_sessions_waiting_for_approval",
      "Sessions with a permission request waiting for an answer",
      () => src().permissionsPending().sessions,
    );
    gauge(
      "pi_server_permission_requests_pending",
      "Permission requests waiting for an answer",
      () => src().permissionsPending().requests,
    );
    gauge("pi_server_connections", "Open /rpc WebSocket connections", () => src().transport().connections);
    gauge(
      "pi_server_connections_authenticated",
      "Open /rpc connections that completed hello",
      () => src().transport().authenticated,
    );
    gauge(
      "pi_server_send_queue_bytes",
      "Bytes waiting in the send queues of all connections (on top of socket buffers)",
      () => src().transport().queuedBytes,
    );
    gauge(
      "pi_server_send_queue_peak_bytes",
      "Largest send queue any connection has had since start",
      () => src().transport().peakQueuedBytes,
    );
    mirroredCounter(
      this.registry,
      "pi_server_connections_opened_total",
      "/rpc WebSocket connections accepted",
      () => src().transport().opened,
    );
    mirroredCounter(
      this.registry,
      "pi_server_events_sent_total",
      "Session events queued to clients (replays included; merged deltas count once each)",
      () => src().transport().eventsSent,
    );
    mirroredCounter(
      this.registry,
      "pi_server_sent_bytes_total",
      "Bytes written to /rpc sockets (WebSocket frames, before TLS)",
      () => src().transport().bytesSent,
    );
    mirroredCounter(
      this.registry,
      "pi_server_slow_consumer_closes_total",
      "Connections closed (4409) because their send queue passed limits.sendQueueBytes",
      () => src().transport().slowConsumerCloses,
    );
    mirroredCounter(
      this.registry,
      "pi_server_merged_deltas_total",
      "Delta events folded into a queued delta because the client was behind",
      () => src().transport().mergedDeltas,
    );

    this.turns = new Counter({
      name: "pi_server_turns_total",
      help: "Agent turns (one prompt until agent_end) by outcome: ok, error, aborted",
      labelNames: ["outcome"],
      registers,
    });
    for (const outcome of ["ok", "error", "aborted"]) this.turns.inc({ outcome }, 0);
    this.turnSeconds = new Histogram({
      name: "pi_server_turn_duration_seconds",
      help: "How long agent turns ran",
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.llmErrors = new Counter({
      name: "pi_server_llm_errors_total",
      help: "Turns that ended on an error from the model provider",
      registers,
    });
    this.replays = new Counter({
      name: "pi_server_replays_total",
      help: "Attaches with sinceSeq by verdict: ok (missed events replayed) or gap (client reloads)",
      labelNames: ["verdict"],
      registers,
    });
    for (const verdict of ["ok", "gap"]) this.replays.inc({ verdict }, 0);
    this.permissionRequests = new Counter({
      name: "pi_server_permission_requests_total",
      help: "Permission requests sent to clients, by tool",
      labelNames: ["tool"],
      registers,
    });
    this.permissionSeconds = new Histogram({
      name: "pi_server_permission_answer_seconds",
      help: "How long permission requests waited, by decision (allow, deny, expired, cancelled)",
      labelNames: ["decision"],
      buckets: [1, 5, 15, 30, 60, 300, 900, 3600],
      registers,
    });
  }

  /** Connects the gauges to the running services (they exist only after the metrics do). */
  attach(sources: Partial<MetricSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  turnEnded(seconds: number, outcome: "ok" | "error" | "aborted"): void {
    this.turns.inc({ outcome });
    this.turnSeconds.observe(seconds);
    if (outcome === "error") this.llmErrors.inc();
  }

  replay(verdict: "ok" | "gap"): void {
    this.replays.inc({ verdict });
  }

  asked(tool: string): void {
    // Clients name their native tools: past a few dozen names, a new one is counted as "other".
    if (!this.toolNames.has(tool)) {
      if (this.toolNames.size >= MAX_TOOL_LABELS) tool = "other";
      else this.toolNames.add(tool);
    }
    this.permissionRequests.inc({ tool });
  }

  settled(decision: string, seconds: number): void {
    this.permissionSeconds.observe({ decision }, seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
