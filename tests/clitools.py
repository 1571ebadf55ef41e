"""Helpers to drive the CLI in-process (typer's CliRunner) and snapshot the stored state."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from PIL import Image
from typer.testing import CliRunner

from freshness.cli import app

runner = CliRunner()


def run(*args: Any, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return result


def run_json(*args: Any, code: int = 0) -> Any:
    return json.loads(run(*args, "--json", code=code).stdout)


def snapshot(home: Path) -> dict[str, Any]:
    """Every table's rows and every stored file: equal snapshots mean nothing was written."""
    db = sqlite3.connect(home / "freshness.db")
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        rows = {t: db.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in tables}
    finally:
        db.close()
    files = sorted(str(p.relative_to(home)) for p in (home / "blobs").rglob("*") if p.is_file()) \
        if (home / "blobs").exists() else []
    return {"rows": rows, "files": files}


def variant(src: Path, out: Path, k: int, *, margin: int = 1, step: int = 1, quality: int = 90) -> Path:
    """Different bytes, same face: a crop ``margin + step * k`` pixels smaller on every side,
    re-encoded as JPEG at ``quality - k`` (a new selfie for the duplicate check)."""
    img = Image.open(src).convert("RGB")
    w, h = img.size
    m = margin + step * k
    img.crop((m, m, w - m, h - m)).save(out, "JPEG", quality=quality - k)
    return out
