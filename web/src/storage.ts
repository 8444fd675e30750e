/** Paired servers live in IndexedDB: it survives reloads and is private to this origin. */

export interface ServerRecord {
  serverId: string;
  publicKey: string;
  /** Base URL, e.g. http://192.168.1.20:3141 */
  url: string;
  token: string;
  deviceId: string;
  deviceName: string;
  label: string;
  pairedAt: number;
  /** The server closed our connection with 4401: the token no longer works. */
  revoked?: boolean;
}

const DB_NAME = "pi-server";
const SERVERS = "servers";
const META = "meta";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(SERVERS, { keyPath: "serverId" });
      req.result.createObjectStore(META);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB unavailable"));
  });
}

async function run<T>(
  store: string,
  mode: IDBTransactionMode,
  op: (s: IDBObjectStore) => IDBRequest,
): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const req = op(tx.objectStore(store));
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB error"));
    });
  } finally {
    db.close();
  }
}

export const storage = {
  servers: (): Promise<ServerRecord[]> => run(SERVERS, "readonly", (s) => s.getAll()),
  put: (rec: ServerRecord): Promise<unknown> => run(SERVERS, "readwrite", (s) => s.put(rec)),
  remove: (serverId: string): Promise<unknown> => run(SERVERS, "readwrite", (s) => s.delete(serverId)),
  current: (): Promise<string | undefined> => run(META, "readonly", (s) => s.get("current")),
  setCurrent: (serverId: string | undefined): Promise<unknown> =>
    run(META, "readwrite", (s) => (serverId ? s.put(serverId, "current") : s.delete("current"))),
};
