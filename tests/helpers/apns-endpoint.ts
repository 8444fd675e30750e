import { verify, type KeyObject } from "node:crypto";
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
} from "node:http2";
import type { AddressInfo } from "node:net";
import selfsigned from "selfsigned";

/** A notification as the fake APNs received it, its provider token checked. */
export interface ApnsPush {
  deviceToken: string;
  headers: IncomingHttpHeaders;
  payload: Record<string, unknown> & {
    aps: { alert: { title: string; body: string }; category: string; sound?: string };
  };
  jwt: string;
  claims: { iss: string; iat: number };
  /** Which HTTP/2 connection it came over (1, 2, …). */
  connection: number;
}

export interface ApnsAnswer {
  status: number;
  reason?: string;
}

export interface ApnsEndpoint {
  origin: string;
  /** The endpoint's self-signed certificate, for the server's CA option. */
  ca: string;
  received: ApnsPush[];
  /** Requests that failed the checks (each a reason); they were answered 400/403. */
  rejected: string[];
  /** Answers a device token gets, in turn; once used up it gets 200. */
  answer(deviceToken: string, ...answers: ApnsAnswer[]): void;
  /** From now on this provider token is answered 403 ExpiredProviderToken. */
  expire(jwt: string): void;
  /** Resolves with the next notification (accepted or not) to a device token. */
  next(deviceToken: string): Promise<ApnsPush>;
  /** Sends GOAWAY on every open connection. */
  goaway(): void;
  connections(): number;
  close(): Promise<void>;
}

/** APNs on 127.0.0.1 over HTTP/2 TLS: checks the ES256 provider token, the topic, push type and body. */
export async function startApnsEndpoint(opts: {
  publicKey: KeyObject;
  keyId: string;
  teamId: string;
  bundleId: string;
}): Promise<ApnsEndpoint> {
  const pems = await selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
  });
  const received: ApnsPush[] = [];
  const rejected: string[] = [];
  const answers = new Map<string, ApnsAnswer[]>();
  const expired = new Set<string>();
  const waiters = new Map<string, ((p: ApnsPush) => void)[]>();
  const sessions = new Set<ServerHttp2Session>();
  let connectionCount = 0;
  const numbers = new WeakMap<Http2Session, number>();

  const checkJwt = (authorization: string | undefined): { jwt: string; claims: ApnsPush["claims"] } => {
    const m = /^bearer ([^.\s]+)\.([^.\s]+)\.([^.\s]+)$/.exec(authorization ?? "");
    if (!m) throw new ApnsRefusal(403, "MissingProviderToken", `authorization is ${authorization}`);
    const [, h, p, s] = m as unknown as [string, string, string, string];
    const head = JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, unknown>;
    if (head.alg !== "ES256" || head.kid !== opts.keyId)
      throw new ApnsRefusal(403, "InvalidProviderToken", `header ${JSON.stringify(head)}`);
    const ok = verify(
      "sha256",
      Buffer.from(`${h}.${p}`),
      { key: opts.publicKey, dsaEncoding: "ieee-p1363" },
      Buffer.from(s, "base64url"),
    );
    if (!ok) throw new ApnsRefusal(403, "InvalidProviderToken", "signature does not verify");
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as ApnsPush["claims"];
    if (claims.iss !== opts.teamId) throw new ApnsRefusal(403, "InvalidProviderToken", `iss ${claims.iss}`);
    const age = Date.now() / 1000 - claims.iat;
    if (!(age > -60 && age < 3600)) throw new ApnsRefusal(403, "ExpiredProviderToken", `iat ${claims.iat}`);
    return { jwt: `${h}.${p}.${s}`, claims };
  };

  const server: Http2SecureServer = createSecureServer({ key: pems.private, cert: pems.cert });
  server.on("session", (session) => {
    numbers.set(session, ++connectionCount);
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const reply = (a: ApnsAnswer): void => {
        stream.respond({ ":status": a.status, "apns-id": "00000000-0000-0000-0000-000000000001" });
        stream.end(a.status === 200 ? undefined : JSON.stringify({ reason: a.reason ?? "" }));
      };
      const path = String(headers[constants.HTTP2_HEADER_PATH]);
      const deviceToken = path.replace(/^\/3\/device\//, "");
      let push: ApnsPush | undefined;
      try {
        if (headers[":method"] !== "POST") throw new ApnsRefusal(405, "MethodNotAllowed", "not POST");
        if (!/^\/3\/device\/[0-9a-f]+$/.test(path)) throw new ApnsRefusal(404, "BadPath", path);
        const { jwt, claims } = checkJwt(headers.authorization);
        if (headers["apns-topic"] !== opts.bundleId)
          throw new ApnsRefusal(400, "TopicDisallowed", `topic ${headers["apns-topic"]}`);
        if (headers["apns-push-type"] !== "alert")
          throw new ApnsRefusal(400, "InvalidPushType", `${headers["apns-push-type"]}`);
        if (!/^\d+$/.test(String(headers["apns-expiration"])))
          throw new ApnsRefusal(400, "BadExpirationDate", `${headers["apns-expiration"]}`);
        const body = Buffer.concat(chunks);
        if (body.length > 4096) throw new ApnsRefusal(413, "PayloadTooLarge", `${body.length} bytes`);
        const payload = JSON.parse(body.toString("utf8")) as ApnsPush["payload"];
        if (typeof payload.aps?.alert?.title !== "string")
          throw new ApnsRefusal(400, "PayloadEmpty", "no alert");
        push = { deviceToken, headers, payload, jwt, claims, connection: numbers.get(stream.session!) ?? 0 };
        received.push(push);
        if (expired.has(jwt)) throw new ApnsRefusal(403, "ExpiredProviderToken", "", false);
        reply(answers.get(deviceToken)?.shift() ?? { status: 200 });
      } catch (err) {
        if (!(err instanceof ApnsRefusal)) throw err;
        if (err.counts) rejected.push(`${err.reason}: ${err.message}`);
        reply({ status: err.status, reason: err.reason });
      }
      if (push) waiters.get(deviceToken)?.shift()?.(push);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    ca: pems.cert,
    received,
    rejected,
    answer(deviceToken, ...list) {
      answers.set(deviceToken, [...(answers.get(deviceToken) ?? []), ...list]);
    },
    expire(jwt) {
      expired.add(jwt);
    },
    next(deviceToken) {
      return new Promise((resolve) => {
        const list = waiters.get(deviceToken) ?? [];
        list.push(resolve);
        waiters.set(deviceToken, list);
      });
    },
    goaway() {
      for (const s of sessions) s.goaway();
    },
    connections: () => connectionCount,
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

class ApnsRefusal extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** False for refusals a test asked for (an expired token), true for what the server got wrong. */
    readonly counts = true,
  ) {
    super(message);
  }
}
