"""End to end through the generated Python client, against the live server at `TODO_API_URL`.

Every step asserts what the server answered, then prints one line (`ok - …`) saying what it
checked; the first failure ends the script with a non-zero status. Reads only fields the
contract promises, so it keeps passing as the spec grows.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from todo_api_client import Client
from todo_api_client.api.accounts import login, logout, me, register
from todo_api_client.api.tasks import (
    complete_task,
    create_task,
    delete_task,
    get_task,
    list_tasks,
    update_task,
)
from todo_api_client.models import (
    CreateTask,
    CreateTaskPriority,
    ListTasksOrder,
    ListTasksPriority,
    ListTasksSort,
    LoginRequest,
    Priority,
    RegisterRequest,
    UpdateTask,
)
from todo_api_client.types import Response
from todo_api_helpers import ProblemError, Unauthorized, authenticated, expect, log_in, task_pages


def passed(what: str) -> None:
    print(f"ok - {what}", flush=True)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def equal(actual: object, expected: object, what: str) -> None:
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def problem(response: Response[Any], status: int) -> ProblemError:
    """The problem+json error `response` must be."""
    equal(int(response.status_code), status, "status")
    equal(response.headers.get("content-type"), "application/problem+json", "content type")
    try:
        expect(response)
    except ProblemError as error:
        check(error.problem is not None, "the error has a problem body")
        equal(error.problem.status if error.problem else None, status, "the problem's status")
        check(bool(error.detail), "the problem has a readable detail")
        return error
    raise AssertionError(f"expected {status}, got a success")


def unique(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000):x}{secrets.token_hex(3)}"


def main() -> None:
    base = os.environ.get("TODO_API_URL", "").rstrip("/")
    if not base:
        sys.exit("set TODO_API_URL to the server's base URL, e.g. http://127.0.0.1:8001")
    anonymous = Client(base_url=base)

    # Register.
    username = unique("py")
    email = f"{username.lower()}@Example.com"
    password = "correct horse battery staple"
    registered = expect(
        register.sync_detailed(
            client=anonymous, body=RegisterRequest(username=username, email=email, password=password)
        ),
        201,
    )
    equal(registered.username, username, "username")
    equal(registered.email, email.lower(), "email is stored lower-case")
    passed(f'register: 201, user {registered.id} "{registered.username}", email stored lower-case')

    # A duplicate is a problem+json a person can act on.
    duplicate = problem(
        register.sync_detailed(
            client=anonymous, body=RegisterRequest(username=username, email=email, password=password)
        ),
        409,
    )
    # Login (the generated call, then the helper that raises on a problem).
    session = expect(
        login.sync_detailed(client=anonymous, body=LoginRequest(email=email, password=password)), 200
    )
    equal(session.token_type.value, "bearer", "token type")
    equal(session.user.id, registered.id, "the token's user")
    check(session.expires_at.timestamp() > time.time(), "the token expires in the future")
    try:
        log_in(base, email, "not the password")
        raise AssertionError("a wrong password logged in")
    except Unauthorized as error:
        wrong = error.detail
    # Totals come with `Prefer: count=exact`: this client asks for them on every list.
    api = authenticated(base, session.access_token, headers={"Prefer": "count=exact"})
    equal(expect(me.sync_detailed(client=api), 200).id, registered.id, "GET /me")
    passed(
        f"login: 200, bearer token until {session.expires_at.isoformat()}; GET /me answers user "
        f'{registered.id}; a duplicate registration is 409 "{duplicate.detail}", a wrong password 401 "{wrong}"'
    )

    user_id = registered.id

    # Create a task with every field.
    created = create_task.sync_detailed(
        user_id,
        client=api,
        idempotency_key=unique("create"),
        body=CreateTask(
            title="  Water the plants  ",
            description="The ones on the balcony",
            due_date="2026-12-01",
            priority=CreateTaskPriority.HIGH,
            tags=" home, garden,home,, ",
            recursion_pattern="weekly",
            completed=False,
        ),
    )
    task = expect(created, 201)
    equal(task.user_id, user_id, "owner")
    equal(task.title, "Water the plants", "the title is trimmed")
    equal(task.description, "The ones on the balcony", "description")
    equal(task.due_date, "2026-12-01", "due date")
    equal(task.priority, Priority.HIGH, "priority")
    equal(task.tags, "home,garden", "tags are normalised")
    equal(task.recursion_pattern, "weekly", "recursion")
    equal(task.completed, False, "completed")
    location = created.headers.get("location")
    equal(location, f"/api/{user_id}/tasks/{task.id}", "Location")
    invalid = problem(create_task.sync_detailed(user_id, client=api, body=CreateTask(title="   ")), 422)
    check("title" in invalid.field_errors, f"the 422 names the title: {invalid.field_errors}")
    passed(
        f'create: 201, task {task.id} with every field, title trimmed, tags "{task.tags}", Location {location}; '
        "a blank title is 422 naming the title"
    )

    # More tasks to filter and page through.
    for title in ["batch d", "batch b", "batch a", "batch c"]:
        expect(
            create_task.sync_detailed(
                user_id,
                client=api,
                body=CreateTask(title=title, priority=CreateTaskPriority.LOW, tags="batch"),
            ),
            201,
        )
    filtered = list_tasks.sync_detailed(
        user_id, client=api, priority=ListTasksPriority.HIGH, completed=False, tag="garden", q="PLANTS"
    )
    equal([t.id for t in expect(filtered, 200)], [task.id], "the filters select the one task")
    equal(filtered.headers.get("x-total-count"), "1", "X-Total-Count")
    passed(f"list with filters (priority, completed, tag, q): exactly task {task.id}, X-Total-Count 1")

    # Pages of two, in title order, following the Link header's cursor.
    pages = list(
        task_pages(api, user_id, tag="batch", limit=2, sort=ListTasksSort.TITLE, order=ListTasksOrder.ASC)
    )
    titles = [t.title for page in pages for t in page.tasks]
    equal(titles, ["batch a", "batch b", "batch c", "batch d"], "titles in order, no repeats")
    equal(len(pages), 2, "pages")
    equal([page.total for page in pages], [4, 4], "X-Total-Count on every page")
    check(pages[0].cursor is not None and pages[1].cursor is None, "only the first page has a next")
    passed(f"list with limit=2 and the Link cursor: {len(pages)} pages, {', '.join(titles)}, no repeats")

    # Update with If-Match, from the ETag of a GET; a stale ETag is refused.
    got = get_task.sync_detailed(user_id, task.id, client=api)
    expect(got, 200)
    etag = got.headers.get("etag")
    check(bool(etag), "GET sends an ETag")
    assert etag is not None
    updated_response = update_task.sync_detailed(
        user_id,
        task.id,
        client=api,
        if_match=etag,
        body=UpdateTask(title="Water the plants twice", description=None, tags="garden"),
    )
    updated = expect(updated_response, 200)
    equal(updated.title, "Water the plants twice", "title")
    equal(updated.description, None, "null clears the description")
    equal(updated.tags, "garden", "tags")
    equal(updated.due_date, "2026-12-01", "absent fields stay")
    equal(updated.recursion_pattern, "weekly", "absent fields stay")
    check(updated_response.headers.get("etag") != etag, "the ETag changes")
    stale = problem(
        update_task.sync_detailed(
            user_id, task.id, client=api, if_match=etag, body=UpdateTask(title="Lost update")
        ),
        412,
    )
    equal(
        expect(get_task.sync_detailed(user_id, task.id, client=api), 200).title,
        updated.title,
        "nothing changed",
    )
    passed(
        f'update with If-Match {etag}: 200, description cleared; the stale ETag again: 412 "{stale.problem.title if stale.problem else ""}"'
    )

    # Completing the recurring task creates its next occurrence, once.
    completed = expect(complete_task.sync_detailed(user_id, task.id, client=api), 200)
    equal(completed.completed, True, "a PATCH without a body toggles")

    def occurrences() -> list[int]:
        listed = list_tasks.sync_detailed(user_id, client=api, q="Water the plants twice", completed=False)
        return [t.id for t in expect(listed, 200)]

    open_ids = occurrences()
    equal(len(open_ids), 1, "one open occurrence")
    following = expect(get_task.sync_detailed(user_id, open_ids[0], client=api), 200)
    check(following.id != task.id, "the next occurrence is a new task")
    equal(following.due_date, "2026-12-08", "weekly: seven days after 2026-12-01")
    equal(following.recursion_pattern, "weekly", "the rule is kept")
    equal(following.completed, False, "the next occurrence is open")
    for expected in [False, True]:
        toggled = expect(complete_task.sync_detailed(user_id, task.id, client=api), 200)
        equal(toggled.completed, expected, "toggle")
    equal(occurrences(), [following.id], "toggling again creates no second occurrence")
    passed(
        f"toggle complete: task {task.id} completed, next occurrence {following.id} due "
        f"{following.due_date} listed; toggled twice more, still one"
    )

    # Delete.
    equal(int(delete_task.sync_detailed(user_id, task.id, client=api).status_code), 204, "delete")
    problem(get_task.sync_detailed(user_id, task.id, client=api), 404)
    passed(f"delete: 204, then GET task {task.id} is 404")

    # Logout, and the token is refused from then on.
    equal(int(logout.sync_detailed(client=api).status_code), 204, "logout")
    refused_response = me.sync_detailed(client=api)
    refused = problem(refused_response, 401)
    check(isinstance(refused, Unauthorized), "a 401 raises Unauthorized")
    check(refused_response.headers.get("www-authenticate", "").startswith("Bearer"), "WWW-Authenticate")
    problem(list_tasks.sync_detailed(user_id, client=api), 401)
    passed(f'logout: 204; the same token is then 401 "{refused.detail}" on /me and on the task list')

    # A client given a way to log in again recovers from a revoked token by itself.
    logins = 0

    def log_in_again() -> str:
        nonlocal logins
        logins += 1
        return log_in(base, email, password).access_token

    resilient = authenticated(base, session.access_token, on_unauthorized=log_in_again)
    # The first request after the logout has a body: it is sent again, whole, with the new token.
    renamed = expect(
        update_task.sync_detailed(
            user_id, following.id, client=resilient, body=UpdateTask(title="Sent with the new token")
        ),
        200,
    )
    equal(renamed.title, "Sent with the new token", "the retried PUT's body")
    for _ in range(2):
        equal(expect(me.sync_detailed(client=resilient), 200).id, user_id, "GET /me with the new token")
    equal(logins, 1, "one new login for three requests")
    # Threads that meet the 401 together share one new login.
    equal(int(logout.sync_detailed(client=resilient).status_code), 204, "logout")
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda _: expect(me.sync_detailed(client=resilient), 200).id, range(3)))
    equal(together, [user_id] * 3, "GET /me from three threads")
    equal(logins, 2, "one more login for three concurrent requests")
    passed(
        "on_unauthorized: the revoked token's 401 logged in again once; the PUT sent again with the "
        "new token, then GET /me 200 twice; after another logout, 3 concurrent requests shared 1 new login"
    )


if __name__ == "__main__":
    main()
