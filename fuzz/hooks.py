"""Checks of todo-api's own, added to schemathesis's: no response may leak internals."""

import os
import re
import uuid

import schemathesis

# What must never appear in a response body: SQL, driver and panic text, secrets.
FORBIDDEN = [
    "SELECT ",
    "INSERT INTO",
    "UPDATE task",
    "DELETE FROM",
    "sqlx",
    "SQLSTATE",
    "pg_",
    "panicked",
    "stack backtrace",
    "src/",
    "postgres://",
    "postgresql://",
    "$argon2",
    "hashed_password",
]


# The ETag-list syntax the spec gives for If-Match and If-None-Match.
ETAG_LIST = re.compile(r'''^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$''')


@schemathesis.check
def no_internals_in_responses(ctx, response, case):
    # Successful responses echo what the client stored (a task titled "SELECT " is fine);
    # error responses are the server's own words, and must not leak anything.
    if response.status_code < 400:
        return
    body = response.text or ""
    secrets = [os.environ.get("FUZZ_JWT_SECRET", ""), os.environ.get("FUZZ_DB_URL", "")]
    for marker in FORBIDDEN + [s for s in secrets if s]:
        if marker in body:
            raise AssertionError(f"the response body contains {marker!r}")
    if response.status_code >= 400 and "json" in response.headers.get("content-type", [""])[0]:
        problem = response.json()
        if not isinstance(problem.get("detail"), str) or not problem["detail"]:
            raise AssertionError("an error body without a readable `detail`")


@schemathesis.hook
def before_call(context, case, kwargs):
    """Stand real values in for what only the server can mint, in every phase:

    - a cursor is opaque: a random one is rightly refused, so a well-formed one is replaced
      by a real cursor (a malformed one stays, so its refusal is still tested);
    - an Idempotency-Key reused with another body is rightly a 422, and the fuzzer reuses keys
      at random, so a well-formed key is made unique (replays are covered by the tests).
    """
    # Most task operations answer 403 for any user but the token's: aim well-formed user ids
    # at the fuzzer's own user, so the operations' logic is reached (malformed ids stay).
    user_id = os.environ.get("FUZZ_USER_ID")
    path = case.path_parameters or {}
    if user_id and isinstance(path.get("user_id"), int) and -(2**31) <= path["user_id"] < 2**31:
        path["user_id"] = int(user_id)
    query = case.query or {}
    well_formed = lambda value: isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,3072}", value)
    if case.path.endswith("/tasks/changes"):
        # A sync token and a changes cursor are opaque too, and a cursor belongs with the
        # token it continues from: a well-formed token becomes a real one, and a well-formed
        # cursor the real one for the same kind of read (the first page of everything, or of
        # the changes since that token).
        since = os.environ.get("FUZZ_SINCE")
        if since and well_formed(query.get("since")):
            query["since"] = since
        if well_formed(query.get("cursor")):
            real = os.environ.get("FUZZ_SINCE_CURSOR" if "since" in query else "FUZZ_CHANGES_CURSOR")
            if real:
                query["cursor"] = real
            else:
                del query["cursor"]
    else:
        cursor = os.environ.get("FUZZ_CURSOR")
        if cursor and well_formed(query.get("cursor")):
            query["cursor"] = cursor
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(r"[!-~]{1,255}", key):
        headers["Idempotency-Key"] = str(uuid.uuid4())
    # Positive cases must satisfy the schema, but the generator sometimes draws header values
    # without the pattern (`If-None-Match: 0`), which the server rightly refuses with 400:
    # such a value is replaced by a well-formed ETag in positive cases only, so negative
    # cases still test the refusal.
    if case.meta is not None and case.meta.generation.mode.name == "POSITIVE":
        for name in ("If-Match", "If-None-Match"):
            value = headers.get(name)
            if isinstance(value, str) and not ETAG_LIST.fullmatch(value):
                headers[name] = '"0-0"'
