import { randomBytes } from "node:crypto";
import { isAbsolute } from "node:path";
import type { Logger } from "pino";
import { ProtocolError } from "../protocol/errors.js";
import type { SessionMode } from "../protocol/types.js";
import type {
  Workspace,
  WorkspaceCreateParams,
  WorkspaceNetwork,
  WorkspaceRuntime,
  WorkspaceUpdateParams,
} from "../protocol/workspaces.js";
import { readReposFile, ReposFileError, type RepoStatus } from "../repos/repos.js";
import type { ServerConfig } from "../store/config.js";
import type { WorkspacePatch, WorkspaceRecord, WorkspacesStore } from "../store/workspaces.js";
import { within, realOrSelf } from "../fs-paths.js";

export interface WorkspaceServiceDeps {
  store: WorkspacesStore;
  reposFile: string;
  dataDir: string;
  config: () => ServerConfig;
  log: Logger;
  /** Sessions of the workspace in memory now. */
  loadedIn: (workspaceId: string) => number;
  /** Ids of the sessions (in the index) that run with the workspace. */
  sessionsUsing: (w: WorkspaceRecord) => string[];
  /** Throws the typed error session.create would give for this "provider/modelId". */
  checkModel: (key: string) => void;
}

export const HOST_RUNTIME_WARNING =
  "runtime \"host\": the tools of this workspace's sessions run unsandboxed as the server's user and can read and change everything it can, the data dir's keys included (docs/sandbox.md)";

/** What a session of the workspace runs with once the server's config fills what it leaves open. */
export function effectiveRuntime(
  w: Pick<WorkspaceRecord, "runtime" | "network"> | null,
  config: ServerConfig,
): { runtime: WorkspaceRuntime; network: WorkspaceNetwork } {
  const runtime = w?.runtime ?? config.runtime ?? "sandbox";
  const network = w?.network ?? (config.sandbox?.network ? "on" : "off");
  return { runtime, network };
}

/** Created workspaces' ids have a colon, which repo ids (the default workspaces' ids) cannot. */
function newWorkspaceId(): string {
  return `ws:${randomBytes(6).toString("hex")}`;
}

/** Workspaces: stored in state.db, one default per registered repo, settings checked on the way in. */
export class WorkspaceService {
  constructor(private readonly deps: WorkspaceServiceDeps) {}

  private repos(): RepoStatus[] {
    try {
      return readReposFile(this.deps.reposFile);
    } catch (err) {
      if (err instanceof ReposFileError) throw new ProtocolError("internal", err.message);
      throw err;
    }
  }

  /** Makes the default workspace of every usable repo entry; returns every workspace. */
  private all(): WorkspaceRecord[] {
    for (const r of this.repos()) if (r.ok) this.ensureDefault(r.id, r.name);
    return this.deps.store.list();
  }

  ensureDefault(repoId: string, name: string): WorkspaceRecord {
    try {
      return this.deps.store.ensureDefault(repoId, name);
    } catch (err) {
      throw new ProtocolError("conflict", (err as Error).message);
    }
  }

  view(w: WorkspaceRecord): Workspace {
    const thinkingLevel = w.thinkingLevel as Workspace["thinkingLevel"];
    return {
      id: w.id,
      name: w.name,
      repoId: w.repoId,
      isDefault: w.isDefault,
      model: w.model,
      thinkingLevel,
      systemPrompt: w.systemPrompt,
      skills: w.skills,
      runtime: w.runtime,
      network: w.network,
      readOnlyMounts: w.readOnlyMounts,
      effective: effectiveRuntime(w, this.deps.config()),
      loadedSessions: this.deps.loadedIn(w.id),
      createdAt: w.createdAt,
      updatedAt: w.updatedAt,
    };
  }

  list(): Workspace[] {
    return this.all().map((w) => this.view(w));
  }

  get(id: string): WorkspaceRecord {
    const w = this.deps.store.get(id);
    if (!w) throw new ProtocolError("not_found", `no workspace "${id}"`);
    return w;
  }

  /**
   * The workspace a new session runs with: the one named, the repo's default one, or none (a scratch
   * or chat session with the server's defaults). Every path that creates a session asks this.
   */
  resolveWorkspace(params: {
    workspaceId?: string;
    repoId?: string;
    mode?: SessionMode;
  }): WorkspaceRecord | null {
    if (params.workspaceId !== undefined) {
      const w = this.get(params.workspaceId);
      if (params.repoId !== undefined && params.repoId !== w.repoId) {
        throw new ProtocolError(
          "invalid_request",
          `workspace "${w.id}" is on ${w.repoId === null ? "no repo" : `repo "${w.repoId}"`}, not "${params.repoId}"; pass one of workspaceId and repoId`,
        );
      }
      if (params.mode === "chat" && w.repoId !== null) {
        throw new ProtocolError(
          "invalid_request",
          `a chat session has no repo: workspace "${w.id}" is on repo "${w.repoId}"`,
        );
      }
      return w;
    }
    if (params.repoId === undefined) return null;
    const entry = this.repos().find((r) => r.id === params.repoId);
    if (!entry) throw new ProtocolError("not_found", `no repo "${params.repoId}" in ${this.deps.reposFile}`);
    return this.ensureDefault(entry.id, entry.name);
  }

  /** The workspace an existing session runs with (sessions older than workspaces: their repo's default). */
  forSession(s: { workspaceId: string | null; repoId: string | null }): WorkspaceRecord | null {
    if (s.workspaceId !== null) return this.deps.store.get(s.workspaceId) ?? null;
    return s.repoId !== null ? (this.deps.store.defaultOf(s.repoId) ?? null) : null;
  }

  /** The id sessions of the workspace are counted under (legacy sessions: their repo's default id). */
  static slotKey(s: { workspaceId: string | null; repoId: string | null }): string | null {
    return s.workspaceId ?? s.repoId;
  }

  create(params: WorkspaceCreateParams): { workspace: Workspace; warning?: string } {
    let repoId: string | null = null;
    if (params.repoId !== undefined) {
      const entry = this.repos().find((r) => r.id === params.repoId);
      if (!entry)
        throw new ProtocolError("not_found", `no repo "${params.repoId}" in ${this.deps.reposFile}`);
      if (!entry.ok) throw new ProtocolError("conflict", `repo "${entry.id}" cannot be used: ${entry.error}`);
      this.ensureDefault(entry.id, entry.name);
      repoId = entry.id;
    }
    const patch = this.checkSettings(params);
    const now = Date.now();
    const record: WorkspaceRecord = {
      id: newWorkspaceId(),
      name: params.name,
      repoId,
      isDefault: false,
      model: patch.model ?? null,
      thinkingLevel: patch.thinkingLevel ?? null,
      systemPrompt: patch.systemPrompt ?? null,
      skills: patch.skills ?? null,
      runtime: patch.runtime ?? null,
      network: patch.network ?? null,
      readOnlyMounts: patch.readOnlyMounts ?? [],
      createdAt: now,
      updatedAt: now,
    };
    this.deps.store.insert(record);
    return this.answer(record);
  }

  update(params: WorkspaceUpdateParams): { workspace: Workspace; warning?: string } {
    const w = this.get(params.workspaceId);
    const patch = this.checkSettings(params);
    if (params.name !== undefined) patch.name = params.name;
    this.deps.store.update(w.id, patch);
    return this.answer(this.get(w.id));
  }

  delete(workspaceId: string): void {
    const w = this.get(workspaceId);
    if (w.isDefault) {
      throw new ProtocolError(
        "conflict",
        `"${w.id}" is the default workspace of repo "${w.repoId}"; it goes with the repo (repos.remove)`,
      );
    }
    const using = this.deps.sessionsUsing(w);
    if (using.length > 0) {
      throw new ProtocolError(
        "conflict",
        `workspace "${w.id}" has ${using.length} session(s); delete them first`,
        { sessions: using.slice(0, 50) },
      );
    }
    this.deps.store.remove(w.id);
  }

  /** Forgets a repo's workspaces (repos.remove checked that no session uses them). */
  removeRepo(repoId: string): void {
    this.deps.store.removeOfRepo(repoId);
  }

  private answer(w: WorkspaceRecord): { workspace: Workspace; warning?: string } {
    const view = this.view(w);
    if (view.effective.runtime !== "host") return { workspace: view };
    this.deps.log.warn({ workspaceId: w.id }, HOST_RUNTIME_WARNING);
    return { workspace: view, warning: HOST_RUNTIME_WARNING };
  }

  private checkSettings(params: WorkspaceUpdateParams | WorkspaceCreateParams): WorkspacePatch {
    const patch: WorkspacePatch = {};
    if (params.model !== undefined) {
      if (params.model !== null) this.deps.checkModel(params.model);
      patch.model = params.model;
    }
    if (params.thinkingLevel !== undefined) patch.thinkingLevel = params.thinkingLevel;
    if (params.systemPrompt !== undefined) patch.systemPrompt = params.systemPrompt;
    if (params.skills !== undefined)
      patch.skills = params.skills === null ? null : [...new Set(params.skills)];
    if (params.runtime !== undefined) patch.runtime = params.runtime;
    if (params.network !== undefined) patch.network = params.network;
    if (params.readOnlyMounts !== undefined) {
      patch.readOnlyMounts = params.readOnlyMounts.map((p) => this.checkMount(p));
    }
    return patch;
  }

  /** The sandbox never sees the data dir, whatever a workspace adds. */
  private checkMount(p: string): string {
    if (!isAbsolute(p) || p === "/" || p.split("/").includes("..")) {
      throw new ProtocolError(
        "invalid_request",
        `readOnlyMounts: ${p} must be an absolute path other than /, without ".."`,
      );
    }
    const real = realOrSelf(p);
    const data = realOrSelf(this.deps.dataDir);
    if (within(real, data) || within(data, real)) {
      throw new ProtocolError("invalid_request", `readOnlyMounts: ${p} overlaps the server's data dir`);
    }
    return p;
  }
}
