/** todo-api's TypeScript client: see client.ts and sse.ts, and schema.d.ts for the generated types. */
export * from "./client.js";
export * from "./sse.js";
