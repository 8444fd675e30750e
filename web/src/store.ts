/** App-wide state: paired servers, the current connection, sessions and pending approvals. */
import { computed, effect, signal } from "@preact/signals";
import type { AnyEvent } from "../../src/client/browser.js";
import type { PermissionRequest } from "../../src/protocol/permissions.js";
import type { SessionInfo } from "../../src/protocol/types.js";
import type { Workspace } from "../../src/protocol/workspaces.js";
import { Connection } from "./connection.js";
import { SessionStream } from "./session-stream.js";
import { storage, type ServerRecord } from "./storage.js";

export const servers = signal<ServerRecord[]>([]);
export const current = signal<ServerRecord | undefined>(undefined);
export const connection = signal<Connection | undefined>(undefined);
export const sessions = signal<SessionInfo[]>([]);
/** Every workspace (a repo or none, plus what its sessions start with), from workspaces.list. */
export const workspaces = signal<Workspace[]>([]);
/** Pending approvals by request id, across every session. */
export const approvals = signal<Map<string, PermissionRequest>>(new Map());
export const ready = signal(false);

const streams = new Map<string, SessionStream>();

export const waitingCount = computed(() => approvals.value.size);

export function waitingFor(sessionId: string): PermissionRequest[] {
  return [...approvals.value.values()].filter((r) => r.sessionId === sessionId);
}

// The tab title counts waiting approvals, so a backgrounded tab still says it needs you.
effect(() => {
  const n = waitingCount.value;
  document.title = n > 0 ? `(${n}) pi — waiting for approval` : "pi";
});

function setApprovals(fn: (m: Map<string, PermissionRequest>) => void): void {
  const next = new Map(approvals.value);
  fn(next);
  approvals.value = next;
}

function onEvent(e: AnyEvent): void {
  switch (e.type) {
    case "permission_request":
      setApprovals((m) => m.set(e.payload.id, { ...e.payload, sessionId: e.sessionId }));
      return;
    case "permission_resolved": {
      const req = approvals.value.get(e.payload.id);
      if (req) streams.get(e.sessionId)?.approvalEnded(req.toolCallId, e.payload.decision, e.payload.by);
      setApprovals((m) => m.delete(e.payload.id));
      return;
    }
    case "session_status":
      sessions.value = sessions.value.map((s) =>
        s.id === e.sessionId
          ? { ...s, status: e.payload.status, lastActivityAt: new Date().toISOString() }
          : s,
      );
      return;
    case "session_info_changed": {
      const name = e.payload.name;
      if (name !== null)
        sessions.value = sessions.value.map((s) => (s.id === e.sessionId ? { ...s, name } : s));
      return;
    }
    case "session_deleted":
      sessions.value = sessions.value.filter((s) => s.id !== e.sessionId);
      return;
    default:
      return;
  }
}

export async function refreshLists(): Promise<void> {
  const conn = connection.value;
  if (!conn) return;
  try {
    const [list, pending, ws] = await Promise.all([
      conn.request("session.list", {}),
      conn.request("permission.list", {}),
      conn.request("workspaces.list", {}).catch(() => undefined),
    ]);
    sessions.value = list.sessions;
    if (ws) workspaces.value = ws.workspaces;
    approvals.value = new Map(pending.requests.map((r) => [r.id, r]));
  } catch {
    // Offline: the lists refresh on the next connect.
  }
}

let refreshTimer: ReturnType<typeof setInterval> | undefined;

function connectTo(server: ServerRecord | undefined): void {
  connection.value?.stop();
  streams.clear();
  sessions.value = [];
  workspaces.value = [];
  approvals.value = new Map();
  clearInterval(refreshTimer);
  current.value = server;
  if (!server || server.revoked) {
    connection.value = undefined;
    return;
  }
  const conn = new Connection(server, {
    onEvent,
    onReady: () => void refreshLists(),
    onRevoked: () => {
      const rec = { ...server, revoked: true };
      void storage.put(rec);
      servers.value = servers.value.map((s) => (s.serverId === rec.serverId ? rec : s));
      current.value = rec;
    },
  });
  connection.value = conn;
  conn.start();
  // Only attached sessions send events: a slow poll keeps other sessions' status and approvals fresh.
  refreshTimer = setInterval(() => void refreshLists(), 15_000);
}

export async function loadServers(): Promise<void> {
  servers.value = await storage.servers();
  const id = await storage.current();
  connectTo(servers.value.find((s) => s.serverId === id) ?? servers.value[0]);
  ready.value = true;
}

export async function addServer(rec: ServerRecord): Promise<void> {
  await storage.put(rec);
  await storage.setCurrent(rec.serverId);
  servers.value = [...servers.value.filter((s) => s.serverId !== rec.serverId), rec];
  connectTo(rec);
}

export async function switchServer(serverId: string): Promise<void> {
  await storage.setCurrent(serverId);
  connectTo(servers.value.find((s) => s.serverId === serverId));
}

/** Forgets the server on this device (its token is dropped; the host can revoke it with `pi-server token revoke`). */
export async function unpair(serverId: string): Promise<void> {
  await storage.remove(serverId);
  servers.value = servers.value.filter((s) => s.serverId !== serverId);
  if (current.value?.serverId === serverId) {
    const next = servers.value[0];
    await storage.setCurrent(next?.serverId);
    connectTo(next);
  }
}

/** The stream of one session, attached while the chat shows it. */
export function openStream(sessionId: string): SessionStream {
  let s = streams.get(sessionId);
  if (!s) {
    s = new SessionStream(sessionId);
    streams.set(sessionId, s);
  }
  connection.value?.watch(s);
  return s;
}

export function closeStream(sessionId: string): void {
  connection.value?.unwatch(sessionId);
  // Dropped so the next visit reloads the history: no stale view, no events missed while detached.
  streams.delete(sessionId);
}

/** Text to put in a session's composer when its chat opens (a fork's message, to edit and send). */
const drafts = new Map<string, string>();

export function setDraft(sessionId: string, text: string): void {
  drafts.set(sessionId, text);
}

export function takeDraft(sessionId: string): string {
  const text = drafts.get(sessionId) ?? "";
  drafts.delete(sessionId);
  return text;
}
