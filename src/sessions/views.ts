import type { SessionInfo, SessionState, SessionStatus, ThinkingLevel } from "../protocol/types.js";
import type { SessionRecord } from "../store/sessions-index.js";
import { type AgentSession, modelInfo, modelKey } from "./pi.js";

/** A session as session.list and friends show it; `live` is absent for a session not in memory. */
export function sessionInfo(
  r: SessionRecord,
  live?: { agent: AgentSession; status: SessionStatus; seq: number; loaded: boolean },
): SessionInfo {
  const model = live?.agent.model;
  return {
    id: r.id,
    sessionId: r.id,
    mode: r.mode,
    name: r.name,
    nameSource: r.nameSource,
    repoId: r.repoId,
    workspaceId: r.workspaceId ?? (r.repoId !== null ? r.repoId : null),
    worktree: r.worktree,
    branch: r.branch,
    model: model ? modelKey(model) : r.model,
    thinkingLevel: (live ? live.agent.thinkingLevel : r.thinkingLevel) as ThinkingLevel,
    piSessionFile: r.piSessionFile,
    createdAt: new Date(r.createdAt).toISOString(),
    lastActivityAt: new Date(r.lastActivity).toISOString(),
    status: live ? live.status : r.status,
    loaded: live ? live.loaded : false,
    seq: live ? live.seq : Math.max(r.lastSeq, r.seqReserved),
  };
}

/** get_state: pi's RPC get_state fields, then the server's own. */
export function sessionState(
  r: SessionRecord,
  agent: AgentSession,
  extra: { status: SessionStatus; seq: number; epoch: string },
): SessionState {
  const model = agent.model;
  return {
    sessionId: r.id,
    sessionName: r.name,
    name: r.name,
    mode: r.mode,
    model: model ? modelInfo(model) : null,
    thinkingLevel: agent.thinkingLevel as ThinkingLevel,
    status: extra.status,
    isStreaming: agent.isStreaming,
    isCompacting: agent.isCompacting,
    steeringMode: agent.steeringMode,
    followUpMode: agent.followUpMode,
    sessionFile: r.piSessionFile,
    autoCompactionEnabled: agent.autoCompactionEnabled,
    messageCount: agent.messages.length,
    pendingMessageCount: agent.pendingMessageCount,
    steering: [...agent.getSteeringMessages()],
    followUp: [...agent.getFollowUpMessages()],
    seq: extra.seq,
    epoch: extra.epoch,
    worktree: r.worktree,
    branch: r.branch,
  };
}
