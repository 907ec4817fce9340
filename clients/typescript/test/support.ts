/**
 * What the scripts share: the server's address, checked results, one line per check.
 */
import assert from "node:assert/strict";

import type { Problem } from "../src/index.js";

/** The server under test, from `TODO_API_URL` (e.g. `http://127.0.0.1:8001`). */
export function baseUrl(): string {
  const url = process.env["TODO_API_URL"];
  if (!url) {
    throw new Error("set TODO_API_URL to the server's base URL, e.g. http://127.0.0.1:8001");
  }
  return url.replace(/\/+$/, "");
}

/** Prints one line saying what was checked. */
export function passed(what: string): void {
  console.log(`ok - ${what}`);
}

/** The shape of every openapi-fetch result: data on success, the typed error body otherwise. */
type Result<D, E> =
  | { data: D; error?: never; response: Response }
  | { data?: never; error: E; response: Response };

type Success<D> = { data: D; error?: never; response: Response };

/** A 2xx response without an error body. */
function succeeded<D, E>(result: Result<D, E>): result is Success<D> {
  return result.response.ok && result.error === undefined;
}

function describe(response: Response, body: unknown): string {
  return `${response.status} ${JSON.stringify(body)}`;
}

/** Asserts a success with `status` and returns its body and response. */
export async function expectOk<D, E>(
  call: Promise<Result<D, E>>,
  status: number,
): Promise<{ data: D; response: Response }> {
  const result = await call;
  assert.equal(
    result.response.status,
    status,
    `expected ${status}, got ${describe(result.response, result.error ?? result.data)}`,
  );
  if (!succeeded(result)) {
    throw new Error(`expected a success, got ${describe(result.response, result.error)}`);
  }
  return { data: result.data, response: result.response };
}

/** Asserts a problem+json error with `status` and returns the problem. */
export async function expectProblem<D>(
  call: Promise<Result<D, Problem>>,
  status: number,
): Promise<{ problem: Problem; response: Response }> {
  const result = await call;
  assert.equal(
    result.response.status,
    status,
    `expected ${status}, got ${describe(result.response, result.error ?? result.data)}`,
  );
  assert.equal(result.response.headers.get("content-type"), "application/problem+json");
  if (result.error === undefined) {
    throw new Error(`expected a problem body, got ${describe(result.response, result.data)}`);
  }
  const problem = result.error;
  assert.equal(problem.status, status, "the problem's status matches the response's");
  assert.ok(problem.detail.length > 0, "the problem has a readable detail");
  return { problem, response: result.response };
}

/** A response header that must be there. */
export function header(response: Response, name: string): string {
  const value = response.headers.get(name);
  assert.ok(value !== null, `the response has no ${name} header`);
  return value;
}

/** A fresh account name, so runs against a shared server do not collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
