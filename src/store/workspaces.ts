import type { Db } from "./db.js";

export interface WorkspaceRecord {
  id: string;
  name: string;
  repoId: string | null;
  isDefault: boolean;
  model: string | null;
  thinkingLevel: string | null;
  systemPrompt: string | null;
  skills: string[] | null;
  runtime: "host" | "sandbox" | null;
  network: "off" | "on" | null;
  readOnlyMounts: string[];
  createdAt: number;
  updatedAt: number;
}

export type WorkspacePatch = Partial<
  Pick<
    WorkspaceRecord,
    "name" | "model" | "thinkingLevel" | "systemPrompt" | "skills" | "runtime" | "network" | "readOnlyMounts"
  >
>;

interface Row {
  id: string;
  name: string;
  repo_id: string | null;
  is_default: number;
  model: string | null;
  thinking_level: string | null;
  system_prompt: string | null;
  skills: string | null;
  runtime: "host" | "sandbox" | null;
  network: "off" | "on" | null;
  read_only_mounts: string;
  created_at: number;
  updated_at: number;
}

function stringList(json: string | null): string[] | null {
  if (json === null) return null;
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function fromRow(r: Row): WorkspaceRecord {
  return {
    id: r.id,
    name: r.name,
    repoId: r.repo_id,
    isDefault: r.is_default === 1,
    model: r.model,
    thinkingLevel: r.thinking_level,
    systemPrompt: r.system_prompt,
    skills: stringList(r.skills),
    runtime: r.runtime,
    network: r.network,
    readOnlyMounts: stringList(r.read_only_mounts) ?? [],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const COLUMNS: Record<keyof WorkspacePatch, string> = {
  name: "name",
  model: "model",
  thinkingLevel: "thinking_level",
  systemPrompt: "system_prompt",
  skills: "skills",
  runtime: "runtime",
  network: "network",
  readOnlyMounts: "read_only_mounts",
};

function columnValue(key: keyof WorkspacePatch, value: unknown): unknown {
  if (key === "skills" || key === "readOnlyMounts") return value === null ? null : JSON.stringify(value);
  return value;
}

/** The workspaces table of state.db. */
export class WorkspacesStore {
  constructor(private readonly db: Db) {}

  insert(w: WorkspaceRecord): void {
    this.db
      .prepare(
        `INSERT INTO workspaces (id, name, repo_id, is_default, model, thinking_level, system_prompt, skills,
           runtime, network, read_only_mounts, created_at, updated_at)
         VALUES (@id, @name, @repoId, @isDefault, @model, @thinkingLevel, @systemPrompt, @skills,
           @runtime, @network, @readOnlyMounts, @createdAt, @updatedAt)`,
      )
      .run({
        ...w,
        isDefault: w.isDefault ? 1 : 0,
        skills: columnValue("skills", w.skills),
        readOnlyMounts: columnValue("readOnlyMounts", w.readOnlyMounts),
      });
  }

  /** The repo's default workspace, made (with every setting at the server's default) when missing. */
  ensureDefault(repoId: string, name: string, now = Date.now()): WorkspaceRecord {
    const existing = this.defaultOf(repoId);
    if (existing) return existing;
    this.db
      .prepare(
        `INSERT OR IGNORE INTO workspaces (id, name, repo_id, is_default, created_at, updated_at)
         VALUES (?, ?, ?, 1, ?, ?)`,
      )
      .run(repoId, name, repoId, now, now);
    const made = this.defaultOf(repoId);
    if (!made) throw new Error(`workspace id "${repoId}" is taken by a workspace of another repo`);
    return made;
  }

  defaultOf(repoId: string): WorkspaceRecord | undefined {
    const row = this.db
      .prepare("SELECT * FROM workspaces WHERE repo_id = ? AND is_default = 1")
      .get(repoId) as Row | undefined;
    return row && fromRow(row);
  }

  get(id: string): WorkspaceRecord | undefined {
    const row = this.db.prepare("SELECT * FROM workspaces WHERE id = ?").get(id) as Row | undefined;
    return row && fromRow(row);
  }

  list(): WorkspaceRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM workspaces ORDER BY is_default DESC, created_at, id")
      .all() as Row[];
    return rows.map(fromRow);
  }

  update(id: string, patch: WorkspacePatch, now = Date.now()): void {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined) as [
      keyof WorkspacePatch,
      unknown,
    ][];
    const sets = [...entries.map(([k]) => `${COLUMNS[k]} = @${k}`), "updated_at = @updatedAt"].join(", ");
    const values = Object.fromEntries(entries.map(([k, v]) => [k, columnValue(k, v)]));
    this.db.prepare(`UPDATE workspaces SET ${sets} WHERE id = @id`).run({ ...values, updatedAt: now, id });
  }

  remove(id: string): boolean {
    return this.db.prepare("DELETE FROM workspaces WHERE id = ?").run(id).changes > 0;
  }

  removeOfRepo(repoId: string): number {
    return this.db.prepare("DELETE FROM workspaces WHERE repo_id = ?").run(repoId).changes;
  }
}
