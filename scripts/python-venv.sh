# Sourced by scripts: the Python environment for the Python client, in target/python-venv.
# It holds the pinned generator and its tools (clients/python/requirements-dev.txt) and the
# client itself, installed editable, so a regenerated client needs no reinstall. It is built
# again only when the pinned versions or the client's pyproject.toml change.

python_venv=target/python-venv

ensure_python_venv() {
    local reqs=clients/python/requirements-dev.txt project=clients/python/pyproject.toml
    local key
    key=$(cat "$reqs" "$project" | sha256sum | cut -d' ' -f1)
    if [ -x "$python_venv/bin/python" ] && [ "$(cat "$python_venv/.key" 2>/dev/null)" = "$key" ]; then
        return 0
    fi
    local python
    python=$(command -v python3.11 || command -v python3 || true)
    if [ -z "$python" ]; then
        echo "Python 3.11 or later is needed for the Python client (apt-get install python3 python3-venv)" >&2
        return 1
    fi
    echo "building $python_venv (the Python client's pinned tools, pip install)..." >&2
    rm -rf "$python_venv"
    "$python" -m venv "$python_venv"
    "$python_venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
    "$python_venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e clients/python
    echo "$key" >"$python_venv/.key"
}
