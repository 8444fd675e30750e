import type { PushPayload, SendCount } from "./web-push.js";

/** A way notifications reach devices (Web Push, APNs): each renders the same payload its own way. */
export interface PushChannel {
  readonly name: "webpush" | "apns";
  /** `payload` per device (each gets its own action token; undefined skips it); counts the sends. */
  sendAll(payload: (device: { tokenId: string }) => PushPayload | undefined): Promise<SendCount>;
  /** The paired devices (token ids) this channel reaches; one per registration. */
  devices(): string[];
}

/** A channel whose devices register a platform token with push.register. */
export interface DeviceTokenChannel extends PushChannel {
  readonly platform: "apns";
  register(tokenId: string, deviceToken: string): { id: string };
  unregister(tokenId: string, deviceToken: string): boolean;
  /** A revoked device's tokens go with it. */
  forgetDevices(tokenIds: readonly string[]): void;
  /** Ends the channel's connection (the server stops). */
  close(): void;
}
