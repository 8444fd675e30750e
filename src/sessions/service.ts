import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { ProtocolError } from "../protocol/errors.js";
import type { ParamsOf, ResultOf } from "../protocol/methods.js";
import type { ModelInfo, SessionInfo } from "../protocol/types.js";
import { deleteBranch, git, type GitExtra } from "../repos/git.js";
import {
  createSessionRepo,
  deleteSessionBranch,
  exportsPath,
  mirrorPath,
  syncMirror,
} from "../repos/session-repo.js";
import type { RuntimeLimits, ToolRuntime } from "../runtime/index.js";
import type { ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import type { SessionRecord, SessionsIndex } from "../store/sessions-index.js";
import type { CheckpointStore } from "../store/checkpoints.js";
import { takeCheckpoint } from "./checkpoints.js";
import type { SessionSeed } from "./session-seed.js";
import { gateExtension } from "./gate.js";
import { LiveSession, type TurnEnd } from "./live-session.js";
import type { GateSession, PermissionBroker } from "./permissions.js";
import { planResume, type ResumePlan, runResumedCalls } from "./resume-turn.js";
import type { TurnMetrics } from "../metrics/metrics.js";
import type { BudgetSession } from "./budgets.js";
import type { SessionHooks } from "./session-hooks.js";
import { ReplayBudget } from "./replay-ring.js";
import { SessionGit } from "./session-git.js";
import { SessionModels } from "./session-models.js";
import { isLegacyWorktree, SessionRepos } from "./session-repos.js";
import { sessionRuntime } from "./session-runtime.js";
import type * as PiSdk from "@mariozechner/pi-coding-agent";
import { baseTools, openAgentSession } from "./agent-session.js";
import { type PiModel, type PiRuntime, modelKey } from "./pi.js";
import { checkCreateParams, defaultName } from "./create-params.js";
import { commitLeftovers, keepScratchFiles, type Preserved } from "./preserve.js";
import { sessionInfo } from "./views.js";
import type { NativeCalls } from "./native-calls.js";
import { NativeToolHost, nativeToolsExtension } from "./native-tools.js";
import type { SessionSlots } from "./session-slots.js";
import { bindings, judgeSkills } from "./session-skills.js";
import type { SkillMount } from "./skills.js";
import { WorkspaceService } from "../workspaces/service.js";
import type { WorkspaceRecord } from "../store/workspaces.js";

export interface SessionServiceDeps {
  paths: DataPaths;
  pi: PiRuntime;
  index: SessionsIndex;
  config: () => ServerConfig;
  limits: {
    maxSessions: number;
    replayBufferEvents: number;
    replayBufferBytes: number;
    replayTotalBytes: number;
  } & RuntimeLimits;
  log: Logger;
  /** Gates every tool call of every session. */
  permissions: PermissionBroker;
  /** Whether the tool sandbox works on this machine (asked before sandboxed sessions start). */
  sandboxCheck: () => Promise<{ ok: true } | { ok: false; reason: string }>;
  /** The user's git identity, given to the agent's commits. */
  gitIdentity?: { name: string; email: string };
  /** Native tool calls in flight, answered by the connections that offered the tools. */
  nativeCalls: NativeCalls;
  metrics?: TurnMetrics;
  workspaces: WorkspaceService;
  /** Which sessions are in memory; limits.maxSessionsPerWorkspace and maxSessionsGlobal. */
  slots: SessionSlots;
  /** Budgets, usage, search and titles alongside every session. */
  hooks?: SessionHooks;
  /** Where the commits made at the end of turns are listed. */
  checkpoints: CheckpointStore;
}

function newSessionId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(10);
  let id = "";
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

/** Creates, loads, lists and deletes sessions; the only owner of LiveSession objects. */
export class SessionService {
  private readonly live = new Map<string, LiveSession>();
  private readonly loading = new Map<string, Promise<LiveSession>>();
  /** Sessions leaving memory after going idle; a load of one waits for it to be gone. */
  private readonly unloading = new Map<string, Promise<void>>();
  private readonly deleting = new Set<string>();
  private readonly gits = new Map<string, SessionGit>();
  /** Sessions a revert or fork is working on: no turn starts meanwhile. */
  private readonly held = new Map<string, string>();
  private closing = false;
  private readonly replayBudget: ReplayBudget;
  private readonly models: SessionModels;
  private readonly repos: SessionRepos;
  /** Sessions being created, counted against maxSessions before they reach the index. */
  private creating = 0;

  constructor(private readonly deps: SessionServiceDeps) {
    this.replayBudget = new ReplayBudget(deps.limits.replayTotalBytes);
    this.models = new SessionModels(deps);
    this.repos = new SessionRepos(deps.paths, deps.config);
    const interrupted = deps.index.markInterrupted();
    if (interrupted.length > 0)
      deps.log.warn({ sessions: interrupted }, "sessions were running at last shutdown");
    // A turn waiting for an answer goes on (its request is pushed again); the others were lost.
    const resuming = new Set(deps.permissions.dormantSessions());
    for (const id of interrupted)
      if (!resuming.has(id)) deps.hooks?.interrupted(id, "the server stopped during the turn");
  }

  /** For metrics: sessions in memory, and those running a turn. */
  counts(): { loaded: number; running: number } {
    let running = 0;
    for (const s of this.live.values()) if (s.isBusy) running++;
    return { loaded: this.live.size, running };
  }

  list(): SessionInfo[] {
    return this.deps.index.list().map((r) => this.live.get(r.id)?.info() ?? sessionInfo(r));
  }

  availableModels(): { models: ModelInfo[]; modelsError?: string } {
    return this.models.available();
  }

  /** A model that exists and has credentials, or a typed error that says which is missing. */
  findModel(provider: string, modelId: string): PiModel {
    return this.models.find(provider, modelId);
  }

  resolveModel(key: string | undefined): PiModel {
    return this.models.resolve(key);
  }

  /** `createdBy` is the creating principal's token id (kept so that only it, or an admin, may delete). */
  async create(
    params: ParamsOf<"session.create">,
    createdBy: string | null = null,
    seed?: SessionSeed,
  ): Promise<LiveSession> {
    if (this.closing) throw new ProtocolError("conflict", "server is shutting down");
    const max = this.deps.limits.maxSessions;
    if (this.deps.index.count() + this.creating >= max) {
      throw new ProtocolError("limit_exceeded", `at most ${max} sessions; delete one first`, {
        maxSessions: max,
      });
    }
    const workspace = this.deps.workspaces.resolveWorkspace(params);
    const id = newSessionId();
    this.deps.slots.take(id, workspace?.id ?? null);
    this.creating++;
    try {
      return await this.createCounted(params, createdBy, id, workspace, seed);
    } catch (err) {
      this.deps.slots.release(id);
      throw err;
    } finally {
      this.creating--;
    }
  }

  /** Refuses to start tools that would not be sandboxed as configured; says why and how to fix it. */
  private async assertRuntime(workspace: WorkspaceRecord | null = null): Promise<void> {
    if ((workspace?.runtime ?? this.deps.config().runtime ?? "sandbox") !== "sandbox") return;
    const check = await this.deps.sandboxCheck();
    if (!check.ok) {
      throw new ProtocolError(
        "conflict",
        `the agent's tools cannot run: ${check.reason}. Or, knowingly, set "runtime": "host" in ${this.deps.paths.config} (tools then run unsandboxed, as the server's user)`,
      );
    }
  }

  private async createCounted(
    params: ParamsOf<"session.create">,
    createdBy: string | null,
    id: string,
    workspace: WorkspaceRecord | null,
    seed: SessionSeed | undefined,
  ): Promise<LiveSession> {
    const { mode, modelKey: chosenModel } = checkCreateParams(params);
    const model = this.resolveModel(chosenModel ?? workspace?.model ?? undefined);
    const repo = workspace?.repoId ? await this.repos.find(workspace.repoId) : undefined;
    await this.assertRuntime(workspace);

    const dir = join(this.deps.paths.sessions, id);
    const worktree = join(dir, "worktree");
    mkdirSync(dir, { mode: 0o700 });
    const branch = repo ? `pi/${id}` : null;
    try {
      if (repo) {
        const mirror = mirrorPath(this.deps.paths.mirrors, repo.id);
        await this.repos.withLock(repo.path, async () => {
          if (seed?.repo) {
            const runtime = this.runtimeFor({
              worktree,
              repoId: repo.id,
              workspaceId: workspace?.id ?? null,
            });
            const exportsRepo = exportsPath(this.deps.paths.mirrors, repo.id);
            const target = { id, worktree, branch: `pi/${id}`, mirror, exportsRepo, runtime };
            SessionGit.writeState(dir, await seed.repo(target));
            return;
          }
          const base = repo.url
            ? await syncMirror(mirror, repo.url, this.repos.remoteFor(repo.url))
            : await syncMirror(mirror, repo.path);
          await createSessionRepo(mirror, worktree, `pi/${id}`, base);
          SessionGit.writeState(dir, { base });
        });
      } else {
        mkdirSync(worktree, { mode: 0o700 });
        seed?.files?.(worktree);
      }
      await seed?.history?.(join(dir, "session.jsonl"), worktree);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (err instanceof ProtocolError) throw err;
      throw new ProtocolError("conflict", `could not create the worktree: ${(err as Error).message}`);
    }
    const now = Date.now();
    const record: SessionRecord = {
      id,
      name: params.name ?? defaultName(mode, repo?.name, id),
      repoId: repo?.id ?? null,
      worktree,
      branch,
      model: modelKey(model),
      thinkingLevel:
        params.thinkingLevel ?? workspace?.thinkingLevel ?? this.deps.config().defaultThinkingLevel ?? "off",
      piSessionFile: join(dir, "session.jsonl"),
      createdAt: now,
      lastActivity: now,
      status: "idle",
      lastSeq: 0,
      seqReserved: 0,
      createdBy,
      mode,
      systemPrompt: params.systemPrompt ?? null,
      workspaceId: workspace?.id ?? null,
      nameSource: seed?.nameSource ?? (params.name === undefined ? "default" : "user"),
    };
    let live: LiveSession;
    try {
      live = await this.load(record, model);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    record.thinkingLevel = live.agent.thinkingLevel;
    this.deps.index.insert(record);
    this.live.set(id, live);
    this.deps.log.info({ sessionId: id, repoId: record.repoId, model: record.model }, "session created");
    return live;
  }

  /** The loaded session, loading it from its pi file after a restart. */
  async open(id: string): Promise<LiveSession> {
    const existing = this.live.get(id);
    if (existing) return existing;
    const pending = this.loading.get(id);
    if (pending) return pending;
    const record = this.deps.index.get(id);
    if (!record || this.deleting.has(id)) throw new ProtocolError("not_found", `no session ${id}`);
    if (this.closing) throw new ProtocolError("conflict", "server is shutting down");
    this.deps.slots.take(id, WorkspaceService.slotKey(record));
    const promise = (async () => {
      await this.unloading.get(id);
      await this.assertRuntime(this.deps.workspaces.forSession(record));
      if (!existsSync(record.worktree)) {
        throw new ProtocolError("conflict", `the worktree of session ${id} is gone (${record.worktree})`);
      }
      const live = await this.load(record, this.models.forReopen(record));
      this.live.set(id, live);
      return live;
    })()
      .catch((err: unknown) => {
        this.deps.slots.release(id);
        throw err;
      })
      .finally(() => this.loading.delete(id));
    this.loading.set(id, promise);
    return promise;
  }

  private async load(record: SessionRecord, model: PiModel): Promise<LiveSession> {
    // The gate exists before the session it guards; it finds the session once it is built.
    const ref: { live?: LiveSession } = {};
    const gateSession = (): GateSession | undefined => {
      const live = ref.live;
      if (!live) return undefined;
      return {
        id: record.id,
        workspace: record.repoId,
        worktree: record.worktree,
        emit: (ev) => live.emit(ev),
        canAsk: () => live.canAnswerPermissions,
      };
    };
    const gate = gateExtension(this.deps.permissions, gateSession);
    const workspace = this.deps.workspaces.forSession(record);
    const skills = await this.skillsFor(record, workspace);
    const runtime = this.runtimeFor(record, bindings(skills.mounts));
    const nativeApi: { api?: PiSdk.ExtensionAPI } = {};
    const stoppable = (): BudgetSession | undefined => {
      const gated = gateSession();
      const live = ref.live;
      return gated && live && { ...gated, stop: () => void live.abort().catch(() => undefined) };
    };
    const session = await openAgentSession({
      extensions: [nativeToolsExtension(nativeApi), ...(this.deps.hooks?.extensions(stoppable) ?? [])],
      pi: this.deps.pi,
      paths: this.deps.paths,
      record,
      model,
      gate,
      runtime,
      workspacePrompt: workspace?.systemPrompt,
      skillFiles: skills.files,
      skillMounts: skills.mounts,
    });
    const plan = this.resumePlan(record.id, session);
    const sessionGit = this.sessionGit(record);
    const live = new LiveSession(record, session, {
      index: this.deps.index,
      log: this.deps.log,
      replayLimit: this.deps.limits.replayBufferEvents,
      replayBytes: this.deps.limits.replayBufferBytes,
      replayBudget: this.replayBudget,
      findModel: (p, m) => this.findModel(p, m),
      permissions: this.deps.permissions.forSession(record.id),
      runtime,
      metrics: this.deps.metrics,
      // The user's repo sees the session's branch after every turn, moved there by the server.
      afterTurn: sessionGit ? (turn) => this.afterTurn(record.id, sessionGit, turn) : undefined,
      heldBy: () => this.held.get(record.id),
      nativeTools: (frame) =>
        new NativeToolHost(nativeApi, session, baseTools(record), this.deps.nativeCalls, frame),
      resuming: plan !== undefined,
      observe: this.deps.hooks?.observer(record, session, (name) => ref.live?.showTitle(name)),
      onInterrupted: (reason) => this.deps.hooks?.interrupted(record.id, reason),
    });
    ref.live = live;
    if (plan) {
      const broker = this.deps.permissions;
      const target = gateSession()!;
      live.resumeTurn((signal) =>
        runResumedCalls(
          {
            agent: session,
            gate: (call, s) => broker.gateResumed(target, call, s, plan.assistant.timestamp),
            emit: (e) => live.onPiEvent(e),
          },
          plan,
          signal,
        ),
      );
    }
    return live;
  }

  /** The turn a previous process left waiting for an answer, if its history can go on from there. */
  private resumePlan(id: string, session: LiveSession["agent"]): ResumePlan | undefined {
    const dormant = this.deps.permissions.dormantFor(id);
    if (dormant.length === 0) return undefined;
    const plan = planResume(session.messages, dormant);
    const reason = "the server restarted and the turn the request belonged to cannot go on";
    this.deps.permissions.cancelDormant(id, reason, plan ? new Set(plan.stale.map((r) => r.id)) : undefined);
    return plan;
  }

  /**
   * Loads every session a previous process left waiting for a permission answer, so the request is
   * pending again (and re-sent to whoever attaches) and its turn goes on once it is answered.
   */
  async resumeWaiting(): Promise<void> {
    await Promise.all(
      this.deps.permissions.dormantSessions().map(async (id) => {
        try {
          await this.open(id);
        } catch (err) {
          this.deps.log.warn(
            { err, sessionId: id },
            "a session waiting for a permission answer cannot resume",
          );
          this.deps.permissions.cancelDormant(
            id,
            `the session could not be loaded: ${(err as Error).message}`,
          );
        }
      }),
    );
  }

  /** The turn's checkpoint (the next turn waits for it), then the branch export (which it does not). */
  private async afterTurn(sessionId: string, g: SessionGit, turn: TurnEnd): Promise<void> {
    if (this.deps.config().checkpoints?.enabled !== false) {
      await takeCheckpoint(g, this.deps.checkpoints, { sessionId, ...turn }).catch((err: unknown) => {
        this.deps.log.warn({ err, sessionId }, "could not take the turn's checkpoint");
      });
    }
    void this.exportBranch(sessionId, g);
  }

  /** The session's index entry; not_found for none (or one being deleted). */
  record(id: string): SessionRecord {
    const record = this.deps.index.get(id);
    if (!record || this.deleting.has(id)) throw new ProtocolError("not_found", `no session ${id}`);
    return record;
  }

  /** Resolves once the work after the session's last turn (checkpoint, export) is done. */
  async settled(id: string): Promise<void> {
    await this.live.get(id)?.settled();
    await this.gits.get(id)?.settled();
  }

  /** The session when it is in memory. */
  loaded(id: string): LiveSession | undefined {
    return this.live.get(id);
  }

  /** The server's git on the session's own repository; undefined for scratch, chat and legacy sessions. */
  async gitOf(record: SessionRecord): Promise<SessionGit | undefined> {
    if (!record.branch || !record.repoId || isLegacyWorktree(record)) return undefined;
    if (!existsSync(record.worktree)) {
      throw new ProtocolError(
        "conflict",
        `the worktree of session ${record.id} is gone (${record.worktree})`,
      );
    }
    await this.assertRuntime();
    return this.sessionGit(record);
  }

  /**
   * Runs `fn` while the session starts no turn: refused (conflict) while one runs or something else
   * holds it; the last turn's checkpoint and export finish first.
   */
  async hold<T>(id: string, what: string, fn: () => Promise<T>): Promise<T> {
    const record = this.record(id);
    const other = this.held.get(id);
    if (other !== undefined) throw new ProtocolError("conflict", `session ${id} is busy: ${other}`);
    const live = this.live.get(id);
    if (live?.isBusy) {
      throw new ProtocolError("conflict", `a turn of session ${id} is running; ${what} waits until it ends`);
    }
    this.held.set(id, what);
    try {
      await live?.settled();
      await this.gits.get(record.id)?.settled();
      return await fn();
    } finally {
      this.held.delete(id);
    }
  }

  /** A name the user chose: in the index, in pi's history, and to attached clients. */
  rename(id: string, name: string): SessionInfo {
    const record = this.record(id);
    this.deps.index.update(id, { name, nameSource: "user" });
    const live = this.live.get(id);
    if (live) {
      live.rename(name);
      return live.info();
    }
    return sessionInfo({ ...record, name, nameSource: "user" });
  }

  private runtimeFor(
    record: Pick<SessionRecord, "worktree" | "repoId" | "workspaceId">,
    skillMounts?: Array<[string, string]>,
  ) {
    return sessionRuntime({
      paths: this.deps.paths,
      config: this.deps.config(),
      limits: this.deps.limits,
      worktree: record.worktree,
      repoId: record.repoId,
      gitIdentity: this.deps.gitIdentity,
      workspace: this.deps.workspaces.forSession(record),
      skillMounts,
    });
  }

  /**
   * Every skill with whether the workspace gets it (its allowlist; commands present where its tools
   * run). `cwd` is where the check runs: the session's worktree, or an empty directory.
   */
  judgeSkills(workspace: WorkspaceRecord | null, cwd: string) {
    const record = { worktree: cwd, repoId: null, workspaceId: workspace?.id ?? null };
    const sandboxed = (workspace?.runtime ?? this.deps.config().runtime ?? "sandbox") === "sandbox";
    return judgeSkills({
      sdk: this.deps.pi.sdk,
      paths: this.deps.paths,
      allow: workspace?.skills ?? null,
      sandboxed,
      cwd,
      runtimeWith: (mounts) => this.runtimeFor(record, mounts),
    });
  }

  private async skillsFor(
    record: SessionRecord,
    workspace: WorkspaceRecord | null,
  ): Promise<{ files: string[]; mounts: SkillMount[] }> {
    if (record.mode === "chat") return { files: [], mounts: [] };
    const { skills, mounts } = await this.judgeSkills(workspace, record.worktree);
    const left = skills.filter((s) => s.allowed && !s.compatible).map((s) => s.name);
    if (left.length > 0)
      this.deps.log.info(
        { sessionId: record.id, skills: left },
        "skills left out: not compatible with the sandbox",
      );
    return { files: skills.filter((s) => s.allowed && s.compatible).map((s) => s.path), mounts };
  }

  /** Loads a session without attaching to it (session.resume). */
  resume(id: string): Promise<LiveSession> {
    return this.open(id);
  }

  /** Takes idle sessions out of memory; their history and seq are on disk, and open() brings them back. */
  async unloadIdle(idleMs: number): Promise<void> {
    const now = Date.now();
    const idle = [...this.live.values()].filter((s) => s.idleMs(now) >= idleMs);
    await Promise.all(idle.map((s) => this.unload(s.id)));
  }

  private unload(id: string): Promise<void> {
    const live = this.live.get(id);
    if (!live || this.unloading.has(id) || this.closing) return Promise.resolve();
    this.live.delete(id);
    const done = live
      .dispose()
      .catch((err: unknown) => this.deps.log.warn({ err, sessionId: id }, "unloading an idle session failed"))
      .finally(() => {
        this.unloading.delete(id);
        this.deps.slots.release(id);
        this.deps.log.info({ sessionId: id }, "idle session unloaded");
      });
    this.unloading.set(id, done);
    return done;
  }

  /**
   * What session.diff and session.file read a session's worktree with: its runtime (every read of
   * the agent's files and repository happens in there) and the commit it started from (undefined
   * for a scratch or chat directory, which has no repository).
   */
  async worktreeAccess(
    id: string,
  ): Promise<{ worktree: string; runtime: ToolRuntime; base: string | undefined }> {
    const record = this.deps.index.get(id);
    if (!record || this.deleting.has(id)) throw new ProtocolError("not_found", `no session ${id}`);
    if (isLegacyWorktree(record)) {
      throw new ProtocolError(
        "conflict",
        `session ${id} was made by an older pi-server as a linked worktree of your repository; the server reads nothing of it`,
      );
    }
    if (!existsSync(record.worktree)) {
      throw new ProtocolError("conflict", `the worktree of session ${id} is gone (${record.worktree})`);
    }
    await this.assertRuntime(this.deps.workspaces.forSession(record));
    let base: string | undefined;
    if (record.branch) {
      base = SessionGit.readState(dirname(record.piSessionFile))?.base;
      if (!base) throw new ProtocolError("internal", `session ${id} has no recorded base commit`);
    }
    return { worktree: record.worktree, runtime: this.runtimeFor(record), base };
  }

  private async exportBranch(sessionId: string, g: SessionGit): Promise<void> {
    await g.export().catch((err: unknown) => {
      this.deps.log.warn({ err, sessionId }, "could not export the session branch");
    });
  }

  /** The server's git work on a session's own repository (none for scratch and legacy sessions). */
  private sessionGit(record: SessionRecord): SessionGit | undefined {
    if (!record.branch || !record.repoId || isLegacyWorktree(record)) return undefined;
    let g = this.gits.get(record.id);
    if (!g) {
      const repoId = record.repoId;
      g = new SessionGit({
        runtime: this.runtimeFor(record),
        worktree: record.worktree,
        sessionDir: dirname(record.piSessionFile),
        mirror: mirrorPath(this.deps.paths.mirrors, repoId),
        exportsRepo: exportsPath(this.deps.paths.mirrors, repoId),
        userRepo: () => this.repos.userRepoPath(repoId),
        branch: record.branch,
        log: this.deps.log,
      });
      this.gits.set(record.id, g);
    }
    return g;
  }

  /** The credential settings the server's git fetches a clone url with. */
  remoteFor(url: string): GitExtra {
    return this.repos.remoteFor(url);
  }

  async delete(params: ParamsOf<"session.delete">): Promise<Omit<ResultOf<"session.delete">, "deleted">> {
    const record = this.deps.index.get(params.sessionId);
    if (!record || this.deleting.has(record.id)) {
      throw new ProtocolError("not_found", `no session ${params.sessionId}`);
    }
    const force = params.force === true;
    // Without force nothing is lost: changes are kept (preserveChanges), so only asking to delete
    // where they would be kept is refused.
    const keptIn = record.branch ? params.deleteBranch === true : params.deleteHistory === true;
    if (!force && isLegacyWorktree(record) && existsSync(record.worktree)) {
      // Its repository is the user's, and the agent could write its config: the server reads none
      // of it, so it cannot tell what would be lost.
      throw new ProtocolError(
        "conflict",
        `session ${record.id} was made by an older pi-server as a linked worktree of your repository; commit what you want to keep in ${record.worktree}, then delete it with force`,
      );
    }
    if (!force && keptIn && existsSync(record.worktree)) {
      const changes = await this.uncommitted(record);
      if (changes.length > 0) {
        const where = record.branch ? "deleteBranch" : "deleteHistory";
        throw new ProtocolError(
          "conflict",
          `the worktree has ${changes.length} uncommitted change(s) that ${where} would lose; drop ${where} to keep them, or pass force`,
          { changes: changes.slice(0, 50) },
          changes.slice(0, 50).join("\n"),
        );
      }
    }
    this.deleting.add(record.id);
    try {
      return await this.removeSession(record, params, force);
    } finally {
      this.deleting.delete(record.id);
    }
  }

  private async uncommitted(record: SessionRecord): Promise<string[]> {
    if (!record.branch) return readdirSync(record.worktree, { recursive: true }).map(String);
    await this.assertRuntime(this.deps.workspaces.forSession(record));
    const g = this.sessionGit(record);
    if (!g) return [];
    try {
      return await g.changes();
    } catch (err) {
      throw new ProtocolError("conflict", `could not read the worktree's state: ${(err as Error).message}`);
    }
  }

  private async removeSession(
    record: SessionRecord,
    params: ParamsOf<"session.delete">,
    force: boolean,
  ): Promise<Omit<ResultOf<"session.delete">, "deleted">> {
    const loading = this.loading.get(record.id);
    if (loading) await loading.catch(() => undefined);
    // A running turn is aborted; what it did so far is in the history, which is kept by default.
    await this.unloading.get(record.id);
    await this.live.get(record.id)?.dispose({ type: "session_deleted", payload: {} });
    this.live.delete(record.id);
    this.deps.slots.release(record.id);
    let branchKept = record.branch;
    const sessionDir = dirname(record.piSessionFile);
    let preserved: Preserved = { committed: null, filesKept: null };
    if (record.branch && record.repoId && !isLegacyWorktree(record)) {
      const exportsRepo = exportsPath(this.deps.paths.mirrors, record.repoId);
      const userRepo = this.repos.userRepoPath(record.repoId);
      const sessionGit = existsSync(record.worktree) ? this.sessionGit(record) : undefined;
      // An export after the last turn may still be running: it must not outlive the branch or the repo.
      await sessionGit?.settled();
      if (params.deleteBranch) {
        await deleteSessionBranch(exportsRepo, userRepo, record.branch);
        branchKept = null;
      } else if (sessionGit) {
        // Uncommitted work is committed (inside the sandbox) and leaves with the rest: what the agent
        // committed since the last turn reaches the branch before the repo goes.
        if (!force) preserved = await commitLeftovers(sessionGit, record);
        await this.exportBranch(record.id, sessionGit);
      }
      rmSync(record.worktree, { recursive: true, force: true });
    } else if (record.branch) {
      await this.removeLegacyWorktree(record, params.deleteBranch === true);
      if (params.deleteBranch) branchKept = null;
    } else {
      if (!force) preserved = keepScratchFiles(record.worktree, sessionDir);
      rmSync(record.worktree, { recursive: true, force: true });
    }
    this.gits.delete(record.id);
    let historyKept: string | null = existsSync(record.piSessionFile) ? record.piSessionFile : null;
    if (params.deleteHistory || (historyKept === null && preserved.filesKept === null)) {
      rmSync(sessionDir, { recursive: true, force: true });
      historyKept = null;
    }
    this.deps.index.remove(record.id);
    this.deps.checkpoints.removeSession(record.id);
    this.deps.permissions.forgetSession(record.id);
    return { branchKept, historyKept, ...preserved };
  }

  /**
   * A linked worktree of the user's repository (sessions of older versions). No git runs inside it:
   * the directory goes, then the user's repo forgets it (`worktree prune` reads only its own admin
   * files) and, when asked, its branch.
   */
  private async removeLegacyWorktree(record: SessionRecord, dropBranch: boolean): Promise<void> {
    rmSync(record.worktree, { recursive: true, force: true });
    const repoPath = record.repoId ? this.repos.userRepoPath(record.repoId) : undefined;
    if (!repoPath) return;
    await this.repos.withLock(repoPath, async () => {
      await git(repoPath, ["worktree", "prune"]);
      if (dropBranch && record.branch) await deleteBranch(repoPath, record.branch).catch(() => undefined);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.loading.values(), ...this.unloading.values()]);
    for (const s of this.live.values()) s.announceShutdown();
    await Promise.all([...this.live.values()].map((s) => s.dispose()));
    this.live.clear();
    // A branch export started by the last turn finishes before the server says it has stopped.
    await Promise.all([...this.gits.values()].map((g) => g.settled()));
  }
}
