#!/usr/bin/env bash
# The benchmark: builds the release server, starts it on a fresh PostgreSQL cluster of its
# own, seeds 50 users x 50 tasks through the API, drives each scenario with wrk, measures the
# ceiling (pgbench running exactly the SQL of one authenticated list request), then the
# growth of the list's latency with the table's size, and prints every figure.
#
#   bench/run.sh            (BENCH_SECONDS=15 per scenario, BENCH_CONNECTIONS=32)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg.sh

seconds=${BENCH_SECONDS:-15}
conns=${BENCH_CONNECTIONS:-32}
ensure_postgres_installed
ensure_packages wrk:wrk curl:curl

echo "building the release binary..." >&2
cargo build --release --quiet

work=$(mktemp -d /tmp/todo-bench.XXXXXX)
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$work"; fi
pgport=$((41000 + RANDOM % 9000))
port=$((31000 + RANDOM % 9000))
start_cluster "$work/pgdata" "$pgport"
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    stop_cluster "$work/pgdata"
    rm -rf "$work"
}
trap cleanup EXIT
psql_() { as_pg_owner "$(pg_bin_dir)/psql" -h 127.0.0.1 -p "$pgport" -U postgres -d todo -v ON_ERROR_STOP=1 -Atq "$@"; }
as_pg_owner "$(pg_bin_dir)/createdb" -h 127.0.0.1 -p "$pgport" -U postgres todo

base="http://127.0.0.1:$port"
db_url="postgres://postgres@127.0.0.1:$pgport/todo"
start_server() { # sets $server and $ready_ms (no subshell: the server must be our child)
    local t0
    t0=$(date +%s%N)
    DATABASE_URL=$db_url JWT_SECRET=bench-secret-bench-secret-bench-secret-0 PORT=$port RUST_LOG=warn \
        target/release/todo-api serve 2>>"$work/server.log" &
    server=$!
    until curl -sf "$base/health/ready" >/dev/null; do sleep 0.002; done
    ready_ms=$((($(date +%s%N) - t0) / 1000000))
}
# Start to ready on a database that is already migrated (the steady state of a deploy).
start_server
kill "$server"; wait "$server" 2>/dev/null || true
start_server

python3 bench/seed.py "$base" "$work/users.txt"
# Seeding hashes 120 passwords (argon2id, 19 MiB each, on the hashing threads); what that
# leaves resident is reported on its own. The scenarios use no password, so they run on a
# server restarted after seeding (the tokens stay valid: sessions live in PostgreSQL),
# warmed up for 3 s; the peak is measured from there on (5 in clear_refs resets VmHWM).
seed_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
kill "$server"; wait "$server" 2>/dev/null || true
start_server
SCENARIO=list USERS="$work/users.txt" wrk -t2 -c"$conns" -d3s -s bench/scenario.lua "$base" >/dev/null
warm_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
echo 5 >"/proc/$server/clear_refs"

run_wrk() { # scenario [duration] [connections]
    local scenario=$1 duration=${2:-$seconds} c=${3:-$conns}
    SCENARIO=$scenario USERS="$work/users.txt" wrk -t"$((c < 2 ? 1 : 2))" -c"$c" -d"${duration}s" --timeout 10s \
        -s bench/scenario.lua "$base" | tail -n 1
}

declare -A result
for scenario in list get toggle create mixed; do
    echo "scenario $scenario (${seconds}s, $conns connections)..." >&2
    result[$scenario]=$(run_wrk "$scenario")
done
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")

# The ceiling: the SQL of one authenticated list request (the session check, then the page
# with its total), one pgbench script per reader with its own token id, at the same
# concurrency.
mkdir -p "$work/pgbench"
psql_ -F ' ' -c "SELECT s.user_id, s.token_jti FROM session s JOIN \"user\" u ON u.id = s.user_id WHERE u.username LIKE 'reader%'" |
while read -r uid jti; do
    cat >"$work/pgbench/u$uid.sql" <<SQL
SELECT user_id, token, revoked, expires_at > timezone('utc', now()) AS live FROM session WHERE token_jti = '$jti';
SELECT id, user_id, title, description, due_date, priority, tags, recursion_pattern, completed, created_at, updated_at, version, next_occurrence_created, (created_at)::text AS sort_key, (SELECT count(*) FROM task WHERE user_id = $uid) AS total FROM task WHERE user_id = $uid ORDER BY created_at DESC, id DESC;
SQL
done
if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$work/pgbench"; fi
scripts=()
for f in "$work"/pgbench/*.sql; do scripts+=(-f "$f"); done
echo "ceiling: pgbench (${seconds}s, $conns clients)..." >&2
ceiling=$(as_pg_owner "$(pg_bin_dir)/pgbench" -n -M prepared -c "$conns" -j 2 -T "$seconds" \
    -h 127.0.0.1 -p "$pgport" -U postgres "${scripts[@]}" todo 2>/dev/null |
    awk '/^tps/ && !tps {tps = $3} END {print tps}')  # reads to the end: no SIGPIPE

# Growth: the same list request with 10 k, 100 k and 1 M tasks in the table.
filler=$(psql_ -c "INSERT INTO \"user\" (username, email, hashed_password) VALUES ('filler', 'filler@bench.example', 'x') RETURNING id")
declare -A growth
for size in 10000 100000 1000000; do
    have=$(psql_ -c "SELECT count(*) FROM task")
    if [ "$have" -lt "$size" ]; then
        psql_ -c "INSERT INTO task (user_id, title, priority, created_at)
                  SELECT $filler, 'filler ' || g, 'Low', timezone('utc', now()) - make_interval(secs => g)
                  FROM generate_series(1, $size - $have) AS g" >/dev/null
    fi
    psql_ -c "VACUUM ANALYZE task" >/dev/null
    echo "growth: list with $size tasks in the table..." >&2
    growth[$size]=$(run_wrk list 10)
done

# A user with 100 000 tasks, paging with cursors: the first page and one 90 000 tasks deep.
deep_login=$(curl -sf -X POST "$base/api/auth/register" -H 'content-type: application/json' \
    -d '{"username":"deep","email":"deep@bench.example","password":"bench-password"}' >/dev/null &&
    curl -sf -X POST "$base/api/auth/login" -H 'content-type: application/json' \
    -d '{"email":"deep@bench.example","password":"bench-password"}')
deep_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])' <<<"$deep_login")
deep_token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$deep_login")
psql_ -c "INSERT INTO task (user_id, title, priority, created_at)
          SELECT $deep_id, 'deep ' || g, 'Medium', timezone('utc', now()) - make_interval(secs => g)
          FROM generate_series(1, 100000) AS g" >/dev/null
# As autovacuum would in a while: the total's index-only count needs the visibility map.
psql_ -c "VACUUM ANALYZE task" >/dev/null
deep_key=$(psql_ -F ' ' -c "SELECT created_at::text || ' ' || id FROM task WHERE user_id = $deep_id
                             ORDER BY created_at DESC, id DESC OFFSET 89999 LIMIT 1")
deep_cursor=$(python3 -c '
import base64, json, sys
ts_date, ts_time, tid = sys.argv[1:4]
raw = json.dumps({"s": "created_at", "o": "desc", "k": ts_date + " " + ts_time, "i": int(tid)}, separators=(",", ":"))
print(base64.urlsafe_b64encode(raw.encode()).decode().rstrip("="))' $deep_key)
declare -A paging
for page in first deep; do
    path="/api/$deep_id/tasks?limit=50"
    [ "$page" = deep ] && path="$path&cursor=$deep_cursor"
    echo "paging: $page page of 100 000, one connection, then $conns..." >&2
    paging[$page]=$(URL_PATH=$path URL_AUTH="Bearer $deep_token" run_wrk url 5 1)
    paging[$page-busy]=$(URL_PATH=$path URL_AUTH="Bearer $deep_token" run_wrk url 10)
done

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
echo
echo "todo-api benchmark: $conns connections, ${seconds}s per scenario, $(nproc) cores shared by server, PostgreSQL and wrk"
printf '%-10s %10s %9s %9s %9s %8s\n' scenario 'req/s' 'p50 ms' 'p99 ms' 'max ms' 'non-2xx'
for scenario in list get toggle create mixed; do
    r=${result[$scenario]}
    printf '%-10s %10s %9s %9s %9s %8s\n' "$scenario" "$(field "$r" rps)" "$(field "$r" p50_ms)" \
        "$(field "$r" p99_ms)" "$(field "$r" max_ms)" "$(( $(field "$r" non_2xx) + $(field "$r" socket_errors) ))"
done
list_rps=$(field "${result[list]}" rps)
echo
echo "ceiling (pgbench, same SQL as one list request): $ceiling requests/s"
python3 -c "import sys; print(f'list throughput = {float(sys.argv[1]) / float(sys.argv[2]) * 100:.0f}% of the ceiling')" "$list_rps" "$ceiling"
echo "server peak RSS under load: $((rss_kb / 1024)) MB (after a 3 s warm-up: $((warm_rss_kb / 1024)) MB; after seeding's 120 password hashes, before a restart: $((seed_rss_kb / 1024)) MB)"
echo "start to ready (migrated database): ${ready_ms} ms"
echo
printf '%-22s %9s %9s %10s\n' 'list, tasks in table' 'p50 ms' 'p99 ms' 'req/s'
for size in 10000 100000 1000000; do
    r=${growth[$size]}
    printf '%-22s %9s %9s %10s\n' "$size" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" "$(field "$r" rps)"
done
python3 -c "import sys; print(f'p50 at 1 M / p50 at 10 k = {float(sys.argv[2]) / float(sys.argv[1]):.2f}')" \
    "$(field "${growth[10000]}" p50_ms)" "$(field "${growth[1000000]}" p50_ms)"
echo
printf '%-40s %9s %9s %10s\n' 'user with 100 000 tasks (limit 50)' 'p50 ms' 'p99 ms' 'req/s'
for page in first deep; do
    for load in "" -busy; do
        r=${paging[$page$load]}
        label="$page page, $([ -z "$load" ] && echo 1 connection || echo "$conns connections")"
        printf '%-40s %9s %9s %10s\n' "$label" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" "$(field "$r" rps)"
    done
done
