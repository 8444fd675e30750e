import type { PushPayload } from "./web-push.js";

/** A way notifications reach devices (Web Push, APNs): each renders the same payload its own way. */
export interface PushChannel {
  /** `payload` per device (each gets its own action token); resolves with how many were sent to. */
  sendAll(payload: (device: { tokenId: string }) => PushPayload): Promise<number>;
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
