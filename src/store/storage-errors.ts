/**
 * A write that failed because the disk (or the database's size limit) is full, or the file
 * system refused the write: the server cannot fix it, but must not die of it either.
 */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL" || code.startsWith("SQLITE_IOERR");
}

export const STORAGE_FULL_MESSAGE =
  "the server's disk is full: state could not be saved; free some space and retry";
