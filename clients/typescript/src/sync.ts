/**
 * Keeping a local copy of a user's tasks in step with the server: `sync` pulls what changed
 * since the last pull (`GET …/tasks/changes`), `subscribe` applies changes as the server
 * streams them (`GET …/tasks/events`, Server-Sent Events) and resumes where it left off.
 */
import { ProblemError, problemError, type Problem, type Task, type TodoClient } from "./client.js";
import { SseParser, sseEvents } from "./sse.js";

/** The local copy: the tasks by id, and where the next pull or stream resumes. */
export interface TaskReplica {
  /** The user's tasks as the server has them, by id. */
  readonly tasks: Map<number, Task>;
  /** The server's token for "everything up to here"; `undefined` before the first sync. */
  token: string | undefined;
}

/** An empty local copy: the first `sync` fills it. */
export function createReplica(): TaskReplica {
  return { tasks: new Map(), token: undefined };
}

/** What one `sync` did to the replica. */
export interface SyncResult {
  /** The replica was replaced whole: the first sync, or a token the server no longer knows. */
  full: boolean;
  /** Tasks created or changed (all of them after a full sync). */
  changed: Task[];
  /** Ids removed. */
  deleted: number[];
}

/**
 * Brings `replica` up to date. The first call (no token) fetches every task, page after page
 * along `Link`, and replaces the replica's contents; later calls fetch only what changed
 * since its token. A token older than the server keeps deletions for (410 Gone) starts over
 * with a full sync. Throws `ProblemError` (`UnauthorizedError` for a 401 that the client's
 * `onUnauthorized` could not mend) for any other error answer.
 */
export async function sync(client: TodoClient, userId: number, replica: TaskReplica): Promise<SyncResult> {
  if (replica.token !== undefined) {
    try {
      return await pull(client, userId, replica, replica.token);
    } catch (error) {
      if (!(error instanceof ProblemError) || error.status !== 410) throw error;
    }
  }
  return pull(client, userId, replica, undefined);
}

async function pull(
  client: TodoClient,
  userId: number,
  replica: TaskReplica,
  since: string | undefined,
): Promise<SyncResult> {
  const changed = new Map<number, Task>();
  const deleted = new Set<number>();
  let query: Record<string, string> = since === undefined ? {} : { since };
  let next: string | undefined;
  for (;;) {
    const { data, error, response } = await client.GET("/api/{user_id}/tasks/changes", {
      params: { path: { user_id: userId }, query },
    });
    if (data === undefined) throw problemError(response, error as Problem | undefined);
    for (const id of data.deleted) {
      changed.delete(id);
      deleted.add(id);
    }
    for (const task of data.changed) {
      deleted.delete(task.id);
      changed.set(task.id, task);
    }
    next = data.next ?? next;
    const link = nextLink(response);
    if (link === undefined) break;
    // The next page: the query of the `Link` URL, as it is.
    const following: Record<string, string> = {};
    link.searchParams.forEach((value, key) => {
      following[key] = value;
    });
    query = following;
  }
  const full = since === undefined;
  if (full) {
    // The pages together are the whole list: what the replica held before goes.
    for (const id of replica.tasks.keys()) if (!changed.has(id)) deleted.add(id);
    replica.tasks.clear();
  }
  for (const id of deleted) replica.tasks.delete(id);
  for (const [id, task] of changed) replica.tasks.set(id, task);
  if (next !== undefined) replica.token = next;
  return { full, changed: [...changed.values()], deleted: [...deleted] };
}

/** The URL of a response's `Link: <…>; rel="next"`, if another page follows. */
export function nextLink(response: Response): URL | undefined {
  const link = response.headers.get("link");
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /^\s*<([^>]*)>\s*;(?:.*;)?\s*rel="?next"?\s*(?:;.*)?$/.exec(part);
    if (match?.[1] !== undefined) return new URL(match[1], "http://link.invalid");
  }
  return undefined;
}

/** One change the stream delivered, as applied to the replica. */
export type TaskEvent =
  | { type: "ready" }
  | { type: "changed"; task: Task }
  | { type: "deleted"; id: number }
  /** The server ended the stream (`session_revoked`, `session_expired` or `resync`). */
  | { type: "end"; reason: string };

export interface SubscribeOptions {
  /** After each event was applied to the replica (`replica.token` is up to date). */
  onEvent?: (event: TaskEvent, replica: TaskReplica) => void;
  /** After a sync: the first one (when the replica had no token) and each full resync. */
  onSync?: (result: SyncResult, replica: TaskReplica) => void;
  /** Before waiting to connect again, after a failure (network, 429, 503, 5xx). */
  onRetry?: (error: unknown, delayMs: number) => void;
  /** Stops the subscription too, as `stop()` does. */
  signal?: AbortSignal;
  /** The first wait after a failure, doubled after each failure in a row up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /**
   * A connection that brings no byte for this long (the server sends a heartbeat every 15 s
   * by default) is taken for dead and replaced. Default 60 s.
   */
  idleTimeoutMs?: number;
}

/** A running subscription. */
export interface Subscription {
  /** Closes the stream; `done` resolves once it has. */
  stop(): void;
  /**
   * Resolves when the subscription stopped by `stop()` or the signal; rejects with the error
   * that ended it otherwise: `UnauthorizedError` for a 401 that `onUnauthorized` could not
   * mend, `ProblemError` for a 403 or 404.
   */
  readonly done: Promise<void>;
}

/**
 * Applies the server's stream of changes to `replica` until stopped. When the replica has no
 * token yet it is filled by `sync` first, so it starts complete. Each connection sends the
 * replica's token as `Last-Event-ID`, so nothing between two connections is lost; the server
 * ending a stream (whatever its reason: even `resync` resumes from the last id), a dropped
 * connection, a 429 or 503 (after their `Retry-After`) and a 5xx all lead to a new connection.
 * A 401 goes through the client's `onUnauthorized` hook (a new login); a 410 Gone (the token
 * is older than the changes the server keeps) replaces the replica by a full `sync`.
 */
export function subscribe(
  client: TodoClient,
  userId: number,
  replica: TaskReplica,
  options: SubscribeOptions = {},
): Subscription {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  const done = follow(client, userId, replica, options, signal).catch((error: unknown) => {
    if (!signal.aborted) throw error;
  });
  return { stop: () => controller.abort(), done };
}

async function follow(
  client: TodoClient,
  userId: number,
  replica: TaskReplica,
  options: SubscribeOptions,
  signal: AbortSignal,
): Promise<void> {
  const firstRetry = options.retryMs ?? 1000;
  const maxRetry = options.maxRetryMs ?? 30_000;
  const idleTimeout = options.idleTimeoutMs ?? 60_000;
  let retry = firstRetry;
  const failed = async (error: unknown, retryAfter: number | undefined): Promise<void> => {
    const delay = retryAfter ?? retry;
    retry = Math.min(retry * 2, maxRetry);
    options.onRetry?.(error, delay);
    await sleep(delay, signal);
  };
  while (!signal.aborted) {
    if (replica.token === undefined) {
      let result: SyncResult;
      try {
        result = await sync(client, userId, replica);
      } catch (error) {
        if (!retriable(error)) throw error;
        await failed(error, error instanceof ProblemError ? retryAfterMs(error.response) : undefined);
        continue;
      }
      options.onSync?.(result, replica);
    }
    // This connection alone is dropped when it goes quiet for too long.
    const quiet = new AbortController();
    let idle: ReturnType<typeof setTimeout> | undefined;
    const awake = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => quiet.abort(new Error("the event stream went quiet")), idleTimeout);
    };
    let body: ReadableStream<Uint8Array>;
    try {
      awake();
      const { data, error, response } = await client.GET("/api/{user_id}/tasks/events", {
        params: { path: { user_id: userId } },
        headers: replica.token === undefined ? {} : { "Last-Event-ID": replica.token },
        parseAs: "stream",
        signal: AbortSignal.any([signal, quiet.signal]),
      });
      if (data === undefined || data === null) {
        clearTimeout(idle);
        const problem = problemError(response, error as Problem | undefined);
        if (response.status === 410) {
          replica.token = undefined;
          continue;
        }
        if (!retriable(problem)) throw problem;
        await failed(problem, retryAfterMs(response));
        continue;
      }
      body = (data as ReadableStream<Uint8Array>).pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            awake();
            controller.enqueue(chunk);
          },
        }),
      );
    } catch (error) {
      clearTimeout(idle);
      if (signal.aborted || (!quiet.signal.aborted && !retriable(error))) throw error;
      await failed(error, undefined);
      continue;
    }
    let ended = false;
    try {
      const parser = new SseParser(replica.token ?? "");
      for await (const sse of sseEvents(body, parser)) {
        const event = apply(replica, sse.event, sse.data);
        if (sse.hasId) replica.token = sse.lastEventId;
        if (event === undefined) continue;
        retry = firstRetry;
        if (event.type === "end") ended = true;
        options.onEvent?.(event, replica);
        if (ended) break;
      }
    } catch (error) {
      if (signal.aborted) throw error;
      await failed(error, undefined);
      continue;
    } finally {
      clearTimeout(idle);
    }
    // A stream that ended without saying why is a dropped connection: wait before the next.
    if (!ended) await failed(new Error("the event stream ended"), undefined);
  }
}

/** Applies one event to the replica; `undefined` for an event this client does not know. */
function apply(replica: TaskReplica, type: string, data: string): TaskEvent | undefined {
  switch (type) {
    case "ready":
      return { type: "ready" };
    case "task.changed": {
      const task = JSON.parse(data) as Task;
      replica.tasks.set(task.id, task);
      return { type: "changed", task };
    }
    case "task.deleted": {
      const { id } = JSON.parse(data) as { id: number };
      replica.tasks.delete(id);
      return { type: "deleted", id };
    }
    case "end": {
      const { reason } = JSON.parse(data) as { reason: string };
      return { type: "end", reason };
    }
    default:
      return undefined;
  }
}

/** Network failures, 429, 503 and other 5xx are worth another try; other errors are not. */
function retriable(error: unknown): boolean {
  if (error instanceof ProblemError) return error.status === 429 || error.status >= 500;
  return !(error instanceof Error && error.name === "AbortError");
}

/** `Retry-After` in milliseconds (seconds, or an HTTP date), when the response has one. */
export function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get("retry-after");
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
  });
}
