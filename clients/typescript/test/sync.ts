/**
 * `sync` and `subscribe` against two live instances on one database: `TODO_API_URL` (A, where
 * the writes go) and `TODO_API_URL_B` (B, where the local copy is kept). Every step asserts
 * what it saw, then prints one line saying what it checked; the first failure ends the
 * script with a non-zero status.
 */
import assert from "node:assert/strict";

import {
  createReplica,
  createTodoClient,
  subscribe,
  sync,
  taskPages,
  type Task,
  type TaskEvent,
  type TaskReplica,
  type TodoClient,
} from "../src/index.js";
import { baseUrl, expectOk, passed, uniqueName } from "./support.js";

const baseA = baseUrl();
const baseB = process.env["TODO_API_URL_B"]?.replace(/\/+$/, "");
if (!baseB) throw new Error("set TODO_API_URL_B to a second instance's base URL");
/** The longest any step waits for an event before the script fails (not a measurement). */
const patienceMs = 30_000;

const anonymousA = createTodoClient(baseA);
const anonymousB = createTodoClient(baseB);
const username = uniqueName("sync");
const email = `${username.toLowerCase()}@example.com`;
const password = "correct horse battery staple";
const { data: user } = await expectOk(
  anonymousA.POST("/api/auth/register", { body: { username, email, password } }),
  201,
);
const logIn = async (client: TodoClient): Promise<string> =>
  (await expectOk(client.POST("/api/auth/login", { body: { email, password } }), 200)).data.access_token;

// The writer on A and the reader on B hold sessions of their own; B logs in again on a 401.
const a = createTodoClient(baseA, await logIn(anonymousA));
let logins = 0;
const b = createTodoClient(baseB, {
  token: await logIn(anonymousB),
  onUnauthorized: async () => {
    logins += 1;
    return logIn(anonymousB);
  },
});
const path = { user_id: user.id };

const create = async (title: string): Promise<Task> =>
  (await expectOk(a.POST("/api/{user_id}/tasks", { params: { path }, body: { title } }), 201)).data;
const rename = async (id: number, title: string): Promise<Task> =>
  (await expectOk(a.PUT("/api/{user_id}/tasks/{id}", { params: { path: { ...path, id } }, body: { title } }), 200))
    .data;
const complete = async (id: number): Promise<Task> =>
  (await expectOk(a.PATCH("/api/{user_id}/tasks/{id}/complete", { params: { path: { ...path, id } } }), 200)).data;
const remove = async (id: number): Promise<void> => {
  await expectOk(a.DELETE("/api/{user_id}/tasks/{id}", { params: { path: { ...path, id } } }), 204);
};

/** The server's list, every page, by id. */
async function serverList(): Promise<Task[]> {
  const tasks: Task[] = [];
  for await (const page of taskPages(a, user.id)) tasks.push(...page.tasks);
  return tasks.sort((x, y) => x.id - y.id);
}
const local = (replica: TaskReplica): Task[] => [...replica.tasks.values()].sort((x, y) => x.id - y.id);
async function assertMirrors(replica: TaskReplica, what: string): Promise<Task[]> {
  const expected = await serverList();
  assert.deepEqual(local(replica), expected, `${what}: the local copy is not the server's list`);
  return expected;
}
const ids = (tasks: { id: number }[]): number[] => tasks.map((t) => t.id).sort((x, y) => x - y);

// 1. A first sync on B fetches everything.
const first = await Promise.all(["one", "two", "three", "four"].map(create));
const replica = createReplica();
const full = await sync(b, user.id, replica);
assert.equal(full.full, true);
assert.ok(replica.token !== undefined, "a full sync leaves a token");
await assertMirrors(replica, "after the first sync");
passed(`first sync on B: all ${replica.tasks.size} tasks created on A, and a token`);

// 2. Changes through A, then a sync on B with the token: exactly what changed.
const [t1, t2, t3] = first as [Task, Task, Task, Task];
await rename(t1.id, "one, renamed");
await complete(t2.id);
await remove(t3.id);
const t5 = await create("five");
const delta = await sync(b, user.id, replica);
assert.equal(delta.full, false);
assert.deepEqual(ids(delta.changed), ids([t1, t2, t5]));
assert.deepEqual(delta.deleted, [t3.id]);
await assertMirrors(replica, "after the delta");
const quiet = await sync(b, user.id, replica);
assert.deepEqual([quiet.full, quiet.changed, quiet.deleted], [false, [], []]);
passed(
  `sync with the token after an update, a completion, a delete and a create on A: changed ${delta.changed.length}, deleted ${delta.deleted.length}; the copy is the server's list; a sync with nothing new is empty`,
);

// Waits, with a subscription running, for `done` to hold after some event.
type Waiter = { done: () => boolean; resolve: () => void };
const waiters = new Set<Waiter>();
const events: TaskEvent[] = [];
const onEvent = (event: TaskEvent): void => {
  events.push(event);
  for (const waiter of waiters) {
    if (waiter.done()) {
      waiters.delete(waiter);
      waiter.resolve();
    }
  }
};
async function until(done: () => boolean, what: string): Promise<void> {
  if (done()) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      waiters.add({ done, resolve });
      timer = setTimeout(() => reject(new Error(`no event within ${patienceMs} ms: ${what}`)), patienceMs);
    });
  } finally {
    clearTimeout(timer);
  }
}
const has = (id: number, title?: string): boolean =>
  replica.tasks.has(id) && (title === undefined || replica.tasks.get(id)?.title === title);

// 3. A stream on B sees what A writes.
let subscription = subscribe(b, user.id, replica, { onEvent, retryMs: 100 });
await until(() => events.some((e) => e.type === "ready"), "the stream opens");
const t6 = await create("six");
await until(() => has(t6.id), "a task created on A");
await rename(t6.id, "six, renamed");
await until(() => has(t6.id, "six, renamed"), "a task renamed on A");
await remove(t1.id);
await until(() => !replica.tasks.has(t1.id), "a task deleted on A");
await assertMirrors(replica, "with the stream open");
passed("a stream on B (subscribe): a create, an update and a delete made on A arrive as events; the copy is the server's list");

// 4. Stopped, then resumed with the token: what happened meanwhile arrives.
subscription.stop();
await subscription.done;
const tokenAtStop = replica.token;
const t7 = await create("seven");
await rename(t5.id, "five, renamed");
await remove(t2.id);
events.length = 0;
subscription = subscribe(b, user.id, replica, { onEvent, retryMs: 100 });
await until(() => has(t7.id) && has(t5.id, "five, renamed") && !replica.tasks.has(t2.id), "the changes made while away");
assert.notEqual(replica.token, tokenAtStop);
await assertMirrors(replica, "after resuming");
passed("stopped, three changes on A, subscribed again: all three arrive through Last-Event-ID");

// 5. B's session revoked: the stream ends, the client logs in again and resumes.
const loginsBefore = logins;
events.length = 0;
await expectOk(b.POST("/api/auth/logout"), 204);
const t8 = await create("eight, while B logs in again");
const reopened = (): boolean => {
  const end = events.findIndex((e) => e.type === "end");
  return end !== -1 && events.slice(end).some((e) => e.type === "ready");
};
await until(reopened, "the stream ends when its session is revoked, and opens again");
assert.deepEqual(
  events.find((e) => e.type === "end"),
  { type: "end", reason: "session_revoked" },
);
await until(() => has(t8.id), "the task created while B's session was revoked");
assert.equal(logins, loginsBefore + 1, "one new login");
await assertMirrors(replica, "after logging in again");
subscription.stop();
await subscription.done;
passed(
  "B's session revoked: the stream ends (session_revoked), onUnauthorized logs in once, and the task created meanwhile on A arrives",
);

// 6. The copy made by events equals one made by a fresh full sync.
const fresh = createReplica();
await sync(b, user.id, fresh);
assert.deepEqual(local(replica), local(fresh));
passed(`the copy kept by events equals a fresh full sync: ${fresh.tasks.size} tasks`);

// For test/sync-gone.ts: the copy as it stands, and how to log in again.
const statePath = process.env["SYNC_STATE"];
if (statePath) {
  const { writeFileSync } = await import("node:fs");
  const state = { email, password, userId: user.id, token: replica.token, tasks: local(replica) };
  writeFileSync(statePath, JSON.stringify(state));
}
