import {
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  verify,
  type ECDH,
} from "node:crypto";
import { createServer, Agent, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import selfsigned from "selfsigned";

/** A notification as the push service received it, decrypted, with its VAPID claims checked. */
/** The decrypted payload of a permission notification (src/push/push-service.ts). */
export interface PermissionPush {
  kind: string;
  requestId: string;
  sessionId: string;
  title?: string;
  body?: string;
  tool?: string;
  actionToken: string;
  actions: { action: string; title: string }[];
}

export interface ReceivedPush {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  payload: unknown;
  jwt: { aud: string; exp: number; sub: string };
  vapidKey: string;
}

export interface FakeSubscriber {
  /** What PushManager's subscription.toJSON() would give. */
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
  path: string;
}

export interface PushEndpoint {
  origin: string;
  /** Trusts the endpoint's self-signed certificate. */
  agent: Agent;
  received: ReceivedPush[];
  /** Pushes that failed the RFC 8291 / VAPID checks (each a reason). */
  rejected: string[];
  subscriber(name: string): FakeSubscriber;
  /** The status a path answers with from now on (201 by default). */
  answer(path: string, status: number): void;
  /** Resolves with the next push to a path. */
  next(path: string): Promise<ReceivedPush>;
  close(): Promise<void>;
}

const b64u = (b: Buffer): string => b.toString("base64url");

/** RFC 8291 §3.4 and RFC 8188: the receiver's side of aes128gcm. */
export function decryptAes128gcm(body: Buffer, ua: ECDH, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes, not an uncompressed P-256 key`);
  if (ciphertext.length > rs) throw new Error("more than one record");
  const ecdhSecret = ua.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", ecdhSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([
    decipher.update(ciphertext.subarray(0, ciphertext.length - 16)),
    decipher.final(),
  ]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error("the last record does not end with the 0x02 delimiter");
  return padded.subarray(0, end);
}

/** RFC 8292: `vapid t=<JWT>, k=<public key>`, the JWT ES256-signed by that key. */
export function checkVapid(
  header: string | undefined,
  origin: string,
): { jwt: ReceivedPush["jwt"]; key: string } {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? "");
  if (!m) throw new Error(`Authorization is not a VAPID header: ${header}`);
  const [, token, key] = m as unknown as [string, string, string];
  const [h, p, s] = token.split(".");
  if (!h || !p || !s) throw new Error("malformed JWT");
  const head = JSON.parse(Buffer.from(h, "base64url").toString()) as { alg?: string };
  if (head.alg !== "ES256") throw new Error(`JWT alg ${head.alg}`);
  const raw = Buffer.from(key, "base64url");
  if (raw.length !== 65 || raw[0] !== 4) throw new Error("k is not an uncompressed P-256 key");
  const publicKey = createPublicKey({
    key: { kty: "EC", crv: "P-256", x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33)) },
    format: "jwk",
  });
  const ok = verify(
    "sha256",
    Buffer.from(`${h}.${p}`),
    { key: publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(s, "base64url"),
  );
  if (!ok) throw new Error("JWT signature does not verify with k");
  const jwt = JSON.parse(Buffer.from(p, "base64url").toString()) as ReceivedPush["jwt"];
  if (jwt.aud !== origin) throw new Error(`aud ${jwt.aud} is not ${origin}`);
  if (!(jwt.exp * 1000 > Date.now())) throw new Error("JWT expired");
  if (jwt.exp * 1000 > Date.now() + 24 * 3600_000) throw new Error("JWT lives longer than 24 h");
  return { jwt, key };
}

/** A Web Push service on 127.0.0.1 over TLS that decrypts what it is sent. */
export async function startPushEndpoint(): Promise<PushEndpoint> {
  const pems = await selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
  });
  const subscribers = new Map<string, { ua: ECDH; auth: Buffer }>();
  const statuses = new Map<string, number>();
  const waiters = new Map<string, ((p: ReceivedPush) => void)[]>();
  const received: ReceivedPush[] = [];
  const rejected: string[] = [];
  let origin = "";
  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      const sub = subscribers.get(path);
      try {
        if (req.method !== "POST") throw new Error(`method ${req.method}`);
        if (!sub) throw new Error(`no subscription at ${path}`);
        if (req.headers["content-encoding"] !== "aes128gcm") throw new Error("not aes128gcm");
        if (!req.headers.ttl) throw new Error("no TTL");
        const { jwt, key } = checkVapid(req.headers.authorization, origin);
        const plain = decryptAes128gcm(Buffer.concat(chunks), sub.ua, sub.auth);
        const push: ReceivedPush = {
          path,
          headers: req.headers,
          payload: JSON.parse(plain.toString("utf8")),
          jwt,
          vapidKey: key,
        };
        received.push(push);
        const status = statuses.get(path) ?? 201;
        res.writeHead(status).end();
        const w = waiters.get(path)?.shift();
        w?.(push);
      } catch (err) {
        rejected.push((err as Error).message);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ ca: pems.cert });
  return {
    origin,
    agent,
    received,
    rejected,
    subscriber(name) {
      const ua = createECDH("prime256v1");
      ua.generateKeys();
      const auth = randomBytes(16);
      const path = `/push/${name}`;
      subscribers.set(path, { ua, auth });
      return {
        path,
        subscription: {
          endpoint: origin + path,
          keys: { p256dh: b64u(ua.getPublicKey()), auth: b64u(auth) },
        },
      };
    },
    answer(path, status) {
      statuses.set(path, status);
    },
    next(path) {
      return new Promise((resolve) => {
        const list = waiters.get(path) ?? [];
        list.push(resolve);
        waiters.set(path, list);
      });
    },
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
