import { Type } from "typebox";

/** One message that matched: open sessionId and find the message by entryId or timestamp. */
export const SearchHit = Type.Object({
  sessionId: Type.String(),
  sessionName: Type.String(),
  /** pi's id of the message's entry in the session file (stable, also after compaction). */
  entryId: Type.String(),
  role: Type.Union([Type.Literal("user"), Type.Literal("assistant")]),
  /** The message's timestamp (ms since the epoch): get_messages returns it on the message. */
  timestamp: Type.Integer(),
  /** Up to 16 words around the match, plain text; "…" where the message's text goes on. */
  snippet: Type.String(),
  /** Each matched term in snippet as [start, end), UTF-16 offsets (what JavaScript's slice takes). */
  highlights: Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })])),
});

export const SearchMethods = {
  "sessions.search": {
    scoped: false,
    description:
      'Full-text search over what users and assistants wrote in every session, best match first. Words all have to match (the last one also as a prefix); "quoted words" match as a phrase.',
    params: Type.Object({
      query: Type.String({ minLength: 1, maxLength: 500 }),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    }),
    result: Type.Object({ hits: Type.Array(SearchHit) }),
  },
} as const;
