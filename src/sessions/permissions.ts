import { createHash, randomBytes } from "node:crypto";
import { homedir, userInfo } from "node:os";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import {
  addRule,
  listRules,
  removeRule,
  type NewRule,
  type RuleAdminDeps,
  type RuleView,
} from "../policy/admin.js";
import { evaluate, type Verdict } from "../policy/evaluate.js";
import { ProtocolError } from "../protocol/errors.js";
import { readReposFile } from "../repos/repos.js";
import type { SessionEvent } from "../protocol/events.js";
import type {
  AuditEntry,
  BudgetInfo,
  ClippedField,
  PermissionOption,
  PermissionOutcome,
  PermissionRequest,
  ToolCallDecision,
} from "../protocol/permissions.js";
import type { AuditLog, AuditRecord } from "../store/audit.js";
import {
  permissionTimeoutMs,
  securityProfile,
  type ServerConfig,
  unanswerablePermissions,
} from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import type { PermissionRecord, PermissionRequestsStore } from "../store/permission-requests.js";
import type { RulesStore } from "../store/rules.js";
import type { SessionRecord } from "../store/sessions-index.js";
import type { OutboundEvent, SessionPermissions } from "./live-session.js";
import { deniedReason, MAX_ANSWER_MESSAGE, rememberAnswer, TURN_RULE_NOTE } from "./permission-answers.js";
import { envFileNames, isSecretEnvName } from "../runtime/env.js";
import type { PermissionMetrics } from "../metrics/metrics.js";

export interface PermissionDeps {
  rules: RulesStore;
  audit: AuditLog;
  requests: PermissionRequestsStore;
  sessions: { get(id: string): SessionRecord | undefined };
  paths: DataPaths;
  config: () => ServerConfig;
  log: Logger;
  metrics?: PermissionMetrics;
  /** A request now waits for an answer (also one waiting again after a restart): devices are told. */
  onAsk?: (request: PermissionRequest) => void;
}

/** What the gate needs of a session. */
export interface GateSession {
  id: string;
  /** The repo id: rules of scope "workspace" for it apply. */
  workspace: string | null;
  worktree: string;
  emit(ev: SessionEvent): OutboundEvent | undefined;
  /** Whether an attached client said it answers permission requests. */
  canAsk(): boolean;
}

export interface ToolCall {
  toolCallId: string;
  tool: string;
  input: Record<string, unknown>;
}

export type GateResult = { block: true; reason: string } | undefined;

interface Outcome {
  decision: PermissionOutcome;
  by: string;
  rules: RuleView[];
  /** The user's words with a denial, for the model. */
  message?: string;
}

/** How often answers recorded by another process (the CLI) are looked for while a call waits. */
const EXTERNAL_POLL_MS = 500;

function isOption(d: PermissionOutcome): d is PermissionOption {
  return d !== "expired" && d !== "cancelled";
}

interface Waiting {
  request: PermissionRequest;
  /** The arguments as the tool will get them, for permission.get. */
  fullInput: unknown;
  frame: OutboundEvent | undefined;
  session: GateSession;
  verdict: Verdict;
  settle(outcome: Outcome): void;
  /** Stops the timer and the abort listener without answering: the call stays waiting in state.db. */
  release(): void;
}

const OPTIONS: PermissionOption[] = [
  "allow_once",
  "allow_turn",
  "allow_session",
  "allow_always",
  "deny_once",
  "deny_always",
];
const OUTCOMES: PermissionOutcome[] = [...OPTIONS, "expired", "cancelled"];
const MAX_INPUT_STRING = 16 * 1024;
const RESOLVED_KEPT_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * Shortens long strings for the request card and records each one (where, how long, its hash), so
 * an approver always knows there is more and can fetch the whole text with permission.get.
 */
function clipInput(value: unknown, clipped: ClippedField[], path = ""): unknown {
  if (typeof value === "string") {
    if (value.length <= MAX_INPUT_STRING) return value;
    clipped.push({
      path: path || "/",
      length: value.length,
      sha256: createHash("sha256").update(value).digest("hex"),
    });
    return `${value.slice(0, MAX_INPUT_STRING)}… [${value.length - MAX_INPUT_STRING} more characters; permission.get returns all]`;
  }
  const key = (k: string | number): string => `${path}/${String(k).replace(/~/g, "~0").replace(/\//g, "~1")}`;
  if (Array.isArray(value)) return value.map((v, i) => clipInput(v, clipped, key(i)));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clipInput(v, clipped, key(k))]));
  return value;
}

function currentUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

function minutes(ms: number): string {
  const m = ms / 60_000;
  return m >= 1
    ? `${Math.round(m * 10) / 10} minute${m === 1 ? "" : "s"}`
    : `${Math.round(ms / 1000)} seconds`;
}

/**
 * Every tool call of every session passes `gate()`: the policy decides, or a permission request goes
 * to every attached client and the call waits for the first answer, expiry, abort or shutdown.
 */
export class PermissionBroker {
  private readonly waiting = new Map<string, Waiting>();
  private lastConfig: ServerConfig = {};

  /**
   * Requests a previous process left waiting (a restart, clean or not): still pending in state.db,
   * they wait again once their session is loaded and its turn resumes at the waiting call.
   */
  private readonly dormant = new Map<string, PermissionRecord>();
  /** Sessions whose waiting calls were frozen for a shutdown: nothing of them may go on in this process. */
  private readonly suspended = new Set<string>();
  /** Rules allow_turn stored, by session: removed when the session's run ends. */
  private readonly turnRules = new Map<string, string[]>();
  private poll: NodeJS.Timeout | undefined;

  constructor(private readonly deps: PermissionDeps) {
    deps.requests.prune(Date.now() - RESOLVED_KEPT_MS);
    for (const r of deps.requests.pending()) this.dormant.set(r.id, r);
    // The runs those rules were for ended with the last process.
    for (const r of deps.rules.list()) {
      if (r.note?.startsWith(TURN_RULE_NOTE)) deps.rules.remove(r.id);
    }
  }

  private get adminDeps(): RuleAdminDeps {
    return { rules: this.deps.rules, sessions: this.deps.sessions };
  }

  private config(): ServerConfig {
    try {
      this.lastConfig = this.deps.config();
    } catch (err) {
      this.deps.log.warn({ err }, "config.json could not be read; using the last good one");
    }
    return this.lastConfig;
  }

  private record(
    call: { sessionId: string | null; toolCallId: string | null; tool: string; summary: string },
    d: Pick<AuditRecord, "layer" | "decision" | "by" | "reason" | "requestId"> & { ruleId?: string | null },
  ): void {
    try {
      this.deps.audit.append({ ...call, ruleId: null, ...d });
    } catch (err) {
      this.deps.log.error({ err }, "could not write the audit log");
    }
  }

  /** The registered repositories' paths: the policy treats them as the user's files, never scratch. */
  private repoPaths(): string[] {
    try {
      return readReposFile(this.deps.paths.repos)
        .map((r) => r.path)
        .filter((p) => p !== "");
    } catch (err) {
      this.deps.log.warn({ err }, "repos.json could not be read; the policy knows no registered repos");
      return [];
    }
  }

  private verdict(session: GateSession, call: ToolCall): Verdict {
    const config = this.config();
    const secrets = new Set(envFileNames(this.deps.paths.env));
    const user = currentUser();
    return evaluate(call.tool, call.input, {
      cwd: session.worktree,
      worktree: session.worktree,
      dataDir: this.deps.paths.root,
      home: homedir(),
      ...(user && { user }),
      isSecretName: (name) => isSecretEnvName(name, secrets),
      repos: this.repoPaths(),
      profile: securityProfile(config),
      rules: this.deps.rules.applicable(session.id, session.workspace),
    });
  }

  async gate(
    session: GateSession,
    call: ToolCall,
    signal: AbortSignal | undefined,
    resumed?: PermissionRecord,
  ): Promise<GateResult> {
    // Frozen for shutdown: the call must neither run nor be answered; the next process resumes it.
    if (this.suspended.has(session.id)) return new Promise<GateResult>(() => undefined);
    const base = { sessionId: session.id, toolCallId: call.toolCallId, tool: call.tool };
    let verdict: Verdict;
    try {
      verdict = this.verdict(session, call);
    } catch (err) {
      this.deps.log.error({ err, sessionId: session.id, tool: call.tool }, "policy evaluation failed");
      const reason = `the permission policy failed: ${(err as Error).message}`;
      this.record(
        { ...base, summary: call.tool },
        { layer: "error", decision: "deny", by: "policy", reason, requestId: null },
      );
      return { block: true, reason: `Blocked: ${reason}` };
    }
    const audited = { ...base, summary: verdict.summary };
    this.record(audited, {
      layer: verdict.layer,
      ruleId: verdict.ruleId,
      decision: verdict.decision,
      by: "policy",
      reason: verdict.reason,
      requestId: null,
    });
    if (verdict.decision === "allow") return undefined;
    if (verdict.decision === "deny") {
      const why =
        verdict.layer === "builtin"
          ? `Blocked by pi-server's built-in policy: ${verdict.reason}. This cannot be allowed by any rule; do not try to achieve it another way.`
          : `Blocked by permission rule ${verdict.ruleId}: ${verdict.summary}`;
      return { block: true, reason: why };
    }
    if (signal?.aborted) return { block: true, reason: "The turn was aborted; the tool call did not run." };
    // A resumed request waits for the clients that attach after the restart.
    if (!resumed && !session.canAsk() && unanswerablePermissions(this.lastConfig) === "deny") {
      // Waiting would stall the turn for timeoutMs with nobody able to answer.
      const reason = "no attached client can answer permission requests";
      this.record(audited, { layer: "cancel", decision: "deny", by: "policy", reason, requestId: null });
      return {
        block: true,
        reason: `Not run: pi-server would ask the user first (${verdict.reason}), but ${reason}. Allow it with a rule (pi-server rules add allow ${call.tool} …) or answer from a client that shows permission requests.`,
      };
    }
    const { outcome, request } = await this.ask(session, call, verdict, signal, resumed);
    const allowed = outcome.decision.startsWith("allow_");
    const layer =
      outcome.decision === "expired" ? "timeout" : outcome.decision === "cancelled" ? "cancel" : "user";
    this.record(audited, {
      layer,
      decision: allowed ? "allow" : "deny",
      by: outcome.by,
      reason: outcome.decision,
      requestId: request.id,
    });
    if (allowed) return undefined;
    if (outcome.decision === "expired")
      return {
        block: true,
        reason: `Nobody answered the permission request within ${minutes(request.expiresAt - request.createdAt)}; the tool call was denied.`,
      };
    if (outcome.decision === "cancelled")
      return {
        block: true,
        reason: `The permission request was cancelled (${outcome.by}); the tool call did not run.`,
      };
    return { block: true, reason: deniedReason(outcome.by, verdict.summary, outcome.message) };
  }

  private async ask(
    session: GateSession,
    call: ToolCall,
    verdict: Verdict,
    signal: AbortSignal | undefined,
    resumed: PermissionRecord | undefined,
    extra: Partial<Pick<PermissionRequest, "kind" | "budget" | "options">> = {},
  ): Promise<{ outcome: Outcome; request: PermissionRequest }> {
    const now = Date.now();
    const timeout = permissionTimeoutMs(this.lastConfig);
    const clipped: ClippedField[] = [];
    const input = clipInput(call.input, clipped);
    const request: PermissionRequest = resumed
      ? {
          id: resumed.id,
          sessionId: session.id,
          toolCallId: call.toolCallId,
          tool: call.tool,
          input,
          ...(clipped.length > 0 ? { clipped } : {}),
          summary: resumed.summary,
          reason: resumed.reason,
          createdAt: resumed.createdAt,
          expiresAt: resumed.expiresAt,
          options: resumed.options.filter((o): o is PermissionOption =>
            OPTIONS.includes(o as PermissionOption),
          ),
        }
      : {
          id: `p_${randomBytes(8).toString("hex")}`,
          sessionId: session.id,
          toolCallId: call.toolCallId,
          tool: call.tool,
          input,
          ...(clipped.length > 0 ? { clipped } : {}),
          summary: verdict.summary,
          reason: verdict.reason,
          createdAt: now,
          expiresAt: now + timeout,
          options: [...OPTIONS],
          kind: "tool",
          ...extra,
        };
    if (!resumed) this.deps.requests.insert(request);
    if (!resumed) this.deps.metrics?.asked(call.tool);
    this.deps.log.info(
      { sessionId: session.id, requestId: request.id, tool: call.tool },
      "permission requested",
    );
    const outcome = await new Promise<Outcome>((resolve) => {
      const onAbort = (): void => {
        this.settle(request.id, { decision: "cancelled", by: "abort", rules: [] });
      };
      const timer = setTimeout(
        () => this.settle(request.id, { decision: "expired", by: "timeout", rules: [] }),
        Math.max(0, request.expiresAt - now),
      );
      timer.unref();
      const waiting: Waiting = {
        request,
        fullInput: call.input,
        frame: undefined,
        session,
        verdict,
        settle: (outcome) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(outcome);
        },
        release: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      this.waiting.set(request.id, waiting);
      this.watchExternalAnswers();
      signal?.addEventListener("abort", onAbort, { once: true });
      const { sessionId: _omit, ...payload } = request;
      waiting.frame = session.emit({ type: "permission_request", payload });
      if (!waiting.frame) this.settle(request.id, { decision: "cancelled", by: "shutdown", rules: [] });
      else this.deps.onAsk?.(request);
    });
    return { outcome, request };
  }

  /**
   * A question about spending, not about a tool call: the same request, events, expiry and audit
   * as a tool call's, answered continue (allow_once) or stop (deny_once). "unanswerable" when no
   * attached client can answer and the config says not to wait.
   */
  async askBudget(
    session: GateSession,
    q: { id: string; summary: string; reason: string; budget: BudgetInfo },
    signal: AbortSignal | undefined,
  ): Promise<PermissionOutcome | "unanswerable"> {
    const call: ToolCall = { toolCallId: q.id, tool: "budget", input: { ...q.budget } };
    const audited = { sessionId: session.id, toolCallId: q.id, tool: "budget", summary: q.summary };
    const config = this.config();
    if (signal?.aborted) return "cancelled";
    if (!session.canAsk() && unanswerablePermissions(config) === "deny") {
      const reason = "over budget, and no attached client can answer permission requests";
      this.record(audited, { layer: "cancel", decision: "deny", by: "policy", reason, requestId: null });
      return "unanswerable";
    }
    const verdict: Verdict = {
      decision: "ask",
      layer: "profile",
      ruleId: null,
      reason: q.reason,
      summary: q.summary,
      remember: [],
    };
    const options: PermissionOption[] = ["allow_once", "deny_once"];
    const { outcome, request } = await this.ask(session, call, verdict, signal, undefined, {
      kind: "budget",
      budget: q.budget,
      options,
    });
    const layer =
      outcome.decision === "expired" ? "timeout" : outcome.decision === "cancelled" ? "cancel" : "user";
    this.record(audited, {
      layer,
      decision: outcome.decision === "allow_once" ? "allow" : "deny",
      by: outcome.by,
      reason: outcome.decision,
      requestId: request.id,
    });
    return outcome.decision;
  }

  /**
   * Ends a waiting request (expiry, abort, shutdown); false when it was no longer waiting. state.db
   * decides who was first: when another process (the CLI) answered already, that answer is the one.
   */
  private settle(id: string, outcome: Outcome): boolean {
    if (!this.waiting.has(id)) return false;
    if (!this.claim(id, outcome)) {
      this.adoptExternalAnswers();
      return false;
    }
    this.finish(id, outcome);
    return true;
  }

  /** Records the outcome unless the request was already answered in state.db. */
  private claim(id: string, outcome: Outcome): boolean {
    try {
      return this.deps.requests.resolve(id, outcome.decision, outcome.by, Date.now(), outcome.message);
    } catch (err) {
      // The waiting call must end even when state.db cannot record it (e.g. closing).
      this.deps.log.error({ err, requestId: id }, "could not record the permission outcome");
      return true;
    }
  }

  private finish(id: string, outcome: Outcome): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    w.release();
    this.deps.log.info(
      { sessionId: w.session.id, requestId: id, decision: outcome.decision, by: outcome.by },
      "permission answered",
    );
    this.deps.metrics?.settled(outcome.decision, (Date.now() - w.request.createdAt) / 1000);
    w.session.emit({
      type: "permission_resolved",
      payload: {
        id,
        decision: outcome.decision,
        by: outcome.by,
        ...(outcome.rules.length > 0 && { rules: outcome.rules }),
        ...(outcome.message !== undefined && { message: outcome.message }),
      },
    });
    w.settle(outcome);
  }

  /** Answers recorded in state.db by another process (the CLI) end the calls waiting for them. */
  private adoptExternalAnswers(): void {
    for (const [id, w] of [...this.waiting]) {
      let r: PermissionRecord | undefined;
      try {
        r = this.deps.requests.get(id);
      } catch (err) {
        this.deps.log.warn({ err, requestId: id }, "could not read a permission request");
        continue;
      }
      if (!r || r.status !== "resolved" || !r.decision) continue;
      const decision = r.decision as PermissionOutcome;
      const by = r.resolvedBy ?? "unknown";
      let rules: RuleView[] = [];
      if (isOption(decision)) {
        try {
          rules = this.remember(w, decision, by);
        } catch (err) {
          this.deps.log.error({ err, requestId: id }, "could not store the rules of an answer");
        }
      }
      this.finish(id, { decision, by, rules, ...(r.message !== null && { message: r.message }) });
    }
    if (this.waiting.size === 0 && this.poll) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
  }

  private watchExternalAnswers(): void {
    if (this.poll) return;
    this.poll = setInterval(() => this.adoptExternalAnswers(), EXTERNAL_POLL_MS);
    this.poll.unref();
  }

  private remember(w: Waiting, decision: PermissionOption, by: string): RuleView[] {
    const rules = rememberAnswer(
      this.adminDeps,
      {
        requestId: w.request.id,
        sessionId: w.session.id,
        workspace: w.session.workspace,
        verdict: w.verdict,
      },
      decision,
      by,
    );
    if (decision === "allow_turn") {
      const ids = this.turnRules.get(w.session.id) ?? [];
      this.turnRules.set(w.session.id, [...ids, ...rules.map((r) => r.id)]);
    }
    return rules;
  }

  /**
   * An answer, from a client, a notification or the CLI: exactly one wins (state.db decides, across
   * processes too); anything after it is not_found. `message` (deny only) is passed to the model.
   */
  respond(
    id: string,
    decision: PermissionOption,
    by: string,
    message?: string,
  ): { id: string; decision: PermissionOption; rules: RuleView[] } {
    const w = this.waiting.get(id);
    if (!w && this.dormant.has(id))
      throw new ProtocolError(
        "conflict",
        `the session of ${id} is still loading after a restart; answer again in a moment`,
      );
    if (!w)
      throw new ProtocolError(
        "not_found",
        `no pending permission request ${id}; it was answered, expired or cancelled`,
      );
    if (!w.request.options.includes(decision))
      throw new ProtocolError("invalid_request", `${decision} is not an option of ${id}`, {
        options: w.request.options,
      });
    if (message !== undefined && !decision.startsWith("deny_"))
      throw new ProtocolError("invalid_request", "message goes with deny_once or deny_always only");
    if (message !== undefined && message.length > MAX_ANSWER_MESSAGE)
      throw new ProtocolError("invalid_request", `message is longer than ${MAX_ANSWER_MESSAGE} characters`);
    const outcome: Outcome = { decision, by, rules: [], ...(message !== undefined && { message }) };
    if (!this.claim(id, outcome)) {
      this.adoptExternalAnswers();
      throw new ProtocolError("not_found", `permission request ${id} was answered elsewhere first`);
    }
    outcome.rules = this.remember(w, decision, by);
    this.finish(id, outcome);
    return { id, decision, rules: outcome.rules };
  }

  /** The run of a session ended: what allow_turn allowed is asked about again. */
  endTurn(sessionId: string): void {
    const ids = this.turnRules.get(sessionId);
    if (!ids) return;
    this.turnRules.delete(sessionId);
    for (const id of ids) {
      try {
        const removed = this.deps.rules.remove(id);
        if (removed) this.deps.audit.ruleChanged(removed, "removed", "turn end");
      } catch (err) {
        this.deps.log.warn({ err, ruleId: id }, "could not remove a rule of the turn");
      }
    }
  }

  /** A waiting request and the tool's whole arguments; not_found once it is settled. */
  get(id: string): { request: PermissionRequest; input: unknown } {
    const w = this.waiting.get(id);
    if (!w) throw new ProtocolError("not_found", `no pending permission request ${id}`);
    return { request: w.request, input: w.fullInput };
  }

  /** For metrics: requests waiting, and the sessions they hold up. */
  pendingCounts(): { sessions: number; requests: number } {
    const sessions = new Set<string>();
    for (const w of this.waiting.values()) sessions.add(w.session.id);
    // Left by the last process, waiting for their session to load again.
    for (const r of this.dormant.values()) sessions.add(r.sessionId);
    return { sessions: sessions.size, requests: this.waiting.size + this.dormant.size };
  }

  list(sessionId?: string): PermissionRequest[] {
    const waiting = [...this.waiting.values()].map((w) => w.request);
    const dormant = [...this.dormant.values()].map((r): PermissionRequest => ({
      id: r.id,
      sessionId: r.sessionId,
      toolCallId: r.toolCallId,
      tool: r.tool,
      input: r.input,
      summary: r.summary,
      reason: r.reason,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
      options: r.options.filter((o): o is PermissionOption => OPTIONS.includes(o as PermissionOption)),
    }));
    return [...waiting, ...dormant].filter((r) => sessionId === undefined || r.sessionId === sessionId);
  }

  /** The permission_request events of a session still waiting, for a client that attaches now. */
  private pendingFrames(sessionId: string): OutboundEvent[] {
    const frames: OutboundEvent[] = [];
    for (const w of this.waiting.values()) if (w.session.id === sessionId && w.frame) frames.push(w.frame);
    return frames;
  }

  cancelSession(sessionId: string, by: string): void {
    for (const [id, w] of [...this.waiting]) {
      if (w.session.id === sessionId) this.settle(id, { decision: "cancelled", by, rules: [] });
    }
  }

  /** Whether a call of the session waits for an answer (or will, once the session is loaded again). */
  hasPending(sessionId: string): boolean {
    for (const w of this.waiting.values()) if (w.session.id === sessionId) return true;
    for (const r of this.dormant.values()) if (r.sessionId === sessionId) return true;
    return false;
  }

  /** Sessions whose turn a previous process left waiting for an answer. */
  dormantSessions(): string[] {
    return [...new Set([...this.dormant.values()].map((r) => r.sessionId))];
  }

  dormantFor(sessionId: string): PermissionRecord[] {
    return [...this.dormant.values()].filter((r) => r.sessionId === sessionId);
  }

  /** Dormant requests that cannot wait again (their turn cannot resume): cancelled, and audited. */
  cancelDormant(sessionId: string, reason: string, only?: ReadonlySet<string>): void {
    for (const r of this.dormantFor(sessionId)) {
      if (only && !only.has(r.id)) continue;
      this.dormant.delete(r.id);
      try {
        if (!this.deps.requests.resolve(r.id, "cancelled", "restart")) continue;
      } catch (err) {
        this.deps.log.error({ err, requestId: r.id }, "could not record the permission outcome");
      }
      this.record(
        { sessionId: r.sessionId, toolCallId: r.toolCallId, tool: r.tool, summary: r.summary },
        { layer: "cancel", decision: "deny", by: "restart", reason, requestId: r.id },
      );
    }
  }

  /**
   * The gate for a call of a turn resumed after a restart. The request that waited for it waits
   * again (same id, same expiry), but only if it shows exactly this call; an answer given before
   * the restart stands; any other call goes through the policy as it would have.
   */
  async gateResumed(
    session: GateSession,
    call: ToolCall,
    signal: AbortSignal | undefined,
    since: number,
  ): Promise<GateResult> {
    const shown = JSON.parse(JSON.stringify(clipInput(call.input, []) ?? null)) as unknown;
    for (const r of this.dormantFor(session.id)) {
      if (r.toolCallId !== call.toolCallId || r.tool !== call.tool) continue;
      if (!isDeepStrictEqual(r.input, shown)) {
        this.cancelDormant(session.id, "the resumed call is not the one the request showed", new Set([r.id]));
        continue;
      }
      this.dormant.delete(r.id);
      return this.gate(session, call, signal, r);
    }
    const earlier = this.deps.requests.answered(session.id, call.toolCallId, call.tool, since);
    if (earlier?.decision?.startsWith("allow_")) return undefined;
    if (earlier)
      return {
        block: true,
        reason: `The user (${earlier.resolvedBy ?? "unknown"}) denied this tool call: ${earlier.summary}`,
      };
    return this.gate(session, call, signal);
  }

  /**
   * Freezes the session's waiting calls for a shutdown: no answer is recorded, the calls never run
   * in this process, and state.db keeps them pending for the next one. False when none was waiting.
   */
  suspendSession(sessionId: string): boolean {
    let any = false;
    for (const [id, w] of [...this.waiting]) {
      if (w.session.id !== sessionId) continue;
      w.release();
      this.waiting.delete(id);
      any = true;
    }
    if (any) this.suspended.add(sessionId);
    return any;
  }

  forSession(sessionId: string): SessionPermissions {
    return {
      pendingFrames: () => this.pendingFrames(sessionId),
      cancel: (by) => this.cancelSession(sessionId, by),
      suspend: () => this.suspendSession(sessionId),
      endTurn: () => this.endTurn(sessionId),
    };
  }

  /** A deleted session's own rules and request history go with it; the audit stays. */
  forgetSession(sessionId: string): void {
    this.cancelSession(sessionId, "deleted");
    for (const r of this.dormantFor(sessionId)) this.dormant.delete(r.id);
    this.deps.rules.removeForSession(sessionId);
    this.deps.requests.removeForSession(sessionId);
  }

  listRules(filter: { sessionId?: string }): RuleView[] {
    return listRules(this.adminDeps, filter);
  }

  addRule(input: NewRule, by: string): RuleView {
    const rule = addRule(this.adminDeps, input, by);
    this.deps.audit.ruleChanged(rule, "added", by);
    return rule;
  }

  removeRule(id: string, by: string): RuleView {
    const rule = removeRule(this.adminDeps, id);
    this.deps.audit.ruleChanged(rule, "removed", by);
    return rule;
  }

  /**
   * How each of these tool calls of a session was decided, from the audit log: the answer and who
   * gave it (with a denial's message while state.db still holds the request), or the rule or
   * policy that decided without asking. Calls with no entry are left out.
   */
  decisions(sessionId: string, toolCallIds: string[]): Record<string, ToolCallDecision> {
    const out: Record<string, ToolCallDecision> = {};
    let entries: AuditRecord[];
    try {
      entries = this.deps.audit.forToolCalls(sessionId, toolCallIds);
    } catch (err) {
      this.deps.log.error({ err, sessionId }, "could not read the audit log");
      return out;
    }
    for (const e of entries) {
      if (e.toolCallId === null || e.decision === "ask") continue;
      const asked = e.layer === "user" || e.layer === "timeout" || e.layer === "cancel";
      const answer =
        asked && OUTCOMES.includes(e.reason as PermissionOutcome)
          ? (e.reason as PermissionOutcome)
          : undefined;
      const message = answer && e.requestId ? this.deps.requests.get(e.requestId)?.message : undefined;
      out[e.toolCallId] = {
        decision: e.decision,
        outcome: answer ?? (e.layer === "cancel" ? "cancelled" : "policy"),
        by: e.by,
        layer: e.layer,
        ruleId: e.ruleId,
        reason: answer ? (message ?? null) : e.reason,
        at: e.at,
      };
    }
    return out;
  }

  auditList(opts: { sessionId?: string; limit: number; before?: number; createdBy?: string }): {
    entries: AuditEntry[];
    nextBefore: number | null;
  } {
    const entries = this.deps.audit.list(opts);
    const last = entries.at(-1);
    return { entries, nextBefore: entries.length === opts.limit && last ? last.id : null };
  }
}
