/** todo-api's TypeScript client: see client.ts, sync.ts and sse.ts, and schema.d.ts for the generated types. */
export * from "./client.js";
export * from "./sse.js";
export * from "./sync.js";
