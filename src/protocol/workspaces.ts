import { Type, type Static, type TSchema } from "typebox";
import { RepoInfo, ThinkingLevel } from "./types.js";

const Known = {} as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const WorkspaceRuntime = Type.Union([Type.Literal("host"), Type.Literal("sandbox")]);
export type WorkspaceRuntime = Static<typeof WorkspaceRuntime>;
export const WorkspaceNetwork = Type.Union([Type.Literal("off"), Type.Literal("on")]);
export type WorkspaceNetwork = Static<typeof WorkspaceNetwork>;

const WorkspaceIdParam = Type.String({ minLength: 1, maxLength: 128 });
const ModelKey = Type.String({ minLength: 3, maxLength: 400, pattern: "^[^/]+/.+$" });
const SkillName = Type.String({ minLength: 1, maxLength: 128 });
const MountPath = Type.String({ minLength: 2, maxLength: 4096, pattern: "^/" });

/** A repo (or none: each session gets an empty scratch directory) and what its sessions start with. */
export const Workspace = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** The repo its sessions clone; null: scratch sessions. */
  repoId: Nullable(Type.String()),
  /** The repo's own workspace, made with the repo: `session.create {repoId}` uses it. */
  isDefault: Type.Boolean(),
  /** "provider/modelId" for new sessions; null: the server's defaultModel. */
  model: Nullable(Type.String()),
  thinkingLevel: Nullable(ThinkingLevel),
  /** Appended to pi's system prompt in every session of the workspace. */
  systemPrompt: Nullable(Type.String()),
  /** Names of the skills its sessions get; null: every skill (skills.list). */
  skills: Nullable(Type.Array(Type.String())),
  /** null: the server's runtime (config.json runtime). */
  runtime: Nullable(WorkspaceRuntime),
  /** null: the server's sandbox.network. */
  network: Nullable(WorkspaceNetwork),
  /** Extra absolute paths its sandboxes see read-only (a shared package cache, say). */
  readOnlyMounts: Type.Array(Type.String()),
  /** What sessions get once the server's defaults fill the nulls. */
  effective: Type.Object({ runtime: WorkspaceRuntime, network: WorkspaceNetwork }),
  /** Sessions of the workspace in memory now (they count against limits.maxSessionsPerWorkspace). */
  loadedSessions: Type.Integer({ minimum: 0 }),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
export type Workspace = Static<typeof Workspace>;

/** The settings a client may set; null clears one back to the server's default. */
const Settings = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  model: Type.Optional(Nullable(ModelKey)),
  thinkingLevel: Type.Optional(Nullable(ThinkingLevel)),
  systemPrompt: Type.Optional(Nullable(Type.String({ maxLength: 100_000 }))),
  skills: Type.Optional(Nullable(Type.Array(SkillName, { maxItems: 500 }))),
  runtime: Type.Optional(Nullable(WorkspaceRuntime)),
  network: Type.Optional(Nullable(WorkspaceNetwork)),
  readOnlyMounts: Type.Optional(Type.Array(MountPath, { maxItems: 32 })),
};
const CreateParams = Type.Object(
  {
    ...Settings,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    repoId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  Known,
);
export type WorkspaceCreateParams = Static<typeof CreateParams>;
const UpdateParams = Type.Object({ ...Settings, workspaceId: WorkspaceIdParam }, Known);
export type WorkspaceUpdateParams = Static<typeof UpdateParams>;

/** Said beside a workspace whose tools run unsandboxed. */
const Warning = Type.Optional(Type.String());

export const Skill = Type.Object({
  name: Type.String(),
  description: Type.String(),
  /** Where it was found: "data-dir" (<data-dir>/skills) or "settings" (a path in <data-dir>/settings.json). */
  source: Type.Union([Type.Literal("data-dir"), Type.Literal("settings")]),
  /** The SKILL.md (or skill .md) file. */
  path: Type.String(),
  /** Commands the skill says it runs (frontmatter allowed-tools Bash(...) entries and metadata.commands). */
  commands: Type.Array(Type.String()),
  /** With workspaceId: whether the workspace's allowlist lets it in. */
  allowed: Type.Optional(Type.Boolean()),
  /** With workspaceId: whether every command exists where the workspace's tools run. */
  compatible: Type.Optional(Type.Boolean()),
  /** With workspaceId: the commands not found there. */
  missing: Type.Optional(Type.Array(Type.String())),
});
export type Skill = Static<typeof Skill>;

export const WorkspaceMethods = {
  "workspaces.list": {
    scoped: false,
    description:
      "Every workspace, each registered repo's default one first made if missing. A workspace is a repo (or none) plus the settings its sessions start with.",
    params: Type.Object({}, Known),
    result: Type.Object({ workspaces: Type.Array(Workspace) }),
  },
  "workspaces.create": {
    scoped: false,
    description:
      "New workspace on a registered repo (or, without repoId, for scratch sessions) with its own settings (owner only). runtime host is answered with a warning.",
    params: CreateParams,
    result: Type.Object({ workspace: Workspace, warning: Warning }),
  },
  "workspaces.update": {
    scoped: false,
    description:
      "Change a workspace's settings (owner only); null resets one to the server's default. Sessions loaded later run with the new settings.",
    params: UpdateParams,
    result: Type.Object({ workspace: Workspace, warning: Warning }),
  },
  "workspaces.delete": {
    scoped: false,
    description:
      "Delete a workspace that no session uses (owner only). A repo's default workspace goes only with the repo (repos.remove).",
    params: Type.Object({ workspaceId: WorkspaceIdParam }, Known),
    result: Type.Object({ deleted: Type.Literal(true) }),
  },
  "repos.add": {
    scoped: false,
    description:
      "Register a repository (owner only): a local path (a git work tree) or a clone url (https, or ssh), cloned into the data dir now. GITHUB_TOKEN from the data dir's .env reaches git through a credential helper only.",
    params: Type.Object(
      {
        path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
        url: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      },
      Known,
    ),
    result: Type.Object({ repo: RepoInfo, workspace: Workspace }),
  },
  "repos.remove": {
    scoped: false,
    description:
      "Unregister a repository no session uses (owner only), with its workspaces. Its clone in the data dir stays, so exported session branches stay readable.",
    params: Type.Object({ repoId: Type.String({ minLength: 1, maxLength: 128 }) }, Known),
    result: Type.Object({ removed: Type.Literal(true) }),
  },
  "skills.list": {
    scoped: false,
    description:
      "The skills sessions can get: <data-dir>/skills and the paths in <data-dir>/settings.json `skills`. With workspaceId: which the workspace allows and which are compatible with where its tools run.",
    params: Type.Object({ workspaceId: Type.Optional(WorkspaceIdParam) }, Known),
    result: Type.Object({ skills: Type.Array(Skill) }),
  },
} as const;
