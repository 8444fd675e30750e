export * from "./envelope.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./hello.js";
export * from "./methods.js";
export * from "./native-tools.js";
export * from "./permissions.js";
export * from "./types.js";
