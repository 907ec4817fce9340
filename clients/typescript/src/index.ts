/** todo-api's TypeScript client: see client.ts, and schema.d.ts for the generated types. */
export * from "./client.js";
