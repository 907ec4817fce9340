# Shared by scripts/dev and scripts/test: a PostgreSQL cluster of the project's own, made
# from the system's PostgreSQL binaries (Debian's `postgresql` package), listening only on
# 127.0.0.1 with trust authentication. Source this file; it defines functions only.

pg_bin_dir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Installs Debian packages that are missing (root only): ensure_packages CMD:PACKAGE...
ensure_packages() {
    local missing=() pair
    for pair in "$@"; do
        if ! command -v "${pair%%:*}" >/dev/null 2>&1 && [ ! -x "${pair%%:*}" ]; then
            missing+=("${pair#*:}")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]}: run 'sudo apt-get install ${missing[*]}'" >&2
        return 1
    fi
    echo "installing ${missing[*]} (Debian packages)..." >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Debian's PostgreSQL server binaries (initdb, pg_ctl live outside PATH).
ensure_postgres_installed() {
    if [ -z "$(pg_bin_dir)" ]; then ensure_packages no-such-command:postgresql; fi
}

# initdb refuses to run as root, so as root the cluster belongs to the postgres user.
as_pg_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_cluster DIR PORT [extra postgres settings...]: creates the cluster on first use,
# starts it if it is not running, and waits until it accepts connections.
start_cluster() {
    local dir=$1 port=$2
    shift 2
    local bin
    bin=$(pg_bin_dir)
    if [ ! -s "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
        chmod 700 "$dir"
        as_pg_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
    fi
    if ! as_pg_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir"
        local setting
        for setting in "$@"; do opts="$opts -c $setting"; done
        as_pg_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null
    fi
}

stop_cluster() {
    local dir=$1
    as_pg_owner "$(pg_bin_dir)/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}
