# Sourced by scripts (after scripts/pg.sh, for ensure_packages): what the generated clients
# need to be generated (scripts/generate) and tested (tests/clients, run by scripts/test).

# clients/typescript's npm packages. npm records each install in node_modules/.package-lock.json:
# one older than the lockfile or package.json is stale. Install scripts stay off; no package
# here needs one.
ensure_typescript_packages() {
    local client=clients/typescript
    if [ ! -f "$client/node_modules/.package-lock.json" ] ||
        [ "$client/package-lock.json" -nt "$client/node_modules/.package-lock.json" ] ||
        [ "$client/package.json" -nt "$client/node_modules/.package-lock.json" ]; then
        echo "installing $client's npm packages (npm ci)..." >&2
        (cd "$client" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}

# target/python-venv: the pinned generator and its tools (clients/python/requirements-dev.txt)
# and the Python client itself, installed editable, so a regenerated client needs no
# reinstall. Built again only when the pinned versions or the client's pyproject.toml change.
python_venv=target/python-venv

ensure_python_venv() {
    local reqs=clients/python/requirements-dev.txt project=clients/python/pyproject.toml
    local key python
    key=$(cat "$reqs" "$project" | sha256sum | cut -d' ' -f1)
    if [ -x "$python_venv/bin/python" ] && [ "$(cat "$python_venv/.key" 2>/dev/null)" = "$key" ]; then
        return 0
    fi
    python=$(command -v python3.11 || command -v python3 || true)
    if [ -z "$python" ] || ! "$python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        echo "the Python client needs Python 3.11 or later (apt-get install python3 python3-venv)" >&2
        return 1
    fi
    if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        ensure_packages no-such-command:python3-venv # Debian ships venv apart from python3
    fi
    echo "building $python_venv (the Python client's pinned tools, from PyPI)..." >&2
    rm -rf "$python_venv"
    "$python" -m venv "$python_venv"
    "$python_venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
    "$python_venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
        -e clients/python
    echo "$key" >"$python_venv/.key"
}
