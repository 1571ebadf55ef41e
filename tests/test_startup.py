"""The CLI answers at once: a command imports only what it needs (issue 12, item 7).

Import cost, not time, is pinned here (timings live in benchmarks/cli_start.py):
each check runs a fresh interpreter and lists the heavy packages it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEAVY = ("dlib", "face_recognition", "face_recognition_models", "scipy", "matplotlib", "PIL", "pillow_heif",
         "alembic", "numpy", "sqlalchemy", "sqlmodel", "pydantic")

PROBE = """
import json, runpy, sys
sys.argv = ["freshness", *json.loads(sys.argv[1])]
try:
    runpy.run_module("freshness", run_name="__main__")
except SystemExit:
    pass
print("LOADED=" + json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(%r))))
""" % (HEAVY,)


def loaded(args: list[str], env_home: Path | None = None) -> set[str]:
    import os

    env = dict(os.environ)
    if env_home is not None:
        env["FRESHNESS_HOME"] = str(env_home)
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                         cwd=REPO, env=env).stdout
    line = next(line for line in out.splitlines() if line.startswith("LOADED="))
    return set(json.loads(line[len("LOADED="):]))


def test_importing_the_cli_loads_no_face_plot_or_science_stack() -> None:
    code = "import sys, freshness.cli; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    modules = set(eval(out))
    assert not modules & {"dlib", "face_recognition", "face_recognition_models", "scipy", "matplotlib"}, modules
    assert not modules & {"PIL", "numpy", "sqlalchemy", "sqlmodel", "alembic"}, modules


def test_help_loads_nothing_heavy() -> None:
    assert loaded(["--help"]) == set()
    assert loaded(["--version"]) <= {"pydantic"}  # typer converts option values with pydantic


@pytest.mark.parametrize(("args", "allowed"), [
    (["person", "list"], {"sqlalchemy", "sqlmodel", "pydantic"}),
    (["status", "Ada"], {"sqlalchemy", "sqlmodel", "pydantic"}),
    (["history", "Ada"], {"sqlalchemy", "sqlmodel", "pydantic"}),
    (["reminders", "Ada"], {"sqlalchemy", "sqlmodel", "pydantic"}),
])
def test_quick_commands_load_only_the_database_layer(home: Path, args: list[str], allowed: set[str]) -> None:
    from tests.clitools import run

    run("init")
    run("person", "add", "Ada", "--consent")
    got = loaded(args, home)
    assert got <= allowed, got - allowed
    assert {"sqlalchemy", "sqlmodel"} <= got  # the probe does see what a command loads
