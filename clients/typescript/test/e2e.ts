/**
 * End to end through the generated client, against the live server at `TODO_API_URL`:
 * every step asserts what the server answered (and throws on a mismatch), then prints one
 * line saying what it checked. Exits non-zero on the first failure.
 */
import assert from "node:assert/strict";

import { createTodoClient, taskPages, UnauthorizedError, type Task } from "../src/index.js";
import { baseUrl, expectOk, expectProblem, header, passed, uniqueName } from "./support.js";

const base = baseUrl();
const anonymous = createTodoClient(base);

// Register.
const username = uniqueName("e2e");
const email = `${username.toLowerCase()}@Example.com`;
const password = "correct horse battery staple";
const { data: registered } = await expectOk(
  anonymous.POST("/api/auth/register", { body: { username, email, password } }),
  201,
);
assert.equal(registered.username, username);
assert.equal(registered.email, email.toLowerCase(), "email is stored lower-case");
passed(`register: 201, user ${registered.id} "${registered.username}", email stored lower-case`);

// Login.
const { data: login } = await expectOk(
  anonymous.POST("/api/auth/login", { body: { email, password } }),
  200,
);
assert.equal(login.token_type, "bearer");
assert.deepEqual(login.user, registered);
assert.ok(Date.parse(login.expires_at) > Date.now(), "the token expires in the future");
// Totals (X-Total-Count) come with `Prefer: count=exact`: this client asks for them.
const api = createTodoClient(base, {
  token: login.access_token,
  headers: { Prefer: "count=exact" },
});
const { data: me } = await expectOk(api.GET("/api/auth/me"), 200);
assert.equal(me.id, registered.id);
passed(`login: 200, bearer token until ${login.expires_at}; GET /me answers user ${me.id}`);

const userId = registered.id;
const path = { user_id: userId };

// Create a task with every field.
const { data: task, response: created } = await expectOk(
  api.POST("/api/{user_id}/tasks", {
    params: { path, header: { "Idempotency-Key": uniqueName("create") } },
    body: {
      title: "  Water the plants  ",
      description: "The ones on the balcony",
      due_date: "2026-12-01",
      priority: "High",
      tags: " home, garden,home,, ",
      recursion_pattern: "weekly",
      completed: false,
    },
  }),
  201,
);
assert.equal(task.user_id, userId);
assert.equal(task.title, "Water the plants", "the title is trimmed");
assert.equal(task.description, "The ones on the balcony");
assert.equal(task.due_date, "2026-12-01");
assert.equal(task.priority, "High");
assert.equal(task.tags, "home,garden", "tags are normalised");
assert.equal(task.recursion_pattern, "weekly");
assert.equal(task.completed, false);
assert.equal(header(created, "location"), `/api/${userId}/tasks/${task.id}`);
passed(
  `create: 201, task ${task.id} with every field, title trimmed, tags "${task.tags}", Location ${header(created, "location")}`,
);

// More tasks to filter and page through.
for (const title of ["batch d", "batch b", "batch a", "batch c"]) {
  await expectOk(
    api.POST("/api/{user_id}/tasks", {
      params: { path },
      body: { title, priority: "Low", tags: "batch" },
    }),
    201,
  );
}
const { data: filtered, response: filteredResponse } = await expectOk(
  api.GET("/api/{user_id}/tasks", {
    params: {
      path,
      query: { priority: "High", completed: false, tag: "garden", q: "PLANTS" },
      header: { Prefer: "count=exact" },
    },
  }),
  200,
);
assert.deepEqual(
  filtered.map((t) => t.id),
  [task.id],
);
assert.equal(header(filteredResponse, "x-total-count"), "1");
assert.equal(header(filteredResponse, "preference-applied"), "count=exact");
passed(`list with filters (priority, completed, tag, q) and Prefer: count=exact: exactly task ${task.id}, X-Total-Count 1`);

// Pages of two, in title order, following the Link header's cursor.
const pages = [];
for await (const page of taskPages(api, userId, { tag: "batch", limit: 2, sort: "title", order: "asc" })) {
  assert.ok(page.tasks.length <= 2, `a page holds at most limit tasks, got ${page.tasks.length}`);
  assert.equal(page.total, 4, "X-Total-Count on every page");
  pages.push(page);
  assert.ok(pages.length <= 3, "the pages end");
}
const titles = pages.flatMap((page) => page.tasks.map((t) => t.title));
assert.deepEqual(titles, ["batch a", "batch b", "batch c", "batch d"]);
assert.equal(pages.length, 2);
assert.ok(pages[0]?.cursor !== undefined && pages[1]?.cursor === undefined, "only the first page has a next");
passed(`list with limit=2 and the Link cursor: ${pages.length} pages, ${titles.join(", ")}, no repeats`);

// Update with If-Match, from the ETag of a GET; a stale ETag is refused.
const { response: got } = await expectOk(
  api.GET("/api/{user_id}/tasks/{id}", { params: { path: { ...path, id: task.id } } }),
  200,
);
const etag = header(got, "etag");
const { data: updated, response: updatedResponse } = await expectOk(
  api.PUT("/api/{user_id}/tasks/{id}", {
    params: { path: { ...path, id: task.id }, header: { "If-Match": etag } },
    body: { title: "Water the plants twice", description: null, tags: "garden" },
  }),
  200,
);
assert.equal(updated.title, "Water the plants twice");
assert.equal(updated.description, null, "null clears the description");
assert.equal(updated.tags, "garden");
assert.equal(updated.due_date, "2026-12-01", "absent fields stay");
assert.equal(updated.recursion_pattern, "weekly", "absent fields stay");
assert.notEqual(header(updatedResponse, "etag"), etag);
const { problem: stale } = await expectProblem(
  api.PUT("/api/{user_id}/tasks/{id}", {
    params: { path: { ...path, id: task.id }, header: { "If-Match": etag } },
    body: { title: "Lost update" },
  }),
  412,
);
passed(`update with If-Match ${etag}: 200, description cleared; the stale ETag again: 412 "${stale.title}"`);

// Completing the recurring task creates its next occurrence, once.
const completeUrl = "/api/{user_id}/tasks/{id}/complete" as const;
const { data: completed } = await expectOk(
  api.PATCH(completeUrl, { params: { path: { ...path, id: task.id } } }),
  200,
);
assert.equal(completed.completed, true, "a PATCH without a body toggles");
const occurrences = async (): Promise<Task[]> => {
  const { data } = await expectOk(
    api.GET("/api/{user_id}/tasks", {
      params: { path, query: { q: "Water the plants twice", completed: false } },
    }),
    200,
  );
  return data;
};
const [next, ...others] = await occurrences();
assert.ok(next !== undefined, "the next occurrence is listed");
assert.equal(others.length, 0);
assert.notEqual(next.id, task.id);
assert.equal(next.due_date, "2026-12-08", "weekly: seven days after 2026-12-01");
assert.equal(next.recursion_pattern, "weekly");
assert.equal(next.completed, false);
for (const expected of [false, true]) {
  const { data: toggled } = await expectOk(
    api.PATCH(completeUrl, { params: { path: { ...path, id: task.id } } }),
    200,
  );
  assert.equal(toggled.completed, expected);
}
assert.deepEqual(
  (await occurrences()).map((t) => t.id),
  [next.id],
  "toggling again creates no second occurrence",
);
passed(
  `toggle complete: task ${task.id} completed, next occurrence ${next.id} due ${next.due_date} listed; toggled twice more, still one`,
);

// Delete.
await expectOk(
  api.DELETE("/api/{user_id}/tasks/{id}", { params: { path: { ...path, id: task.id } } }),
  204,
);
await expectProblem(
  api.GET("/api/{user_id}/tasks/{id}", { params: { path: { ...path, id: task.id } } }),
  404,
);
passed(`delete: 204, then GET task ${task.id} is 404`);

// Logout, and the token is refused from then on.
await expectOk(api.POST("/api/auth/logout"), 204);
const { problem: refused, response: refusedResponse } = await expectProblem(
  api.GET("/api/auth/me"),
  401,
);
assert.match(header(refusedResponse, "www-authenticate"), /^Bearer/);
await expectProblem(api.GET("/api/{user_id}/tasks", { params: { path } }), 401);
passed(`logout: 204; the same token is then 401 "${refused.detail}" on /me and on the task list`);

// The page helper throws a typed error for the revoked token.
const thrown = await taskPages(api, userId)
  .next()
  .then(
    () => undefined,
    (error: unknown) => error,
  );
assert.ok(thrown instanceof UnauthorizedError, `expected an UnauthorizedError, got ${String(thrown)}`);

// A client given a way to log in again recovers from a revoked token by itself.
let logins = 0;
const resilient = createTodoClient(base, {
  token: login.access_token,
  onUnauthorized: async (problem) => {
    logins += 1;
    assert.equal(problem?.status, 401);
    const { data: again } = await expectOk(
      anonymous.POST("/api/auth/login", { body: { email, password } }),
      200,
    );
    return again.access_token;
  },
});
// The first request after the logout has a body: it is sent again, whole, with the new token.
const { data: renamed } = await expectOk(
  resilient.PUT("/api/{user_id}/tasks/{id}", {
    params: { path: { ...path, id: next.id } },
    body: { title: "Sent with the new token" },
  }),
  200,
);
assert.equal(renamed.title, "Sent with the new token");
for (let i = 0; i < 2; i++) {
  const { data: meAgain } = await expectOk(resilient.GET("/api/auth/me"), 200);
  assert.equal(meAgain.id, userId);
}
assert.equal(logins, 1, "one new login for three requests");
// Requests that meet the 401 together share one new login.
await expectOk(resilient.POST("/api/auth/logout"), 204);
const together = await Promise.all(
  [1, 2, 3].map(async () => (await expectOk(resilient.GET("/api/auth/me"), 200)).data.id),
);
assert.deepEqual(together, [userId, userId, userId]);
assert.equal(logins, 2, "one more login for three concurrent requests");
passed(
  `onUnauthorized: the revoked token's 401 (an UnauthorizedError from taskPages) logged in again once; the PUT sent again with the new token, then GET /me 200 twice; after another logout, 3 concurrent requests shared 1 new login`,
);
