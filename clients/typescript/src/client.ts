/**
 * A typed client for todo-api: `paths` and `components` are generated from the committed
 * OpenAPI document (`npm run generate`), and openapi-fetch turns them into typed calls.
 */
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, paths };
export type Task = components["schemas"]["Task"];
export type CreateTask = components["schemas"]["CreateTask"];
export type UpdateTask = components["schemas"]["UpdateTask"];
export type User = components["schemas"]["User"];
export type Problem = components["schemas"]["Problem"];
export type TodoClient = Client<paths>;

/** A client for the server at `baseUrl`; with a token, every request carries it. */
export function createTodoClient(baseUrl: string, token?: string): TodoClient {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  return createClient<paths>({ baseUrl, headers });
}

/** The `cursor` of a list response's `Link: <…>; rel="next"`, if another page follows. */
export function nextCursor(response: Response): string | undefined {
  const link = response.headers.get("link");
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /^\s*<([^>]*)>\s*;\s*rel="?next"?\s*$/.exec(part);
    if (match?.[1] !== undefined) {
      return new URL(match[1], "http://link.invalid").searchParams.get("cursor") ?? undefined;
    }
  }
  return undefined;
}
