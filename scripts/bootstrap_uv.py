#!/usr/bin/env python3
"""Install uv into ./.tools (inside the repository) when it is not on PATH.

Writes nothing outside the repository except pip's own cache. PEP 668 systems
refuse `pip install --user`, so uv goes into a private virtual environment
(.tools); where `python3 -m venv` is unavailable (no ensurepip), the uv wheel is
fetched from PyPI directly, its sha256 checked, and the binary extracted.

Usage: python3 scripts/bootstrap_uv.py [TOOLS_DIR]   → prints the path of uv
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

UV_REQUIREMENT = "uv>=0.9,<1"
UV_VERSION_FALLBACK = "0.13.9"  # the wheel fetched directly when there is no venv/pip


def _venv_install(tools: Path) -> Path | None:
    uv = tools / "bin" / "uv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True, capture_output=True)
        subprocess.run(
            [str(tools / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", UV_REQUIREMENT],
            check=True,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"bootstrap: venv/pip route failed ({exc}); fetching the uv wheel directly", file=sys.stderr)
        shutil.rmtree(tools, ignore_errors=True)
        return None
    return uv if uv.exists() else None


def _wheel_tags() -> list[str]:
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        return [f"manylinux_2_17_{arch}", f"manylinux2014_{arch}", f"musllinux_1_1_{arch}"]
    if sys.platform == "darwin":
        return ["macosx_11_0_arm64"] if arch == "aarch64" else ["macosx_10_12_x86_64"]
    raise SystemExit(f"bootstrap: unsupported platform {sys.platform}/{machine}; install uv yourself")


def _direct_install(tools: Path) -> Path:
    request = urllib.request.Request(
        "https://pypi.org/simple/uv/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        files = [f for f in json.load(resp)["files"] if f["filename"].startswith(f"uv-{UV_VERSION_FALLBACK}-")]
    tags = _wheel_tags()
    chosen = next((f for tag in tags for f in files if f["filename"].endswith(".whl") and tag in f["filename"]), None)
    if chosen is None:
        raise SystemExit(f"bootstrap: no uv wheel for {tags}")
    with urllib.request.urlopen(chosen["url"], timeout=300) as resp:
        data = resp.read()
    if hashlib.sha256(data).hexdigest() != chosen["hashes"]["sha256"]:
        raise SystemExit("bootstrap: sha256 mismatch for the downloaded uv wheel")
    target = tools / "bin" / "uv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        member = next(n for n in wheel.namelist() if n.endswith(".data/scripts/uv"))
        target.write_bytes(wheel.read(member))
    target.chmod(0o755)
    return target


def main() -> None:
    tools = Path(sys.argv[1] if len(sys.argv) > 1 else ".tools").resolve()
    uv = tools / "bin" / "uv"
    if not uv.exists():
        uv = _venv_install(tools) or _direct_install(tools)
    subprocess.run([str(uv), "--version"], check=True, stdout=sys.stderr)
    print(os.fspath(uv))


if __name__ == "__main__":
    main()
