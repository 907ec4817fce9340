/**
 * A typed client for todo-api: `paths` and `components` are generated from the committed
 * OpenAPI document (`npm run generate`), and openapi-fetch turns them into typed calls. Beside
 * it: pages through the `Link` cursor, and a hook for the 401 of an expired or revoked token.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, paths };
export type Task = components["schemas"]["Task"];
export type CreateTask = components["schemas"]["CreateTask"];
export type UpdateTask = components["schemas"]["UpdateTask"];
export type User = components["schemas"]["User"];
export type Problem = components["schemas"]["Problem"];
export type TodoClient = Client<paths>;
/** The list's query parameters: filters, `sort`, `order`, `limit`, `cursor`. */
export type TaskQuery = NonNullable<paths["/api/{user_id}/tasks"]["get"]["parameters"]["query"]>;

export interface TodoClientOptions {
  /** The access token from `POST /api/auth/login`; every request carries it. */
  token?: string;
  /**
   * Called when a request is answered 401 (the token expired, or was revoked by a logout).
   * Return a new token (log in again) and the request is sent once more with it, as are all
   * later requests; return `undefined` and the 401 is returned to the caller as it came.
   */
  onUnauthorized?: (problem: Problem | undefined) => Promise<string | undefined> | string | undefined;
  /** Headers for every request, e.g. `{ Prefer: "count=exact" }` for list totals. */
  headers?: Record<string, string>;
  /** A fetch of your own (tests, proxies); `globalThis.fetch` otherwise. */
  fetch?: (input: Request) => Promise<Response>;
}

/** A client for the server at `baseUrl`: with a token (or options), requests carry it. */
export function createTodoClient(baseUrl: string, auth?: string | TodoClientOptions): TodoClient {
  const options: TodoClientOptions = typeof auth === "string" ? { token: auth } : (auth ?? {});
  const client = createClient<paths>({
    baseUrl,
    headers: options.headers ?? {},
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  if (options.token !== undefined || options.onUnauthorized !== undefined) {
    client.use(bearer(options));
  }
  return client;
}

/**
 * Sets `Authorization` on each request; on a 401, asks `onUnauthorized` for a new token and
 * sends the request once more. Requests that meet a 401 together share one call of the hook,
 * and one sent with a token already replaced is simply sent again with the new one.
 */
function bearer({ token, onUnauthorized }: TodoClientOptions): Middleware {
  let current = token;
  let renewing: Promise<string | undefined> | undefined;
  // A copy of each request whose body is still unread, and the token it was sent with.
  const copies = new Map<string, { request: Request; sentWith: string | undefined }>();
  return {
    onRequest({ request, id }) {
      if (current !== undefined) request.headers.set("Authorization", `Bearer ${current}`);
      if (onUnauthorized) copies.set(id, { request: request.clone(), sentWith: current });
      return request;
    },
    async onResponse({ response, id, options }) {
      const copy = copies.get(id);
      copies.delete(id);
      if (response.status !== 401 || !onUnauthorized || !copy) return undefined;
      if (copy.sentWith === current) {
        if (renewing === undefined) {
          const problem = (await response
            .clone()
            .json()
            .catch(() => undefined)) as Problem | undefined;
          renewing = Promise.resolve(onUnauthorized(problem)).finally(() => {
            renewing = undefined;
          });
        }
        const renewed = await renewing;
        if (renewed === undefined) return undefined;
        current = renewed;
      }
      if (current === undefined) return undefined;
      copy.request.headers.set("Authorization", `Bearer ${current}`);
      return options.fetch(copy.request);
    },
    onError({ id }) {
      copies.delete(id);
    },
  };
}

/** An error answer (problem+json, RFC 9457) raised by the helpers below. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
    readonly response: Response,
  ) {
    super(`${status}: ${problem?.detail ?? response.statusText}`);
    this.name = "ProblemError";
  }
}

/** 401: no token, or an expired or revoked one. Log in again. */
export class UnauthorizedError extends ProblemError {
  constructor(problem: Problem | undefined, response: Response) {
    super(401, problem, response);
    this.name = "UnauthorizedError";
  }
}

/** The error for a failed response: `UnauthorizedError` for a 401, `ProblemError` otherwise. */
export function problemError(response: Response, problem: Problem | undefined): ProblemError {
  return response.status === 401
    ? new UnauthorizedError(problem, response)
    : new ProblemError(response.status, problem, response);
}

/** The `cursor` of a list response's `Link: <…>; rel="next"`, if another page follows. */
export function nextCursor(response: Response): string | undefined {
  const link = response.headers.get("link");
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /^\s*<([^>]*)>\s*;(?:.*;)?\s*rel="?next"?\s*(?:;.*)?$/.exec(part);
    if (match?.[1] !== undefined) {
      return new URL(match[1], "http://link.invalid").searchParams.get("cursor") ?? undefined;
    }
  }
  return undefined;
}

/** One page of a task list. */
export interface TaskPage {
  tasks: Task[];
  /** `X-Total-Count`: sent when the request said `Prefer: count=exact`. */
  total: number | undefined;
  /** Where the next page starts; `undefined` on the last page. */
  cursor: string | undefined;
  response: Response;
}

/**
 * Every page of `GET /api/{user_id}/tasks` with `query`, following the `Link` cursor to the
 * last page. Later pages send the same query with the cursor, as the `Link` URL does. Throws
 * `ProblemError` (`UnauthorizedError` for a 401) when the server answers with an error.
 */
export async function* taskPages(
  client: TodoClient,
  userId: number,
  query: Omit<TaskQuery, "cursor"> = {},
): AsyncGenerator<TaskPage, void, undefined> {
  let cursor: string | undefined;
  do {
    const { data, error, response } = await client.GET("/api/{user_id}/tasks", {
      params: { path: { user_id: userId }, query: cursor === undefined ? query : { ...query, cursor } },
    });
    if (data === undefined) throw problemError(response, error);
    const total = response.headers.get("x-total-count");
    cursor = nextCursor(response);
    yield { tasks: data, total: total === null ? undefined : Number(total), cursor, response };
  } while (cursor !== undefined);
}
