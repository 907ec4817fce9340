#!/usr/bin/env bash
# The benchmark: builds the release server, starts it on a fresh PostgreSQL cluster of its
# own, seeds 50 users x 50 tasks through the API, then runs its parts and prints every figure:
#   throughput  each scenario with wrk at BENCH_CONNECTIONS, BENCH_ROUNDS times (default 3;
#               figures are the median), create also on a server whose users may each use
#               the whole pool, and the ceiling: pgbench running the bare page SELECT of a
#               list at the same concurrency
#   rtt         round trips on the critical path: each operation at one connection, with the
#               database local and behind bench/delay_proxy.py (BENCH_RTT_MS, default 4)
#   growth      the list's latency as the table grows to 1 M tasks, and a user with 100 000
#   idle        statements an idle server sends (BENCH_IDLE_SECONDS, default 60)
#   fanout      (not run by default) bench/fanout.py: 1 000 event streams open across two
#               instances on one database of their own, the server memory each open stream
#               costs, the latency from a write to each stream, and a delta of one change
#               among 10 000 tasks (its latency and its statements, from pg_stat_statements)
#   fairness    (not run by default) bench/fairness.py's attacks on the per-user share
#               (BENCH_ATTACKS, default "slow-search encoded-path revoked-token
#               many-accounts", BENCH_FAIRNESS_SECONDS each, default 20), on a server with
#               DB_MAX_CONNECTIONS=10 on a database of its own; with BENCH_BASELINE, the
#               baseline too, the servers taking turns: another user's list during each attack
#
#   bench/run.sh            (BENCH_SECONDS=15 per scenario, BENCH_CONNECTIONS=32,
#                            BENCH_PARTS="throughput rtt growth idle")
#   BENCH_BASELINE=REV      also runs the throughput scenarios on the server built from git
#                           revision REV (built once into target/bench-baseline), the servers
#                           taking turns in each scenario's rounds, on a database of its own in
#                           the same cluster: before/after figures from one run
#   BENCH_SCENARIOS="..."   the throughput scenarios to run (default "list get toggle create
#                           mixed")
#   BENCH_DB_RTT_MS=MS      the throughput part with the servers' database behind
#                           bench/delay_proxy.py at that round-trip time (every server of the
#                           part through one proxy; seeding and the ceilings stay local); the
#                           proxy's CPU is reported, as it could be the bottleneck
# The server runs with its default log level (one line per request).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg.sh

seconds=${BENCH_SECONDS:-15}
conns=${BENCH_CONNECTIONS:-32}
parts=" ${BENCH_PARTS:-throughput rtt growth idle} "
rtt_ms=${BENCH_RTT_MS:-4}
idle_seconds=${BENCH_IDLE_SECONDS:-60}
rounds=${BENCH_ROUNDS:-3}
read -r -a scenarios <<<"${BENCH_SCENARIOS:-list get toggle create mixed}"
for s in "${scenarios[@]}"; do
    case $s in
        list | get | toggle | create | mixed) ;;
        *) echo "BENCH_SCENARIOS: unknown scenario $s (list get toggle create mixed)" >&2; exit 1 ;;
    esac
done
db_rtt_ms=${BENCH_DB_RTT_MS:-}
if [ -n "$db_rtt_ms" ] && ! [[ $db_rtt_ms =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "BENCH_DB_RTT_MS: $db_rtt_ms is not a number of milliseconds" >&2; exit 1
fi
has_part() { [[ $parts == *" $1 "* ]]; }
has_scenario() { [[ " ${scenarios[*]} " == *" $1 "* ]]; }
ensure_postgres_installed
ensure_packages wrk:wrk curl:curl

echo "building the release binary..." >&2
cargo build --release --quiet
baseline=${BENCH_BASELINE:-}
if [ -n "$baseline" ]; then
    baseline_rev=$(git rev-parse --short "$baseline^{commit}")
    baseline_src=target/bench-baseline/src-$baseline_rev
    if [ ! -x "target/bench-baseline/bin-$baseline_rev" ]; then
        echo "building the baseline $baseline_rev (once)..." >&2
        rm -rf "$baseline_src" && mkdir -p "$baseline_src"
        git archive "$baseline_rev" | tar -x -C "$baseline_src"
        CARGO_TARGET_DIR=$PWD/target/bench-baseline/target cargo build --release --quiet \
            --manifest-path "$baseline_src/Cargo.toml"
        cp target/bench-baseline/target/release/todo-api "target/bench-baseline/bin-$baseline_rev"
    fi
fi

work=$(mktemp -d /tmp/todo-bench.XXXXXX)
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$work"; fi
pgport=$((41000 + RANDOM % 9000))
port=$((31000 + RANDOM % 9000))
# The fanout part counts statements with pg_stat_statements, which has to be loaded at start.
start_cluster "$work/pgdata" "$pgport" $(has_part fanout && echo shared_preload_libraries=pg_stat_statements)
cleanup() {
    local var
    for var in server base_server unshared_server far_server proxy db_proxy fair_current fair_base fan_a fan_b fan_s; do
        # (wait answers the killed server's status: not a failure, the cluster still stops)
        if [ -n "${!var:-}" ] && kill "${!var}" 2>/dev/null; then wait "${!var}" 2>/dev/null || true; fi
    done
    stop_cluster "$work/pgdata"
    rm -rf "$work"
}
trap cleanup EXIT
psql_in() { # DATABASE psql-arguments...
    local db=$1; shift
    as_pg_owner "$(pg_bin_dir)/psql" -h 127.0.0.1 -p "$pgport" -U postgres -d "$db" -v ON_ERROR_STOP=1 -Atq "$@"
}
psql_() { psql_in todo "$@"; }
as_pg_owner "$(pg_bin_dir)/createdb" -h 127.0.0.1 -p "$pgport" -U postgres todo

base="http://127.0.0.1:$port"
db_url="postgres://postgres@127.0.0.1:$pgport/todo"
# wait_ready PORT PID LOG PAUSE: until the server on PORT is ready; if it exits first, its
# log's last lines and the bench stops.
wait_ready() {
    until curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null; do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "the server on port $1 exited before it was ready:" >&2
            tail -n 3 "$3" >&2
            exit 1
        fi
        sleep "$4"
    done
}
# start_server [BINARY DATABASE PORT VAR]: starts a server and waits until it is ready; sets
# the variable VAR (default server) to its pid and $ready_ms (no subshell: the server must be
# our child). The baseline runs with its metrics endpoint off, beside the current server.
# Seeding signs up 60 accounts from one address, above the default per-client limit.
# Settings in the array server_env go to the server too. The server reaches PostgreSQL on
# the port server_db_port: the cluster's own, or the delay proxy's (BENCH_DB_RTT_MS).
server_env=()
server_db_port=$pgport
start_server() {
    local bin=${1:-target/release/todo-api} db=${2:-todo} p=${3:-$port} var=${4:-server} t0
    t0=$(date +%s%N)
    env -u RUST_LOG DATABASE_URL="postgres://postgres@127.0.0.1:$server_db_port/$db" \
        JWT_SECRET=bench-secret-bench-secret-bench-secret-0 PORT=$p REGISTRATION_LIMIT_PER_CLIENT=1000 REGISTRATION_LIMIT_PER_PREFIX=1000 \
        $([ "$var" = server ] || echo METRICS_ADDR=off) "${server_env[@]}" "$bin" serve 2>>"$work/$var.log" &
    printf -v "$var" '%s' $!
    wait_ready "$p" "${!var}" "$work/$var.log" 0.002
    ready_ms=$((($(date +%s%N) - t0) / 1000000))
}
stop_server() { # [VAR]
    local var=${1:-server}
    kill "${!var}"; wait "${!var}" 2>/dev/null || true
}
# seeded_server [BINARY DATABASE PORT VAR USERS]: seeds through a fresh server, then restarts it.
# Seeding hashes 120 passwords (argon2id, 19 MiB each, on the hashing threads); what that
# leaves resident is reported on its own. The scenarios use no password, so they run on a
# server restarted after seeding (the tokens stay valid: sessions live in PostgreSQL),
# warmed up for 3 s; the peak is measured from there on (5 in clear_refs resets VmHWM).
# Seeding talks to the cluster directly; the restarted server reaches it as the throughput
# part does (throughput_db_port: through the delay proxy with BENCH_DB_RTT_MS).
seeded_server() {
    local bin=${1:-target/release/todo-api} db=${2:-todo} p=${3:-$port} var=${4:-server} users=${5:-$work/users.txt}
    start_server "$bin" "$db" "$p" "$var"
    python3 bench/seed.py "http://127.0.0.1:$p" "$users"
    seed_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/${!var}/status")
    stop_server "$var"
    server_db_port=$throughput_db_port
    start_server "$bin" "$db" "$p" "$var"
    server_db_port=$pgport
    SCENARIO=list USERS=$users wrk -t2 -c"$conns" -d3s -s bench/scenario.lua "http://127.0.0.1:$p" >/dev/null
    warm_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/${!var}/status")
    echo 5 >"/proc/${!var}/clear_refs"
}
# BENCH_DB_RTT_MS: one delay proxy in front of the cluster for the throughput part's servers.
throughput_db_port=$pgport
if [ -n "$db_rtt_ms" ] && has_part throughput; then
    db_proxy_port=$((port + 5))
    python3 bench/delay_proxy.py "$db_proxy_port" 127.0.0.1 "$pgport" "$(python3 -c "print($db_rtt_ms / 2)")" &
    db_proxy=$!
    until (exec 3<>"/dev/tcp/127.0.0.1/$db_proxy_port") 2>/dev/null; do sleep 0.05; done
    throughput_db_port=$db_proxy_port
fi
# The seeded server is the throughput, rtt, growth and idle parts' (not the fairness part's).
if has_part throughput || has_part rtt || has_part growth || has_part idle; then
    # Start to ready on a database that is already migrated (the steady state of a deploy).
    start_server
    stop_server
    seeded_server
    main_ready_ms=$ready_ms main_seed_rss_kb=$seed_rss_kb main_warm_rss_kb=$warm_rss_kb
fi
# The same binary on the same database, with one user's share of the pool as large as the
# pool: the throughput part runs the create scenario on it too.
unshared_port=$((port + 4))
if has_part throughput && has_scenario create; then
    server_env=(DB_MAX_CONNECTIONS=10 DB_MAX_CONNECTIONS_PER_USER=10)
    server_db_port=$throughput_db_port
    start_server target/release/todo-api todo "$unshared_port" unshared_server
    server_db_port=$pgport
    server_env=()
fi
base_port=$((port + 3))
if [ -n "$baseline" ] && has_part throughput; then
    echo "seeding the baseline $baseline_rev on a database of its own..." >&2
    as_pg_owner "$(pg_bin_dir)/createdb" -h 127.0.0.1 -p "$pgport" -U postgres todo_base
    seeded_server "target/bench-baseline/bin-$baseline_rev" todo_base "$base_port" base_server "$work/base-users.txt"
    base_ready_ms=$ready_ms base_warm_rss_kb=$warm_rss_kb
fi

run_wrk() { # scenario [duration] [connections] [base url] [users file]
    local scenario=$1 duration=${2:-$seconds} c=${3:-$conns} url=${4:-$base} users=${5:-$work/users.txt}
    SCENARIO=$scenario USERS=$users wrk -t"$((c < 2 ? 1 : 2))" -c"$c" -d"${duration}s" --timeout 10s \
        -s bench/scenario.lua "$url" | tail -n 1
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
# pgbench_ "FILE[@WEIGHT] ..." CLIENTS SECONDS [PORT]: prints "tps average-latency-ms"
pgbench_() {
    local scripts=() f
    for f in $1; do scripts+=(-f "$f"); done
    as_pg_owner "$(pg_bin_dir)/pgbench" -n -M prepared -c "$2" -j "$(( $2 < 2 ? 1 : 2 ))" -T "$3" \
        -h 127.0.0.1 -p "${4:-$pgport}" -U postgres "${scripts[@]}" todo 2>/dev/null |
        awk '/^latency average/ {lat = $4} /^tps/ && !tps {tps = $3} END {print tps, lat}'  # reads to the end: no SIGPIPE
}
report=()
say() { report+=("$*"); }
# CPU time in clock ticks: of one process (pid), and of the cluster (the postmaster, the
# children it has reaped, and the backends still running).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
    local pm child total
    pm=$(head -n 1 "$work/pgdata/postmaster.pid")
    total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
    for child in $(pgrep -P "$pm"); do total=$((total + $(ticks "$child" 2>/dev/null || echo 0))); done
    echo "$total"
}
hz=$(getconf CLK_TCK)

# List requests so far that sent a kept list, and that read their page: "hits misses", from
# the server's metrics (on their default address).
list_outcomes() {
    curl -sf http://127.0.0.1:9464/metrics | awk '
        /^list_cache_requests_total\{outcome="hit"\}/ {h = $2}
        /^list_cache_requests_total\{outcome="miss"\}/ {m = $2}
        END {print h + 0, m + 0}'
}

# Each scenario starts on a settled cluster: what the one before wrote (the create scenario
# adds tens of thousands of tasks) is vacuumed, analysed and checkpointed now, rather than
# by autovacuum and the checkpointer in the middle of the next scenario, whose CPU figures
# count every PostgreSQL process.
settle() {
    local db
    for db in todo $([ -n "$baseline" ] && echo todo_base); do
        psql_in "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"
    done
}

# The writers start every run from no tasks: a create run writes tens of thousands of them,
# and a user may hold at most MAX_TASKS_PER_USER.
clear_writers() { # DATABASE
    psql_in "$1" -c "DELETE FROM task WHERE user_id IN (SELECT id FROM \"user\" WHERE username LIKE 'writer%')"
}
# measure SIDE SCENARIO: one run of the scenario on the current server, the baseline or the
# current build with the share as large as the pool (unshared), its wrk line appended to
# $work/rounds/SIDE-SCENARIO; the current server's CPU ticks and PostgreSQL's are added up,
# and the delay proxy's share of one core during the run is noted (BENCH_DB_RTT_MS).
declare -A cpu_server cpu_pg cpu_proxy
measure() {
    local side=$1 scenario=$2 url=$base users=$work/users.txt db=todo s0 p0 x0 t0
    case $side in
        base) url=http://127.0.0.1:$base_port users=$work/base-users.txt db=todo_base ;;
        unshared) url=http://127.0.0.1:$unshared_port ;;
    esac
    clear_writers "$db"
    settle
    s0=$(ticks "$server") p0=$(pg_ticks)
    [ -n "${db_proxy:-}" ] && x0=$(ticks "$db_proxy") t0=$(date +%s%N)
    run_wrk "$scenario" "$seconds" "$conns" "$url" "$users" | tee -a "$work/rounds/$side-$scenario" |
        python3 -c 'import json, sys; r = json.load(sys.stdin); print("  %-9s %8.0f req/s  p99 %5.1f ms" % (sys.argv[1], r["rps"], r["p99_ms"]), file=sys.stderr)' "$side"
    if [ -n "${db_proxy:-}" ]; then
        cpu_proxy[$scenario]+="$(python3 -c 'import sys; print(round(100 * int(sys.argv[1]) / int(sys.argv[2]) / (int(sys.argv[3]) / 1e9)))' \
            "$(( $(ticks "$db_proxy") - x0 ))" "$hz" "$(( $(date +%s%N) - t0 ))") "
    fi
    if [ "$side" = current ]; then
        cpu_server[$scenario]=$(( ${cpu_server[$scenario]:-0} + $(ticks "$server") - s0 ))
        cpu_pg[$scenario]=$(( ${cpu_pg[$scenario]:-0} + $(pg_ticks) - p0 ))
    fi
}

if has_part throughput; then
    # Each scenario runs BENCH_ROUNDS times on each server, the servers taking turns to go
    # first, and its figures are the median of the rounds (p99's lowest and highest are
    # shown too): one 10 s run's p99 of a write scenario is mostly the disk's, and swings by
    # half from run to run on a shared machine.
    declare -A result cpu kept
    mkdir -p "$work/rounds"
    for scenario in "${scenarios[@]}"; do
        sides=(current)
        [ -n "$baseline" ] && sides+=(base)
        # Create runs on a server whose users may each use the whole pool too (the baseline
        # has no per-user share): the scenario's 10 users, from 32 connections, each have
        # more requests in flight than their default share, a quarter of the pool.
        [ "$scenario" = create ] && sides+=(unshared)
        echo "scenario $scenario (${seconds}s, $conns connections, $rounds rounds: ${sides[*]})..." >&2
        # BENCH_PERF=DIR: the server's CPU profile during each scenario (perf record -g).
        if [ -n "${BENCH_PERF:-}" ]; then
            mkdir -p "$BENCH_PERF"
            perf record -q -g -F 499 -p "$server" -o "$BENCH_PERF/$scenario.data" 2>/dev/null &
            perf_pid=$!
        fi
        k0=$(list_outcomes)
        for ((round = 0; round < rounds; round++)); do
            for ((i = 0; i < ${#sides[@]}; i++)); do
                measure "${sides[(i + round) % ${#sides[@]}]}" "$scenario"
            done
        done
        kept[$scenario]="$k0 $(list_outcomes)"
        if [ -n "${BENCH_PERF:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
        cpu[$scenario]="${cpu_server[$scenario]} ${cpu_pg[$scenario]}"
        result[$scenario]=$(python3 bench/combine.py <"$work/rounds/current-$scenario")
        [ -n "$baseline" ] && result[base-$scenario]=$(python3 bench/combine.py <"$work/rounds/base-$scenario")
    done
    if has_scenario create; then
        result[create-unshared]=$(python3 bench/combine.py <"$work/rounds/unshared-create")
        stop_server unshared_server
    fi
    rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
    [ -n "$baseline" ] && base_rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$base_server/status") && stop_server base_server
    if [ -n "${db_proxy:-}" ]; then
        # What the proxy really adds (timers overshoot a little): one statement, one round trip.
        echo 'SELECT 1;' >"$work/one.sql"
        if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$work/one.sql"; fi
        read -r _ near_lat < <(pgbench_ "$work/one.sql" 1 3)
        read -r _ far_lat < <(pgbench_ "$work/one.sql" 1 3 "$db_proxy_port")
        db_measured_rtt=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$near_lat" "$far_lat")
        # The parts after this one see the database locally.
        kill "$db_proxy"; wait "$db_proxy" 2>/dev/null || true; db_proxy=
        stop_server
        start_server
    fi

    # The ceilings are PostgreSQL's alone, without even the trigger that gives every change a
    # new list version (migrations/0015): the writes below cost what they cost the old code.
    psql_ -c "ALTER TABLE task DISABLE TRIGGER task_list_inserted" \
        -c "ALTER TABLE task DISABLE TRIGGER task_list_updated"
    # Each ceiling runs when a scenario measured compares with it (list, create, mixed).
    # The ceiling: the bare page SELECT a list request runs, for one of the readers, at the
    # same concurrency, with nothing else (no HTTP, no session check, no count).
    uid=$(psql_ -c "SELECT min(id) FROM \"user\" WHERE username LIKE 'reader%'")
    cat >"$work/page.sql" <<SQL
SELECT id, user_id, title, description, due_date, priority, tags, recursion_pattern, completed, created_at, updated_at, version, next_occurrence_created, (created_at)::text AS sort_key FROM task WHERE user_id = $uid ORDER BY created_at DESC, id DESC;
SQL
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$work/page.sql"; fi
    if has_scenario list || has_scenario mixed; then
        echo "ceiling: pgbench of the page SELECT (${seconds}s, $conns clients)..." >&2
        p0=$(pg_ticks)
        read -r ceiling _ < <(pgbench_ "$work/page.sql" "$conns" "$seconds")
        ceiling_pg_ticks=$(( $(pg_ticks) - p0 ))
    fi
    # The writes' own ceiling: the INSERT of a create, committed on its own, as pgbench runs it,
    # for a writer picked at random as the create scenario does.
    writers=$(psql_ -c "SELECT string_agg(id::text, ',') FROM \"user\" WHERE username LIKE 'writer%'")
    cat >"$work/insert.sql" <<SQL
\\set w random(1, $(tr ',' '\n' <<<"$writers" | wc -l))
INSERT INTO task (user_id, title, description, due_date, priority, tags, recursion_pattern, completed) VALUES ((ARRAY[$writers])[:w], 'pgbench', NULL, NULL, 'High', 'bench', NULL, false) RETURNING id, user_id, title, description, due_date, priority, tags, recursion_pattern, completed, created_at, updated_at, version, next_occurrence_created;
SQL
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$work/insert.sql"; fi
    if has_scenario create; then
        echo "write ceiling: pgbench of the create's INSERT (${seconds}s, $conns clients)..." >&2
        read -r insert_ceiling _ < <(pgbench_ "$work/insert.sql" "$conns" "$seconds")
    fi
    # The mix's own ceiling: what a minimal server would send for the mixed scenario, one
    # statement per request in its proportions: 70 % the page SELECT, 15 % the INSERT, 10 % a
    # toggle as one UPDATE, 5 % the SELECT of one task (of the readers' tasks, picked at random).
    read -r lo hi < <(psql_ -F ' ' -c "SELECT min(t.id), max(t.id) FROM task t JOIN \"user\" u ON u.id = t.user_id WHERE u.username LIKE 'reader%'")
    cols="id, user_id, title, description, due_date, priority, tags, recursion_pattern, completed, created_at, updated_at, version, next_occurrence_created"
    cat >"$work/toggle.sql" <<SQL
\\set id random($lo, $hi)
UPDATE task SET completed = NOT completed, version = version + 1, updated_at = timezone('utc', now()) WHERE id = :id RETURNING $cols;
SQL
    cat >"$work/get.sql" <<SQL
\\set id random($lo, $hi)
SELECT $cols FROM task WHERE id = :id;
SQL
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$work/toggle.sql" "$work/get.sql"; fi
    if has_scenario mixed; then
        echo "mixed ceiling: pgbench of the mix's statements (${seconds}s, $conns clients)..." >&2
        read -r mixed_ceiling _ < <(pgbench_ "$work/page.sql@70 $work/insert.sql@15 $work/toggle.sql@10 $work/get.sql@5" "$conns" "$seconds")
    fi
    psql_ -c "ALTER TABLE task ENABLE TRIGGER task_list_inserted" \
        -c "ALTER TABLE task ENABLE TRIGGER task_list_updated"

    say "todo-api benchmark: $conns connections, ${seconds}s per scenario, $(nproc) cores shared by server, PostgreSQL and wrk"
    say "figures: the median of $rounds rounds per server (p99 range: the lowest and highest round's)"
    if [ -n "$db_rtt_ms" ]; then
        say "database: every server's behind bench/delay_proxy.py at ${db_rtt_ms} ms round trip (measured: $db_measured_rtt ms per round trip); the ceilings below are local"
    fi
    say "$(printf '%-20s %10s %9s %9s %13s %9s %8s' scenario 'req/s' 'p50 ms' 'p99 ms' 'p99 range' 'max ms' 'non-2xx')"
    row() { # LABEL RESULT
        local r=$2
        say "$(printf '%-20s %10.1f %9.2f %9.2f %13s %9.1f %8s' "$1" "$(field "$r" rps)" "$(field "$r" p50_ms)" \
            "$(field "$r" p99_ms)" "$(printf '%.1f-%.1f' "$(field "$r" p99_lo)" "$(field "$r" p99_hi)")" \
            "$(field "$r" max_ms)" "$(( $(field "$r" non_2xx) + $(field "$r" socket_errors) ))")"
    }
    for s in "${scenarios[@]}"; do
        row "$s" "${result[$s]}"
        [ -n "$baseline" ] && row "  $s @$baseline_rev" "${result[base-$s]}"
        [ "$s" = create ] && row "  create, share 10" "${result[create-unshared]}"
    done
    if [ -n "$baseline" ]; then
        say ""
        say "current / baseline $baseline_rev, from the medians above (req/s above 1: the current build serves more; p50, p99 above 1: it waits longer)"
        say "$(printf '%-10s %8s %8s %8s' scenario 'req/s' 'p50' 'p99')"
        for s in "${scenarios[@]}"; do
            say "$(python3 -c 'import json, sys
a, b = json.loads(sys.argv[2]), json.loads(sys.argv[3])
print("%-10s %8.3f %8.3f %8.3f" % (sys.argv[1], a["rps"] / b["rps"], a["p50_ms"] / b["p50_ms"], a["p99_ms"] / b["p99_ms"]))' \
                "$s" "${result[$s]}" "${result[base-$s]}")"
        done
    fi
    if [ -n "$db_rtt_ms" ]; then
        say ""
        say "the delay proxy's CPU during each round (% of one core; one Python process for every server):"
        for s in "${scenarios[@]}"; do say "  $s: ${cpu_proxy[$s]}"; done
        busiest=$(printf '%s\n' ${cpu_proxy[@]} | sort -n | tail -n 1)
        if [ "$busiest" -ge 85 ]; then
            say "  the proxy used up to $busiest % of a core: it may be what limits these figures, not the servers"
        else
            say "  at most $busiest % of a core: the proxy is not the bottleneck"
        fi
    fi
    say ""
    # CPU per request: wrk's requests over the scenario's seconds, the ticks over the same.
    say "CPU per request (µs): the server's, and PostgreSQL's$([ -n "${ceiling:-}" ] && echo "; pgbench of the bare page SELECT costs PostgreSQL $(python3 -c "import sys; print(round(int(sys.argv[1]) / int(sys.argv[2]) * 1e6 / (float(sys.argv[3]) * float(sys.argv[4]))))" "$ceiling_pg_ticks" "$hz" "$ceiling" "$seconds") per statement")"
    for scenario in "${scenarios[@]}"; do
        read -r st pt <<<"${cpu[$scenario]}"
        say "$(python3 -c "
import json, sys
r = json.loads(sys.argv[2]); n = r['requests']; hz = int(sys.argv[5])
print(f'{sys.argv[1]:<10} server {int(sys.argv[3]) / hz / n * 1e6:>6.0f}   PostgreSQL {int(sys.argv[4]) / hz / n * 1e6:>6.0f}')" \
            "$scenario" "${result[$scenario]}" "$st" "$pt" "$hz")"
    done
    say ""
    ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
    for scenario in list mixed; do
        has_scenario "$scenario" || continue
        read -r h0 m0 h1 m1 <<<"${kept[$scenario]}"
        say "$scenario: $(python3 -c "import sys; h, m = float(sys.argv[1]), float(sys.argv[2]); print(f'{100 * h / max(h + m, 1):.1f}')" "$((h1 - h0))" "$((m1 - m0))") % of its list requests sent the list kept from before ($((h1 - h0)) of $((h1 - h0 + m1 - m0)))"
    done
    [ -n "${ceiling:-}" ] && say "ceiling: pgbench of the bare page SELECT, $conns clients: $ceiling statements/s"
    has_scenario list && say "list = $(ratio "$(field "${result[list]}" rps)" "$ceiling")x the page SELECT alone$([ -n "$baseline" ] && echo ", baseline $(ratio "$(field "${result[base-list]}" rps)" "$ceiling")x")"
    if has_scenario mixed; then
        say "mixed ceiling: pgbench of the mix's bare statements, $conns clients: $mixed_ceiling statements/s"
        say "mixed = $(ratio "$(field "${result[mixed]}" rps)" "$mixed_ceiling")x the mix's statements alone$([ -n "$baseline" ] && echo ", baseline $(ratio "$(field "${result[base-mixed]}" rps)" "$mixed_ceiling")x") ($(ratio "$(field "${result[mixed]}" rps)" "$ceiling")x the page SELECT alone)"
    fi
    if has_scenario create; then
        say "write ceiling: pgbench of the create's INSERT, $conns clients: $insert_ceiling statements/s"
        say "create = $(ratio "$(field "${result[create]}" rps)" "$insert_ceiling")x its INSERT alone"
    fi
    say "server peak RSS under load: $((rss_kb / 1024)) MB (after a 3 s warm-up: $((main_warm_rss_kb / 1024)) MB; after seeding's 120 password hashes, before a restart: $((main_seed_rss_kb / 1024)) MB)"
    [ -n "$baseline" ] && say "baseline $baseline_rev peak RSS under load: $((base_rss_kb / 1024)) MB (after a 3 s warm-up: $((base_warm_rss_kb / 1024)) MB)"
    say "start to ready (migrated database): ${main_ready_ms} ms$([ -n "$baseline" ] && echo ", baseline ${base_ready_ms} ms")"
    say ""
fi

if has_part rtt; then
    # The same server binary on the same database, reached through a proxy that holds every
    # chunk rtt/2 in each direction. Each operation runs at one connection against both; the
    # difference of the medians over the round-trip time is the number of round trips on the
    # operation's critical path.
    pxport=$((port + 1)) far_port=$((port + 2))
    python3 bench/delay_proxy.py "$pxport" 127.0.0.1 "$pgport" "$(python3 -c "print($rtt_ms / 2)")" &
    proxy=$!
    sleep 0.3
    # What the proxy really adds (timers overshoot a little): one statement, one round trip.
    echo 'SELECT 1;' >"$work/one.sql"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$work/one.sql"; fi
    read -r _ near_lat < <(pgbench_ "$work/one.sql" 1 3)
    read -r _ far_lat < <(pgbench_ "$work/one.sql" 1 3 "$pxport")
    measured_rtt=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$near_lat" "$far_lat")
    env -u RUST_LOG DATABASE_URL="postgres://postgres@127.0.0.1:$pxport/todo" \
        JWT_SECRET=bench-secret-bench-secret-bench-secret-0 PORT=$far_port METRICS_ADDR=off \
        target/release/todo-api serve 2>>"$work/far-server.log" &
    far_server=$!
    wait_ready "$far_port" "$far_server" "$work/far-server.log" 0.01
    # Tasks to delete: a range of ids of their own for each server.
    writer_id=$(awk '$1 == "writer" {print $2; exit}' "$work/users.txt")
    writer_auth="Bearer $(awk '$1 == "writer" {print $3; exit}' "$work/users.txt")"
    doomed() { # count: prints the first id of count new tasks of the writer
        psql_ -c "WITH n AS (INSERT INTO task (user_id, title, priority)
                  SELECT $writer_id, 'doomed ' || g, 'Low' FROM generate_series(1, $1) AS g RETURNING id)
                  SELECT min(id) FROM n"
    }
    # Toggles: each server toggles the tasks of half of the readers, tasks it has listed and
    # nobody changed since (toggle); then the other half's, which the other server changed
    # since this one listed them (toggle-moved).
    awk '$1 != "reader" || NR % 2 == 0' "$work/users.txt" >"$work/users-a.txt"
    awk '$1 != "reader" || NR % 2 == 1' "$work/users.txt" >"$work/users-b.txt"
    declare -A near far
    for op in list get create toggle toggle-moved delete; do
        echo "round trips: $op, one connection, database local then ${rtt_ms} ms away..." >&2
        for side in near far; do
            if [ $side = near ]; then url=$base; else url="http://127.0.0.1:$far_port"; fi
            users=$work/users.txt
            case $op-$side in
                toggle-near | toggle-moved-far) users=$work/users-a.txt ;;
                toggle-far | toggle-moved-near) users=$work/users-b.txt ;;
            esac
            first=$( [ $op = delete ] && doomed 40000 || echo 0)
            r=$(DELETE_FIRST=$first DELETE_USER=$writer_id DELETE_AUTH=$writer_auth \
                run_wrk "${op%-moved}" 5 1 "$url" "$users")
            if [ $side = near ]; then near[$op]=$r; else far[$op]=$r; fi
        done
    done
    say "round trips on the critical path: one connection, database local vs behind a ${rtt_ms} ms proxy (measured: $measured_rtt ms per round trip)"
    say "$(printf '%-12s %12s %12s %12s %9s' operation 'local p50' 'far p50' '(far-local)' 'non-2xx')"
    for op in list get create toggle toggle-moved delete; do
        n=${near[$op]} f=${far[$op]}
        say "$(python3 -c "
import sys
a, b, rtt = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f'{sys.argv[1]:<12} {a:>9.2f} ms {b:>9.2f} ms {(b - a) / rtt:>8.2f} RTT {sys.argv[5]:>9}')" \
            "$op" "$(field "$n" p50_ms)" "$(field "$f" p50_ms)" "$measured_rtt" \
            "$(( $(field "$n" non_2xx) + $(field "$f" non_2xx) ))")"
    done
    say ""
    kill "$far_server"; wait "$far_server" 2>/dev/null || true; far_server=
    kill "$proxy"; wait "$proxy" 2>/dev/null || true; proxy=
fi

if has_part growth; then
    # What reading a list costs as the table grows: the lists served before are not kept
    # (LIST_CACHE_BYTES=0), so every request below reads its page as a changed list would.
    stop_server
    LIST_CACHE_BYTES=0 start_server
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

    # A user with 100 000 tasks, paging with cursors: the first page and one 90 000 tasks
    # deep, without and with the total (Prefer: count=exact).
    deep_login=$(curl -sf -X POST "$base/api/auth/register" -H 'content-type: application/json' \
        -d '{"username":"deep","email":"deep@bench.example","password":"bench-password"}' >/dev/null &&
        curl -sf -X POST "$base/api/auth/login" -H 'content-type: application/json' \
        -d '{"email":"deep@bench.example","password":"bench-password"}')
    deep_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])' <<<"$deep_login")
    deep_token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$deep_login")
    psql_ -c "INSERT INTO task (user_id, title, priority, created_at)
              SELECT $deep_id, 'deep ' || g, 'Medium', timezone('utc', now()) - make_interval(secs => g)
              FROM generate_series(1, 100000) AS g" >/dev/null
    # As autovacuum would in a while: an index-only count needs the visibility map.
    psql_ -c "VACUUM ANALYZE task" >/dev/null
    deep_key=$(psql_ -F ' ' -c "SELECT created_at::text || ' ' || id FROM task WHERE user_id = $deep_id
                                 ORDER BY created_at DESC, id DESC OFFSET 89999 LIMIT 1")
    deep_cursor=$(python3 -c '
import base64, json, sys
ts_date, ts_time, tid = sys.argv[1:4]
raw = json.dumps({"s": "created_at", "o": "desc", "k": ts_date + " " + ts_time, "i": int(tid)}, separators=(",", ":"))
print(base64.urlsafe_b64encode(raw.encode()).decode().rstrip("="))' $deep_key)
    declare -A paging
    for page in first deep counted; do
        path="/api/$deep_id/tasks?limit=50"
        prefer=
        [ "$page" = deep ] && path="$path&cursor=$deep_cursor"
        [ "$page" = counted ] && prefer=count=exact
        echo "paging: $page page of 100 000, one connection, then $conns..." >&2
        paging[$page]=$(URL_PATH=$path URL_PREFER=$prefer URL_AUTH="Bearer $deep_token" run_wrk url 5 1)
        paging[$page-busy]=$(URL_PATH=$path URL_PREFER=$prefer URL_AUTH="Bearer $deep_token" run_wrk url 10)
    done

    say "$(printf '%-22s %9s %9s %10s' 'list, tasks in table' 'p50 ms' 'p99 ms' 'req/s')"
    for size in 10000 100000 1000000; do
        r=${growth[$size]}
        say "$(printf '%-22s %9s %9s %10s' "$size" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" "$(field "$r" rps)")"
    done
    say "$(python3 -c "import sys; print(f'p50 at 1 M / p50 at 10 k = {float(sys.argv[2]) / float(sys.argv[1]):.2f}')" \
        "$(field "${growth[10000]}" p50_ms)" "$(field "${growth[1000000]}" p50_ms)")"
    say ""
    say "$(printf '%-48s %9s %9s %10s' 'user with 100 000 tasks (limit 50)' 'p50 ms' 'p99 ms' 'req/s')"
    for page in first deep counted; do
        for load in "" -busy; do
            r=${paging[$page$load]}
            label="$page page$([ $page = counted ] && echo ' (count=exact)'), $([ -z "$load" ] && echo 1 connection || echo "$conns connections")"
            say "$(printf '%-48s %9s %9s %10s' "$label" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" "$(field "$r" rps)")"
        done
    done
    say ""
fi

if has_part fairness; then
    # bench/fairness.py's attacks on the per-user share, each against a server of its own on
    # a database of its own (the current build, and the baseline with BENCH_BASELINE), both
    # with a pool of 10, the servers taking turns to go first. Another user lists his tasks
    # one request after another while each attack runs.
    read -r -a attacks <<<"${BENCH_ATTACKS:-slow-search encoded-path revoked-token many-accounts}"
    fair_seconds=${BENCH_FAIRNESS_SECONDS:-20}
    fair_tasks=${BENCH_FAIRNESS_TASKS:-100000}
    fair_sides=(current)
    [ -n "$baseline" ] && fair_sides+=(base)
    declare -A fair_port
    next_port=$((port + 6))
    for side in "${fair_sides[@]}"; do
        bin=target/release/todo-api
        [ "$side" = base ] && bin=target/bench-baseline/bin-$baseline_rev
        fair_port[$side]=$next_port
        next_port=$((next_port + 1))
        as_pg_owner "$(pg_bin_dir)/createdb" -h 127.0.0.1 -p "$pgport" -U postgres "fair_$side"
        server_env=(DB_MAX_CONNECTIONS=10)
        start_server "$bin" "fair_$side" "${fair_port[$side]}" "fair_$side"
        server_env=()
    done
    mkdir -p "$work/fairness"
    for ((a = 0; a < ${#attacks[@]}; a++)); do
        for ((i = 0; i < ${#fair_sides[@]}; i++)); do
            side=${fair_sides[(i + a) % ${#fair_sides[@]}]}
            echo "fairness: ${attacks[a]} on $side (${fair_seconds}s)..." >&2
            ATTACK=${attacks[a]} DURATION=$fair_seconds TASKS=$fair_tasks OUT="$work/fairness/$side-${attacks[a]}.json" \
                BASE="http://127.0.0.1:${fair_port[$side]}" DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/fair_$side" \
                python3 bench/fairness.py | sed 's/^/  /' >&2
        done
    done
    for side in "${fair_sides[@]}"; do stop_server "fair_$side"; done
    say "fairness: another user's list, one request after another, during each attack (${fair_seconds} s, pool of 10; the attackers' searches over $fair_tasks tasks each)"
    say "$(printf '%-14s %-10s %6s %8s %8s %8s %5s  %-24s %s' attack build 'n' 'p50 ms' 'p99 ms' 'max ms' '503' 'attack statuses' 'alone: p50/p99 ms')"
    for attack in "${attacks[@]}"; do
        for side in "${fair_sides[@]}"; do
            label=$([ "$side" = base ] && echo "@$baseline_rev" || echo current)
            say "$(python3 -c 'import json, sys
r = json.load(open(sys.argv[3]))
v, a, q = r["victim"], r["attacker"], r["victim_alone"]
statuses = " ".join("%s:%d" % kv for kv in a["statuses"].items())
print("%-14s %-10s %6d %8.1f %8.1f %8.1f %5d  %-24s %.1f/%.1f" % (sys.argv[1], sys.argv[2], v["n"], v["p50_ms"], v["p99_ms"], v["max_ms"], v["n503"], statuses, q["p50_ms"], q["p99_ms"]))' \
                "$attack" "$label" "$work/fairness/$side-$attack.json")"
        done
    done
    say ""
fi

if has_part fanout; then
    # Two instances on a database of their own, as behind a load balancer. Each takes about
    # 500 streams, near the default HTTP_MAX_CONNECTIONS (512): it is raised to 1100 so that the
    # writes' connections fit too. SSE_MAX_STREAMS (2048) and SSE_MAX_PER_USER (8) stay at
    # their defaults (fanout.py opens 5 per account). A third instance signs the accounts up
    # (from this one address, past the default registration limits), so that the two measured
    # never hash a password.
    as_pg_owner "$(pg_bin_dir)/createdb" -h 127.0.0.1 -p "$pgport" -U postgres fanout
    server_env=(HTTP_MAX_CONNECTIONS=1100 REGISTRATION_LIMIT_GLOBAL=10000 RUST_LOG=warn)
    start_server target/release/todo-api fanout "$((port + 8))" fan_a
    start_server target/release/todo-api fanout "$((port + 9))" fan_b
    start_server target/release/todo-api fanout "$((port + 10))" fan_s
    server_env=()
    BASE_A="http://127.0.0.1:$((port + 8))" BASE_B="http://127.0.0.1:$((port + 9))" PID_A=$fan_a PID_B=$fan_b \
        SIGNUP="http://127.0.0.1:$((port + 10))" DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/fanout" \
        python3 bench/fanout.py >"$work/fanout.txt"
    stop_server fan_a
    stop_server fan_b
    stop_server fan_s
    while IFS= read -r line; do say "$line"; done <"$work/fanout.txt"
    say ""
fi

if has_part idle; then
    # What an idle server costs the database: transactions counted by PostgreSQL in the
    # bench's database while nothing calls the server (read from another database, so the
    # reading does not count; PostgreSQL flushes a backend's counters up to 10 s late).
    xacts() { psql_in postgres -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'todo'"; }
    # Autovacuum's workers visit every database each minute and their transactions count
    # there too, so it is off for the window: what remains is what clients sent.
    psql_ -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
    echo "idle: ${idle_seconds}s without requests (after 12 s to settle)..." >&2
    sleep 12
    before=$(xacts)
    sleep "$idle_seconds"
    sleep 12
    after=$(xacts)
    psql_ -c "ALTER SYSTEM RESET autovacuum" -c "SELECT pg_reload_conf()" >/dev/null
    say "idle server: $((after - before)) transactions in the database in ${idle_seconds} s without requests (autovacuum off)"
fi

echo
printf '%s\n' "${report[@]}"
