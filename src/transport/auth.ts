import { timingSafeEqual } from "node:crypto";
import { hashToken, type TokenMatch, type TokenStore } from "../store/tokens.js";

export interface Authenticator {
  /** `address` is recorded as the token's last-seen address. */
  verify(token: string | undefined, address?: string): TokenMatch | undefined;
}

/** Stored owner/device tokens, plus PI_SERVER_TOKEN from the environment when it is set. */
export function createAuthenticator(tokens: TokenStore, envToken: string | undefined): Authenticator {
  const envHash = envToken ? hashToken(envToken) : undefined;
  return {
    verify(token, address) {
      if (!token || token.length > 512) return undefined;
      const stored = tokens.verify(token, address);
      if (envHash) {
        const envMatch = timingSafeEqual(hashToken(token), envHash);
        if (envMatch && !stored) return { id: "env", kind: "owner", name: "PI_SERVER_TOKEN" };
      }
      return stored;
    },
  };
}

export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}
