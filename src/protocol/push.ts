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

/** The kinds of notification a device can switch on and off (push.preferences). */
export const PushKinds = Type.Object(
  {
    /** A tool call waits for an answer (with Approve and Deny). */
    permission: Type.Boolean(),
    /** A run of the agent finished. */
    turnEnded: Type.Boolean(),
    /** A run ended on a model provider error. */
    turnFailed: Type.Boolean(),
    /** A running turn was cut short (the server stopped or crashed). */
    interrupted: Type.Boolean(),
  },
  Known,
);
export type PushKinds = Static<typeof PushKinds>;

const ClockTime = Type.String({ pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$", description: "HH:MM, 24-hour" });

/** A daily window (it may cross midnight) in which only permission requests are pushed. */
export const QuietHours = Type.Object(
  {
    start: ClockTime,
    end: ClockTime,
    /** An IANA time zone such as "Europe/Berlin"; the server's own when absent. */
    timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  Known,
);
export type QuietHours = Static<typeof QuietHours>;

/** One paired device's choice of what it is told, and when it is left alone. */
export const PushPreferences = Type.Object({
  kinds: PushKinds,
  quietHours: Type.Union([QuietHours, Type.Null()]),
});
export type PushPreferences = Static<typeof PushPreferences>;

/** How many devices a channel has, and how many of them a test notification reached. */
export const PushTestChannel = Type.Object({
  channel: Type.Union([Type.Literal("webpush"), Type.Literal("apns")]),
  devices: Type.Integer(),
  delivered: Type.Integer(),
});

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
  "push.preferences.get": {
    scoped: false,
    description:
      "This device's notification preferences: which kinds it is sent and its quiet hours (defaults: every kind, no quiet hours).",
    params: Type.Object({}, Known),
    result: PushPreferences,
  },
  "push.preferences.set": {
    scoped: false,
    description:
      "Change this device's notification preferences: kinds named are switched on or off (others stay), quietHours sets the daily window in which only permission requests are pushed (null removes it). invalid_request with data.field for an unknown time zone or an empty window.",
    params: Type.Object(
      {
        kinds: Type.Optional(Type.Partial(PushKinds, Known)),
        quietHours: Type.Optional(Type.Union([QuietHours, Type.Null()])),
      },
      Known,
    ),
    result: PushPreferences,
  },
  "push.test": {
    scoped: false,
    description:
      "Send a test notification to every registered device (whatever their preferences); resolves once delivery was tried, with how many devices each channel has and reached. Owner or admin devices only.",
    params: Type.Object({}, Known),
    result: Type.Object({ channels: Type.Array(PushTestChannel) }),
  },
  "client.visibility": {
    scoped: false,
    description:
      "Whether this client is on screen (the web app calls it on connect and on visibilitychange). While a client that said visible: true is attached to a session, nothing about that session is pushed to any device; hidden or disconnected, pushes go again.",
    params: Type.Object({ visible: Type.Boolean() }, Known),
    result: Type.Object({ visible: Type.Boolean() }),
  },
} as const;
