import { Type, type Static } from "typebox";

const Known = {} as const;

/** A browser's PushSubscription as `subscription.toJSON()` gives it. */
export const WebPushSubscription = Type.Object(
  {
    /** The push service's URL for this browser; https only. */
    endpoint: Type.String({ minLength: 9, maxLength: 2048, pattern: "^https://" }),
    expirationTime: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    keys: Type.Object(
      {
        /** The browser's P-256 public key, base64url (65 bytes). */
        p256dh: Type.String({ minLength: 80, maxLength: 100, pattern: "^[A-Za-z0-9_-]+=*$" }),
        /** The 16-byte auth secret, base64url. */
        auth: Type.String({ minLength: 16, maxLength: 32, pattern: "^[A-Za-z0-9_-]+=*$" }),
      },
      Known,
    ),
  },
  Known,
);
export type WebPushSubscription = Static<typeof WebPushSubscription>;

/** A native app's push registration: the platform and the device token it was given. */
const DeviceRegistration = {
  /** Only Apple's for now: the iOS app's token from registerForRemoteNotifications. */
  platform: Type.Literal("apns"),
  /** The APNs device token as hex (its bytes, two hex digits each; 32 bytes today). */
  deviceToken: Type.String({ minLength: 32, maxLength: 200, pattern: "^([0-9A-Fa-f]{2})+$" }),
};

/** Push methods, spread into the method table. */
export const PushMethods = {
  "push.config": {
    scoped: false,
    description:
      "The server's VAPID public key (base64url), for PushManager.subscribe's applicationServerKey.",
    params: Type.Object({}, Known),
    result: Type.Object({ vapidPublicKey: Type.String() }),
  },
  "push.subscribe": {
    scoped: false,
    description:
      "Register this device's Web Push subscription: it is notified when a permission request waits. Tied to the token that paired; a revoked device's subscriptions go with it.",
    params: Type.Object({ subscription: WebPushSubscription }, Known),
    result: Type.Object({ id: Type.String(), vapidPublicKey: Type.String() }),
  },
  "push.unsubscribe": {
    scoped: false,
    description: "Forget a subscription of this device (by its endpoint).",
    params: Type.Object({ endpoint: Type.String({ minLength: 1, maxLength: 2048 }) }, Known),
    result: Type.Object({ removed: Type.Boolean() }),
  },
  "push.register": {
    scoped: false,
    description:
      "Register this device's APNs device token (the iOS app): it is notified when a permission request waits. Tied to the token that paired; a revoked device's tokens go with it. invalid_request with data.reason \"apns_not_configured\" when the server has no push.apns.",
    params: Type.Object(DeviceRegistration, Known),
    result: Type.Object({ id: Type.String() }),
  },
  "push.unregister": {
    scoped: false,
    description: "Forget an APNs device token of this device.",
    params: Type.Object(DeviceRegistration, Known),
    result: Type.Object({ removed: Type.Boolean() }),
  },
} as const;
