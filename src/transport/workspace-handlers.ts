import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProtocolError } from "../protocol/errors.js";
import type { RepoInfo } from "../protocol/types.js";
import type { Skill } from "../protocol/workspaces.js";
import { addRemoteRepo, addRepo, readReposFile, removeRepo, ReposFileError } from "../repos/repos.js";
import type { SessionService } from "../sessions/service.js";
import type { SessionsIndex } from "../store/sessions-index.js";
import type { WorkspaceService } from "../workspaces/service.js";
import type { CallContext, Handlers, Roles } from "./handlers.js";

type WorkspaceMethod =
  | "workspaces.list"
  | "workspaces.create"
  | "workspaces.update"
  | "workspaces.delete"
  | "repos.add"
  | "repos.remove"
  | "skills.list"
  | "session.resume";

export interface WorkspaceHandlerDeps {
  sessions: SessionService;
  workspaces: WorkspaceService;
  reposFile: string;
  index: Pick<SessionsIndex, "list">;
  access: Pick<Roles, "requireAdmin">;
}

/** Repos change what the host serves, and host runtime or mounts what sessions reach: the owner's call. */
function ownerOnly(ctx: CallContext, what: string): void {
  if (ctx.principal.kind !== "owner") {
    throw new ProtocolError("forbidden", `${what} needs the owner token`, { needs: "owner" });
  }
}

/**
 * A workspace's other settings are the owner's or an admin device's to change; leaving the sandbox
 * (runtime host) or showing it more of the host (read-only mounts) stays with the owner.
 */
function workspaceSettings(
  ctx: CallContext,
  access: Pick<Roles, "requireAdmin">,
  what: string,
  params: { runtime?: string | null; readOnlyMounts?: string[] },
): void {
  access.requireAdmin(ctx, what);
  if (params.runtime === "host") ownerOnly(ctx, "runtime host");
  if (params.readOnlyMounts !== undefined && params.readOnlyMounts.length > 0)
    ownerOnly(ctx, "read-only mounts");
}

function repoError(err: unknown): never {
  if (err instanceof ReposFileError) throw new ProtocolError("invalid_request", err.message);
  throw err;
}

function repoInfo(r: { id: string; name: string; path: string; url?: string }): RepoInfo {
  return { id: r.id, name: r.name, path: r.path, ...(r.url !== undefined && { url: r.url }), ok: true };
}

export function workspaceHandlers(deps: WorkspaceHandlerDeps): Pick<Handlers, WorkspaceMethod> {
  const { sessions, workspaces, reposFile, index, access } = deps;
  return {
    "workspaces.list": () => ({ workspaces: workspaces.list() }),
    "workspaces.create": (params, ctx) => {
      workspaceSettings(ctx, access, "creating a workspace", params);
      return workspaces.create(params);
    },
    "workspaces.update": (params, ctx) => {
      workspaceSettings(ctx, access, "changing a workspace", params);
      return workspaces.update(params);
    },
    "workspaces.delete": (params, ctx) => {
      access.requireAdmin(ctx, "deleting a workspace");
      workspaces.delete(params.workspaceId);
      return { deleted: true };
    },
    "repos.add": async (params, ctx) => {
      ownerOnly(ctx, "adding a repo");
      if ((params.path === undefined) === (params.url === undefined)) {
        throw new ProtocolError("invalid_request", "repos.add takes path or url (one of them)");
      }
      const opts = {
        ...(params.id !== undefined && { id: params.id }),
        ...(params.name !== undefined && { name: params.name }),
      };
      const entry = await (
        params.url !== undefined
          ? addRemoteRepo(reposFile, params.url, sessions.remoteFor(params.url), opts)
          : addRepo(reposFile, params.path as string, opts)
      ).catch(repoError);
      const workspace = workspaces.view(workspaces.ensureDefault(entry.id, entry.name));
      return { repo: repoInfo(entry), workspace };
    },
    "repos.remove": (params, ctx) => {
      ownerOnly(ctx, "removing a repo");
      let entry;
      try {
        entry = readReposFile(reposFile).find((r) => r.id === params.repoId);
      } catch (err) {
        repoError(err);
      }
      if (!entry) throw new ProtocolError("not_found", `no repo "${params.repoId}" in ${reposFile}`);
      const using = index.list().filter((s) => s.repoId === params.repoId);
      if (using.length > 0) {
        throw new ProtocolError(
          "conflict",
          `repo "${params.repoId}" has ${using.length} session(s); delete them first`,
          { sessions: using.slice(0, 50).map((s) => s.id) },
        );
      }
      if (!removeRepo(reposFile, params.repoId)) {
        throw new ProtocolError("not_found", `no repo "${params.repoId}" in ${reposFile}`);
      }
      workspaces.removeRepo(params.repoId);
      return { removed: true };
    },
    "skills.list": async (params) => {
      const workspace = params.workspaceId === undefined ? undefined : workspaces.get(params.workspaceId);
      // The compatibility check runs a command where the workspace's tools run, in an empty directory.
      const cwd = mkdtempSync(join(tmpdir(), "pi-server-skills-"));
      try {
        const { skills } = await sessions.judgeSkills(workspace ?? null, cwd);
        return {
          skills: skills.map((s): Skill => ({
            name: s.name,
            description: s.description,
            source: s.source,
            path: s.path,
            commands: s.commands,
            ...(workspace && { allowed: s.allowed, compatible: s.compatible, missing: s.missing }),
          })),
        };
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
    "session.resume": async (params) => {
      const live = await sessions.resume(params.sessionId);
      return { session: live.info(), seq: live.currentSeq, epoch: live.epoch };
    },
  };
}
