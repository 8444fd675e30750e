import { Type } from "typebox";

/** The longest window a client may ask deltas to be held for. */
export const MAX_COALESCE_MS = 250;

/**
 * Milliseconds over which consecutive text/thinking deltas of one content block are sent as one
 * frame (seq range firstSeq … seq). 0, the default, sends each delta as it comes.
 */
export const CoalesceMs = Type.Integer({ minimum: 0, maximum: MAX_COALESCE_MS });
