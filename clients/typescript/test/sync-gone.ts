/**
 * A copy whose token the server no longer knows (older than the changes it keeps: 410 Gone),
 * against two live instances as in test/sync.ts: `TODO_API_URL` (A, writes) and
 * `TODO_API_URL_B` (B, the copy). Starts from the copy test/sync.ts left in `SYNC_STATE`,
 * after the database dropped every change logged so far and one task was deleted behind the
 * server's back. Prints one line per step; the first failure ends it with a non-zero status.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  createTodoClient,
  subscribe,
  sync,
  taskPages,
  type SyncResult,
  type Task,
  type TaskEvent,
  type TaskReplica,
} from "../src/index.js";
import { baseUrl, expectOk, passed } from "./support.js";

const statePath = process.env["SYNC_STATE"];
const baseB = process.env["TODO_API_URL_B"]?.replace(/\/+$/, "");
if (!statePath || !baseB) throw new Error("set SYNC_STATE and TODO_API_URL_B");
const saved = JSON.parse(readFileSync(statePath, "utf8")) as {
  email: string;
  password: string;
  userId: number;
  token: string;
  tasks: Task[];
};
const credentials = { email: saved.email, password: saved.password };
const logIn = async (base: string): Promise<string> =>
  (await expectOk(createTodoClient(base).POST("/api/auth/login", { body: credentials }), 200)).data
    .access_token;
const a = createTodoClient(baseUrl(), await logIn(baseUrl()));
const b = createTodoClient(baseB, await logIn(baseB));
const path = { user_id: saved.userId };
const restore = (): TaskReplica => ({
  tasks: new Map(saved.tasks.map((t) => [t.id, t])),
  token: saved.token,
});
async function serverList(): Promise<Task[]> {
  const tasks: Task[] = [];
  for await (const page of taskPages(a, saved.userId)) tasks.push(...page.tasks);
  return tasks.sort((x, y) => x.id - y.id);
}
const local = (replica: TaskReplica): Task[] => [...replica.tasks.values()].sort((x, y) => x.id - y.id);

// 1. sync with the stale token: 410, then a full sync replaces the copy.
const pulled = restore();
const expected = await serverList();
assert.ok(expected.length < pulled.tasks.size, "a task was deleted behind the server's back");
const result = await sync(b, saved.userId, pulled);
assert.equal(result.full, true, "the stale token led to a full sync");
assert.notEqual(pulled.token, saved.token);
assert.deepEqual(local(pulled), expected);
assert.deepEqual(
  result.deleted,
  saved.tasks.filter((t) => !expected.some((e) => e.id === t.id)).map((t) => t.id),
  "the full sync reports the task it dropped",
);
passed(`sync with a token older than the changes kept: 410, then a full sync; the dropped task is gone (${result.deleted.join(", ")})`);

// 2. subscribe with the stale token: 410, a full sync, then live events.
const streamed = restore();
const syncs: SyncResult[] = [];
const events: TaskEvent[] = [];
let wake: (() => void) | undefined;
const live = subscribe(b, saved.userId, streamed, {
  onSync: (r) => {
    syncs.push(r);
    wake?.();
  },
  onEvent: (e) => {
    events.push(e);
    wake?.();
  },
  retryMs: 100,
});
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 1000);
    });
  }
}
await until(() => events.some((e) => e.type === "ready"), "the stream opens after the resync");
assert.deepEqual(
  syncs.map((s) => s.full),
  [true],
  "one full sync, before the stream",
);
const { data: added } = await expectOk(
  a.POST("/api/{user_id}/tasks", { params: { path }, body: { title: "after the resync" } }),
  201,
);
await until(() => streamed.tasks.has(added.id), "the task created after the resync");
assert.deepEqual(local(streamed), await serverList());
live.stop();
await live.done;
passed("subscribe with a token older than the changes kept: 410, a full sync (onSync), then live events again");
