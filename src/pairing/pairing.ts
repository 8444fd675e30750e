import { ProtocolError } from "../protocol/errors.js";
import { canonicalJson, encodeInvite, type Invite, type SignedInvite } from "../protocol/invite.js";
import type { PairingTokens } from "../store/pairing-tokens.js";
import type { TokenStore } from "../store/tokens.js";
import { generateToken } from "../store/tokens.js";
import { checkDeviceName } from "./device-names.js";
import type { Identity } from "./identity.js";

export interface InviteOptions {
  hosts: string[];
  port: number;
  scheme: "http" | "https";
  tlsFingerprint?: string;
  ttlMs: number;
  deviceName?: string;
}

export interface PairResult {
  deviceId: string;
  deviceName: string;
  token: string;
  serverId: string;
  publicKey: string;
}

/** Signed invites out, device tokens in exchange for a valid pairing secret. */
export class PairingService {
  constructor(
    private readonly identity: Identity,
    private readonly pairingTokens: PairingTokens,
    private readonly tokens: TokenStore,
  ) {}

  createInvite(opts: InviteOptions): SignedInvite {
    if (opts.deviceName !== undefined) checkDeviceName(opts.deviceName);
    const { token, expiresAt } = this.pairingTokens.create(opts.ttlMs, opts.deviceName);
    const invite: Invite = {
      v: 1,
      serverId: this.identity.serverId,
      publicKey: this.identity.publicKey,
      hosts: opts.hosts,
      port: opts.port,
      scheme: opts.scheme,
      ...(opts.tlsFingerprint ? { tlsFingerprint: opts.tlsFingerprint } : {}),
      pairingToken: token,
      expiresAt,
    };
    return { invite, signature: this.identity.sign(canonicalJson(invite)) };
  }

  /** Names identify devices in `token revoke <name>`: a second "phone" becomes "phone (2)". */
  private uniqueName(wanted: string): string {
    const taken = new Set(this.tokens.devices().map((d) => d.name));
    let name = wanted;
    for (let n = 2; taken.has(name); n++) name = `${wanted} (${n})`;
    return name;
  }

  pair(pairingToken: string, deviceName: string | undefined): PairResult {
    // Checked before the single-use secret is spent, so the device can retry with another name.
    if (deviceName !== undefined) checkDeviceName(deviceName);
    const result = this.pairingTokens.consume(pairingToken);
    if (!result.ok) {
      const why = {
        invalid: "unknown pairing token",
        expired: "pairing token expired",
        used: "pairing token already used",
      };
      throw new ProtocolError("unauthorized", why[result.reason], { reason: result.reason });
    }
    const name = this.uniqueName(deviceName ?? result.deviceName ?? "device");
    const token = generateToken();
    const deviceId = this.tokens.add("device", name, token);
    return {
      deviceId,
      deviceName: name,
      token,
      serverId: this.identity.serverId,
      publicKey: this.identity.publicKey,
    };
  }
}

export function inviteLinks(signed: SignedInvite, deviceName?: string): { app: string; web: string } {
  const encoded = encodeInvite(signed);
  const { scheme, hosts, port } = signed.invite;
  // The name (`pair --name`) rides beside the signed invite, for the web app to fill in its form:
  // the server keeps it with the pairing secret too, so it is a suggestion, not a claim.
  const name = deviceName ? `&name=${encodeURIComponent(deviceName)}` : "";
  return {
    app: `pi-server://pair?invite=${encoded}`,
    web: `${scheme}://${hosts[0] ?? "localhost"}:${port}/app/#pair=${encoded}${name}`,
  };
}
