import { Type, type Static } from "typebox";
import { SessionInfo } from "./types.js";

/**
 * Methods over a session's history, in both of its forms: the conversation (pi's session tree:
 * fork, fork points, import from pi's terminal UI) and the worktree (the checkpoints the server
 * commits after each turn, and reverting to one). Plus the user's name for a session.
 */

const Known = {} as const;
const SessionIdParam = Type.String({ minLength: 1, maxLength: 64 });
const EntryId = Type.String({ minLength: 1, maxLength: 128 });
const IsoTime = Type.String({ format: "date-time", description: "ISO-8601, UTC, with milliseconds" });
export const MAX_SESSION_NAME = 200;

export const ForkPoint = Type.Object({
  /** pi's id of the user message; pass it to session.fork. */
  entryId: Type.String(),
  /** The message's text, cut at 200 characters (truncated says so). */
  text: Type.String(),
  truncated: Type.Boolean(),
  /** 1 for the conversation's first user message, and so on. */
  turn: Type.Integer({ minimum: 1 }),
  timestamp: Type.Union([IsoTime, Type.Null()]),
});
export type ForkPoint = Static<typeof ForkPoint>;

export const Checkpoint = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  commit: Type.String(),
  /** User messages in the conversation when the turn ended (the turn's ordinal). */
  turn: Type.Integer({ minimum: 0 }),
  /** pi's history entry the turn ended on (null when the history was empty). */
  entryId: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
  createdAt: IsoTime,
  filesChanged: Type.Integer({ minimum: 0 }),
  /** The changed paths, at most 200 (filesChanged counts them all). */
  files: Type.Array(Type.String()),
});
export type Checkpoint = Static<typeof Checkpoint>;

export const ImportableSession = Type.Object({
  /** The file's absolute path: pass it to session.import. */
  path: Type.String(),
  /** pi's session id (the file's header). */
  piSessionId: Type.String(),
  /** The directory pi ran in. */
  cwd: Type.String(),
  /** The registered repo the cwd is inside (by real path), or null. */
  repoId: Type.Union([Type.String(), Type.Null()]),
  /** The first user message, cut at 200 characters; null when the file holds none in its first 1 MiB. */
  firstMessage: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.Union([IsoTime, Type.Null()]),
  modifiedAt: IsoTime,
  size: Type.Integer({ minimum: 0 }),
  /** Whether session.import would take it; reason says why not. */
  importable: Type.Boolean(),
  reason: Type.Optional(Type.String()),
});
export type ImportableSession = Static<typeof ImportableSession>;

const SessionCreated = Type.Object({ sessionId: Type.String(), session: SessionInfo });

export const HistoryMethods = {
  "session.fork": {
    scoped: false,
    description:
      "New session with the source's conversation up to an entry and a copy of the source's worktree as it is now (its commits, and its uncommitted and untracked files as uncommitted changes). The source is not changed. The caller is attached.",
    params: Type.Object(
      {
        sessionId: SessionIdParam,
        /** Default: the whole conversation. */
        entryId: Type.Optional(EntryId),
        /** "before" (default for a user message, as pi's /fork): the history before that message; "at": up to and including the entry. */
        position: Type.Optional(Type.Union([Type.Literal("before"), Type.Literal("at")])),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SESSION_NAME })),
      },
      Known,
    ),
    result: Type.Object({
      sessionId: Type.String(),
      session: SessionInfo,
      /** position "before": the text of the user message forked before, to edit and send again. */
      text: Type.Optional(Type.String()),
    }),
  },
  get_fork_points: {
    scoped: false,
    description:
      "The user messages of a session's conversation one can fork from (pi's get_fork_messages), oldest first. Without params.sessionId, the envelope's.",
    params: Type.Object({ sessionId: Type.Optional(SessionIdParam) }, Known),
    result: Type.Object({ points: Type.Array(ForkPoint) }),
  },
  "session.rename": {
    scoped: false,
    description:
      "Set a session's name (trimmed; 1-200 characters, no control characters). Recorded as chosen by the user; attached clients get session_info_changed.",
    params: Type.Object(
      { sessionId: SessionIdParam, name: Type.String({ minLength: 1, maxLength: MAX_SESSION_NAME }) },
      Known,
    ),
    result: Type.Object({ session: SessionInfo }),
  },
  "sessions.importable": {
    scoped: false,
    description:
      "Sessions of pi's terminal UI (~/.pi/agent/sessions/**/*.jsonl of the server's user), newest first, each with the registered repo its cwd belongs to (owner only).",
    params: Type.Object({}, Known),
    result: Type.Object({
      sessions: Type.Array(ImportableSession),
      /** More files than the listing reads (1000) were there. */
      truncated: Type.Boolean(),
    }),
  },
  "session.import": {
    scoped: false,
    description:
      "Adopt a session of pi's terminal UI: its history is copied (the file is not changed) into a new session on a fresh repository of the registered repo its cwd belongs to; the next prompt continues it. The caller is attached (owner only).",
    params: Type.Object(
      {
        path: Type.String({ minLength: 1, maxLength: 4096 }),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SESSION_NAME })),
        /** "provider/modelId"; default: the session's own last model when usable, else config defaultModel. */
        model: Type.Optional(Type.String({ minLength: 3, maxLength: 400 })),
      },
      Known,
    ),
    result: SessionCreated,
  },
  "session.checkpoints": {
    scoped: false,
    description:
      "The commits the server made of the session's worktree at the end of each turn that changed it, oldest first.",
    params: Type.Object({ sessionId: SessionIdParam }, Known),
    result: Type.Object({
      checkpoints: Type.Array(Checkpoint),
      /** config checkpoints.enabled: whether turns make checkpoints now. */
      enabled: Type.Boolean(),
    }),
  },
  "session.revert": {
    scoped: false,
    description:
      "Put the session's worktree back to a checkpoint, as a new commit on its branch (uncommitted changes are committed first, so nothing is lost). With conversation: true, also a fork at that turn's entry, whose id is answered. Refused while a turn runs.",
    params: Type.Object(
      {
        sessionId: SessionIdParam,
        checkpoint: Type.Integer({ minimum: 1 }),
        conversation: Type.Optional(Type.Boolean()),
      },
      Known,
    ),
    result: Type.Object({
      /** The commit the branch is on now (the worktree's state is the checkpoint's). */
      commit: Type.String(),
      /** The commit that saved uncommitted changes before the revert; null when there were none. */
      saved: Type.Union([Type.String(), Type.Null()]),
      /** conversation: true — the fork that holds the conversation up to the checkpoint's turn. */
      sessionId: Type.Optional(Type.String()),
      session: Type.Optional(SessionInfo),
    }),
  },
} as const;
