"""`freshness serve` as a real process on a loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture
def server(home: Path):
    env = {**os.environ, "FRESHNESS_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "freshness", "init"], env=env, check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "freshness", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {proc.stdout.read().decode()}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_it_serves_health_and_api_docs(server: str) -> None:
    status, body = _get(server + "/healthz")
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "ok" and health["database"]["revision"] == health["database"]["head"]
    status, body = _get(server + "/openapi.json")
    assert status == 200 and "/healthz" in json.loads(body)["paths"]
    status, body = _get(server + "/docs")
    assert status == 200 and b"swagger" in body.lower()
    assert _get(server + "/nope")[0] == 404


def test_it_refuses_to_serve_an_uninitialised_database(home: Path) -> None:
    env = {**os.environ, "FRESHNESS_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "freshness", "serve", "--port", str(_free_port())], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "freshness init" in done.stderr
