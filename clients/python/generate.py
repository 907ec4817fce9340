"""Generates the todo_api_client package from the committed OpenAPI document.

    python generate.py           # rewrite todo_api_client/ from ../../openapi/openapi.json
    python generate.py --check   # exit 1, naming the files, when todo_api_client/ is stale

Runs with the pinned openapi-python-client and ruff of requirements-dev.txt on PATH (the
venv that scripts/python-venv.sh builds). Any warning from the generator is an error: a
schema or an operation it cannot read would otherwise be left out of the client silently.
"""

from __future__ import annotations

import argparse
import copy
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent.parent / "openapi" / "openapi.json"
CONFIG = HERE / "openapi-python-client.yaml"
PACKAGE = HERE / "todo_api_client"


def simplify(node: object) -> object:
    """The document with `allOf: [{$ref}, {description}]` read as the `$ref` it wraps.

    The server documents an enum-typed field that way (OpenAPI 3.0 ignores siblings of a
    `$ref`); openapi-python-client takes `allOf` only of objects and would drop the whole
    schema. The second member carries only a description, so the types are unchanged.
    """
    if isinstance(node, list):
        return [simplify(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: simplify(value) for key, value in node.items()}
    members = node.get("allOf")
    if isinstance(members, list) and len(members) >= 1:
        refs = [m for m in members if isinstance(m, dict) and "$ref" in m]
        notes = [m for m in members if isinstance(m, dict) and set(m) <= {"description", "title"}]
        if len(refs) == 1 and len(refs) + len(notes) == len(members):
            rest = {key: value for key, value in node.items() if key != "allOf"}
            if set(rest) <= {"description", "title"}:
                return {"$ref": refs[0]["$ref"]}
    return node


def generate(into: Path) -> None:
    """Writes the generated package to `into` (which must not exist)."""
    spec = simplify(copy.deepcopy(json.loads(SPEC.read_text(encoding="utf-8"))))
    with tempfile.TemporaryDirectory() as work:
        spec_path = Path(work) / "openapi.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        # The venv's bin (ruff) first on PATH, for the generator's post hooks.
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        result = subprocess.run(
            [
                "openapi-python-client",
                "generate",
                "--path",
                str(spec_path),
                "--config",
                str(CONFIG),
                "--meta",
                "none",
                "--output-path",
                str(into),
                "--fail-on-warning",
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not (into / "__init__.py").is_file():
            sys.exit(f"openapi-python-client failed:\n{result.stdout}{result.stderr}")


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ between two trees, or are in only one of them (relative paths)."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(prefix + name for name in cmp.left_only + cmp.right_only)
        found.extend(prefix + name for name in cmp.diff_files + cmp.funny_files)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right, ignore=["__pycache__"]), "")
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        fresh = Path(work) / "todo_api_client"
        generate(fresh)
        if args.check:
            stale = differences(PACKAGE, fresh) if PACKAGE.is_dir() else ["todo_api_client/"]
            if stale:
                sys.exit(
                    "clients/python/todo_api_client is out of date with openapi/openapi.json "
                    "(regenerate with scripts/generate); differing files:\n  " + "\n  ".join(stale)
                )
            print("clients/python/todo_api_client matches openapi/openapi.json")
            return
        shutil.rmtree(PACKAGE, ignore_errors=True)
        shutil.copytree(fresh, PACKAGE)
        print(f"wrote {PACKAGE.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
