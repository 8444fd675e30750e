import type { PerMessageDeflateOptions } from "ws";

/**
 * permessage-deflate as the server negotiates it, when the client offers it (browsers and the typed
 * client do; Pi Mobile does not and gets plain frames). A streamed reply is hundreds of ~180-byte
 * frames that differ in a few bytes: deflate pays off only with the server's context kept between
 * frames, so server context takeover stays on and every frame is compressed (no threshold).
 *
 * Measured on a 1,000-token turn (docs/operations.md): a 2 KiB window and memLevel 4 compress it
 * within 5 % of zlib's 32 KiB / memLevel 8 once frames carry a few tokens each, for a fraction of
 * the memory per connection; a 1 KiB window loses a third. Requests are small and rare: the client
 * is asked not to keep its context, so a browser's messages need no long-lived inflate window (a
 * client that sends compressed frames still costs one inflate stream, ≤ 44 KiB, while connected).
 * client_max_window_bits is not asked for: ws would then refuse every offer that lacks it (Firefox's).
 */
export const SERVER_WINDOW_BITS = 11;
export const DEFLATE_MEM_LEVEL = 4;

export const perMessageDeflate: PerMessageDeflateOptions = {
  serverMaxWindowBits: SERVER_WINDOW_BITS,
  clientNoContextTakeover: true,
  threshold: 0,
  zlibDeflateOptions: { memLevel: DEFLATE_MEM_LEVEL, level: 6 },
};
