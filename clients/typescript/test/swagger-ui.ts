/**
 * Swagger UI as a person uses it, in Debian's headless Chromium: against the live server at
 * `TODO_API_URL`, authorise with a real bearer token, try "list tasks" and read the 200 and
 * the task's title on the page. Saves a screenshot to `SCREENSHOT` (default
 * `../../target/artifacts/swagger-ui.png`) and prints where.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

import { chromium } from "playwright-core";

import { createTodoClient } from "../src/index.js";
import { baseUrl, expectOk, passed, uniqueName } from "./support.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];
const STEP_TIMEOUT_MS = 20_000;

const base = baseUrl();
const screenshot = resolve(process.env["SCREENSHOT"] ?? "../../target/artifacts/swagger-ui.png");

// An account with one task, through the API.
const anonymous = createTodoClient(base);
const username = uniqueName("ui");
const email = `${username.toLowerCase()}@example.com`;
const password = "correct horse battery staple";
await expectOk(anonymous.POST("/api/auth/register", { body: { username, email, password } }), 201);
const { data: login } = await expectOk(
  anonymous.POST("/api/auth/login", { body: { email, password } }),
  200,
);
const api = createTodoClient(base, login.access_token);
const title = `Seen in Swagger UI ${username}`;
await expectOk(
  api.POST("/api/{user_id}/tasks", {
    params: { path: { user_id: login.user.id } },
    body: { title, priority: "High", tags: "docs" },
  }),
  201,
);
passed(`setup: user ${login.user.id} logged in through the API, task "${title}" created`);

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: CHROMIUM_ARGS,
  timeout: STEP_TIMEOUT_MS,
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);

  await page.goto(`${base}/docs`);
  await page.locator(".swagger-ui .info .title").filter({ hasText: "todo-api" }).waitFor();
  passed(`${base}/docs: Swagger UI shows "todo-api"`);

  await page.locator("button.btn.authorize").first().click();
  const modal = page.locator(".modal-ux");
  await modal.locator("input").first().fill(login.access_token);
  await modal.locator(".auth-btn-wrapper button.authorize").click();
  await modal.getByText("Authorized", { exact: true }).first().waitFor();
  await modal.locator("button.btn-done").click();
  await modal.waitFor({ state: "detached" });
  passed("Authorize: the bearer token from /api/auth/login is accepted by the dialog");

  const operation = page.locator("#operations-Tasks-list_tasks");
  await operation.locator(".opblock-summary").click();
  await operation.locator("button.try-out__btn").click();
  await operation
    .locator('tr[data-param-name="user_id"] input')
    .fill(String(login.user.id));
  await operation.locator("button.execute").click();
  passed(`list_tasks: expanded, "Try it out", user_id ${login.user.id}, "Execute"`);

  const live = operation.locator(".live-responses-table .response").first();
  await live.waitFor();
  const status = (await live.locator(".response-col_status").innerText()).trim();
  assert.equal(status, "200", `Swagger UI shows status ${status}`);
  const body = await live.locator(".response-col_description pre").first().innerText();
  assert.ok(body.includes(title), `the response body on the page names the task: ${body}`);
  const curl = await operation.locator(".curl-command").innerText();
  assert.ok(
    curl.includes(`Authorization: Bearer ${login.access_token}`),
    "the request Swagger UI sent carried the bearer token",
  );
  passed(`Execute: the page shows 200 and a body with "${title}", sent with the bearer token`);

  await live.scrollIntoViewIfNeeded();
  await operation.locator(".responses-wrapper").scrollIntoViewIfNeeded();
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  passed(`screenshot: ${screenshot}`);
} finally {
  await browser.close();
}
