import { realpathSync } from "node:fs";
import { dirname } from "node:path";
import { ProtocolError } from "../protocol/errors.js";
import type { ParamsOf, ResultOf } from "../protocol/methods.js";
import { hasControlChars } from "../protocol/control-chars.js";
import type { SessionInfo } from "../protocol/types.js";
import { readReposFile } from "../repos/repos.js";
import type { CheckpointStore } from "../store/checkpoints.js";
import type { ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import type { SessionRecord } from "../store/sessions-index.js";
import { checkpointView, revertTo, type TurnPoint } from "./checkpoints.js";
import { copyScratch, forkPoints, forkRepo, openHistory, planFork, writeForkHistory } from "./fork.js";
import { listImportable, readTuiSession, repoOf, type RepoRoots, writeImportedHistory } from "./importer.js";
import type { LiveSession } from "./live-session.js";
import type { Sdk } from "./pi.js";
import type { SessionService } from "./service.js";
import type { SessionSeed } from "./session-seed.js";

export interface SessionHistoryDeps {
  sessions: SessionService;
  checkpoints: CheckpointStore;
  sdk: Sdk;
  paths: DataPaths;
  config: () => ServerConfig;
}

/** A name as a user typed it: trimmed, and refused when empty or holding control characters. */
export function checkName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new ProtocolError("invalid_request", "the name is empty");
  if (hasControlChars(trimmed)) {
    throw new ProtocolError("invalid_request", "the name may not hold control characters or line breaks");
  }
  return trimmed;
}

/** Fork, fork points, rename, import from pi's terminal UI, checkpoints and revert. */
export class SessionHistory {
  constructor(private readonly deps: SessionHistoryDeps) {}

  private history(record: SessionRecord) {
    return openHistory(this.deps.sdk, record.piSessionFile, record.worktree);
  }

  forkPoints(sessionId: string): ResultOf<"get_fork_points"> {
    return { points: forkPoints(this.history(this.deps.sessions.record(sessionId))) };
  }

  rename(params: ParamsOf<"session.rename">): ResultOf<"session.rename"> {
    return { session: this.deps.sessions.rename(params.sessionId, checkName(params.name)) };
  }

  /** The new session (loaded), and the text of the user message forked before. */
  fork(
    params: ParamsOf<"session.fork">,
    createdBy: string | null,
  ): Promise<{ live: LiveSession; text?: string }> {
    const { sessions } = this.deps;
    const source = sessions.record(params.sessionId);
    const name = params.name === undefined ? undefined : checkName(params.name);
    return sessions.hold(source.id, "it is being forked", () =>
      this.forkHeld(source, { ...params, ...(name !== undefined && { name }) }, createdBy),
    );
  }

  private async forkHeld(
    source: SessionRecord,
    params: ParamsOf<"session.fork">,
    createdBy: string | null,
  ): Promise<{ live: LiveSession; text?: string }> {
    const plan = planFork(this.history(source), params.entryId, params.position);
    const g = await this.deps.sessions.gitOf(source);
    if (source.branch && !g) {
      throw new ProtocolError(
        "conflict",
        `session ${source.id} was made by an older pi-server as a linked worktree of your repository; it cannot be forked`,
      );
    }
    const seed: SessionSeed = {
      nameSource: params.name === undefined ? "default" : "user",
      ...(g
        ? { repo: (target) => forkRepo(g, target, dirname(target.worktree)) }
        : { files: (worktree) => source.mode === "code" && copyScratch(source.worktree, worktree) }),
      history: (file, worktree) =>
        writeForkHistory(this.deps.sdk, source.piSessionFile, file, worktree, plan),
    };
    const live = await this.deps.sessions.create(
      {
        mode: source.mode,
        ...(source.workspaceId !== null
          ? { workspaceId: source.workspaceId }
          : source.repoId !== null && { repoId: source.repoId }),
        name: params.name ?? `${source.name} (fork)`,
        ...(source.model !== null && { model: source.model }),
        thinkingLevel: source.thinkingLevel as ParamsOf<"session.create">["thinkingLevel"],
        ...(source.systemPrompt !== null && { systemPrompt: source.systemPrompt }),
      },
      createdBy,
      seed,
    );
    return { live, ...(plan.text !== undefined && { text: plan.text }) };
  }

  private repoRoots(): RepoRoots {
    const roots: RepoRoots = [];
    let entries;
    try {
      entries = readReposFile(this.deps.paths.repos);
    } catch {
      return roots;
    }
    for (const e of entries) {
      if (!e.ok) continue;
      try {
        roots.push({ id: e.id, realPath: realpathSync(e.path) });
      } catch {
        // a registered path that is gone holds no session's cwd
      }
    }
    return roots;
  }

  importable(): ResultOf<"sessions.importable"> {
    return listImportable(this.repoRoots());
  }

  async import(params: ParamsOf<"session.import">, createdBy: string | null): Promise<LiveSession> {
    const tui = readTuiSession(params.path);
    const name = params.name === undefined ? tui.name : checkName(params.name);
    const repoId = repoOf(tui.header.cwd, this.repoRoots());
    if (repoId === null) {
      throw new ProtocolError(
        "conflict",
        `no registered repo holds ${tui.header.cwd}, where the session ran; register it first (pi-server repos add)`,
        { cwd: tui.header.cwd },
      );
    }
    const model = params.model ?? (tui.model && this.usable(tui.model) ? tui.model : undefined);
    return this.deps.sessions.create(
      { mode: "code", repoId, ...(name !== undefined && { name }), ...(model !== undefined && { model }) },
      createdBy,
      {
        nameSource: name === undefined ? "default" : "user",
        history: (file, worktree) => writeImportedHistory(tui, file, worktree),
      },
    );
  }

  private usable(key: string): boolean {
    const slash = key.indexOf("/");
    try {
      this.deps.sessions.findModel(key.slice(0, slash), key.slice(slash + 1));
      return true;
    } catch {
      return false;
    }
  }

  async checkpoints(sessionId: string): Promise<ResultOf<"session.checkpoints">> {
    this.deps.sessions.record(sessionId);
    // A turn that just ended may still be committing: its checkpoint is listed (and exported).
    await this.deps.sessions.settled(sessionId);
    return {
      checkpoints: this.deps.checkpoints.list(sessionId).map(checkpointView),
      enabled: this.deps.config().checkpoints?.enabled !== false,
    };
  }

  async revert(
    params: ParamsOf<"session.revert">,
    createdBy: string | null,
  ): Promise<ResultOf<"session.revert">> {
    const { sessions } = this.deps;
    const record = sessions.record(params.sessionId);
    const target = this.deps.checkpoints.get(record.id, params.checkpoint);
    if (!target) {
      throw new ProtocolError("not_found", `session ${record.id} has no checkpoint ${params.checkpoint}`);
    }
    const entryId = target.entryId;
    if (params.conversation === true && entryId === null) {
      throw new ProtocolError("conflict", `checkpoint ${target.id} names no point of the conversation`);
    }
    return sessions.hold(record.id, "it is being reverted", async () => {
      const g = await sessions.gitOf(record);
      if (!g)
        throw new ProtocolError("conflict", `session ${record.id} has no repository of its own to revert`);
      const reverted = await revertTo(g, this.deps.checkpoints, target, this.turnPoint(record));
      if (params.conversation !== true || entryId === null) return reverted;
      // The fork copies the worktree as the revert left it, and the conversation up to that turn.
      const { live } = await this.forkHeld(
        record,
        { sessionId: record.id, entryId, position: "at", name: `${record.name} (turn ${target.turn})` },
        createdBy,
      );
      const session: SessionInfo = live.info();
      return { ...reverted, sessionId: live.id, session };
    });
  }

  private turnPoint(record: SessionRecord): TurnPoint {
    const manager = this.history(record);
    return {
      sessionId: record.id,
      turn: forkPoints(manager).length,
      entryId: manager.getLeafId(),
    };
  }
}
