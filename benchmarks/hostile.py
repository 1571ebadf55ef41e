"""Hostile input through the product: how much of the corpus is refused cleanly.

Builds the corpus of tests/hostile.py (hostile image files, paths that are no image file, an
unreadable file, hostile names, settings and option values) and sends each through the CLI as a
real process (``python -m freshness``, with a timeout; peak memory from ``wait4``), on a data
directory holding one person with a headshot and a check-in, then each image through the API in
process (POST /api/v1/headshots and /api/v1/checkins).

    python benchmarks/hostile.py [--faces DIR] [--timeout 60] [--no-api]

Each try is one of: refused cleanly (exit 2 or 3, or a 4xx / a refused check-in result, with the
expected message, no traceback, nothing stored); unclear (refused, but the message is not the
expected one); crashed (a traceback, exit 1 or another status, a 5xx, or a timeout); stored
(a row or a file appeared). Prints a table, the counts, and the peak memory and time of the
bomb cases. Exit 1 if anything crashed, stored something or was unclear.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import hostile  # noqa: E402
from tests.clitools import snapshot  # noqa: E402

OBAMA = "people/barack_obama"
ADMIN = "admin-token-for-the-hostile-benchmark-01"
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Try:
    via: str  # cli | api
    label: str
    what: str  # the command or route
    verdict: str  # refused | unclear | crashed | stored
    answer: str  # exit status or HTTP status, and the start of the message
    seconds: float | None = None
    peak_mb: float | None = None
    bomb: bool = False


def stored(home: Path) -> dict:
    """Rows per table and the stored files: what a refused request must not change (a token's
    last use and a person's last activity may: they are written on every authenticated request)."""
    return {table: len(rows) for table, rows in snapshot(home)["rows"].items()} | {"files": snapshot(home)["files"]}


def _says_all(text: str, says: tuple) -> bool:
    """Every entry of ``says`` is in ``text`` (an entry that is a tuple: any one of its strings)."""
    return all(any(alt in text for alt in (s if isinstance(s, tuple) else (s,))) for s in says)


def _cli_try(home: Path, label: str, args: tuple, *, expect_exit: int, says: tuple, timeout: float,
             env: dict[str, str] | None = None, prefix: list[str] | None = None, bomb: bool = False) -> Try:
    before = snapshot(home)
    out = hostile.run_measured([*(prefix or []), *hostile.freshness_cmd(*args)],
                               env=hostile.child_env(home, **(env or {})), timeout=timeout)
    text = out.stdout + out.stderr
    what = " ".join(str(a) for a in args[:2]) if args[0] in ("person", "headshot") else str(args[0])
    last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), "")
    if out.timed_out or out.traceback or out.code not in (2, 3):
        verdict = "crashed"
    elif snapshot(home) != before:
        verdict = "stored"
    elif out.code != expect_exit or not _says_all(text, says):
        verdict = "unclear"
    else:
        verdict = "refused"
    answer = "timeout" if out.timed_out else f"exit {out.code}: {last[:90]}"
    return Try("cli", label, what, verdict, answer, out.seconds, out.peak_mb, bomb)


def cli_tries(home: Path, root: Path, faces: Path, pid: str, timeout: float) -> list[Try]:
    tries: list[Try] = []
    cases = hostile.image_cases(root / "images") + hostile.path_cases(root / "paths")
    for case in cases:
        says: tuple = case.says if case.expect != "decodes" else ("no face found",)
        if case.name == "a directory":  # (a check-in takes a folder of selfies: an empty one is said to be empty)
            says = (("is a directory", "has no files to check in"),)
        for args in (("checkin", pid, case.path), ("headshot", "add", pid, case.path, "--platform", "linkedin")):
            tries.append(_cli_try(home, case.name, args, expect_exit=case.exit, says=says, timeout=timeout,
                                  env=case.env, bomb=case.bomb or case.name in ("/dev/zero", "a FIFO")))
    secret = root / "unreadable.jpg"
    shutil.copyfile(faces / OBAMA / "obama3.jpg", secret)
    secret.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads any file: run without the capabilities that allow it
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search",
                  "--inh-caps=-dac_override,-dac_read_search"] if setpriv else []
    if os.geteuid() != 0 or prefix:
        for args in (("checkin", pid, secret), ("headshot", "add", pid, secret, "--platform", "linkedin")):
            tries.append(_cli_try(home, "an unreadable file (chmod 000)", args, expect_exit=2,
                                  says=(("Permission denied", "is not readable"),), timeout=timeout, prefix=prefix))
    for name, says in hostile.NAMES:
        shown = repr(name if len(name) < 24 else name[:20] + "…")
        tries.append(_cli_try(home, f"name {shown}", ("person", "add", name, "--consent"), expect_exit=2,
                              says=(says,), timeout=timeout))
    for variable, value, says in hostile.SETTINGS:
        tries.append(_cli_try(home, f"{variable}={value}", ("person", "list"), expect_exit=2, says=(says,),
                              timeout=timeout, env={variable: value}))
    selfie = root / "new.jpg"
    shutil.copyfile(faces / OBAMA / "obama3.jpg", selfie)
    for args, says in hostile.option_cases(pid, selfie, faces / OBAMA / "obama1.jpg"):
        shown = [str(a) for a in args]
        label = " ".join(shown[next(i for i, a in enumerate(shown) if a.startswith("--")):])
        tries.append(_cli_try(home, label, args, expect_exit=2, says=(says,), timeout=timeout))
    return tries


def api_tries(home: Path, root: Path, token: str) -> list[Try]:
    from fastapi.testclient import TestClient

    from freshness.config import Settings
    from freshness.web import create_app

    tries: list[Try] = []
    h = {"Authorization": f"Bearer {token}"}
    for case in hostile.image_cases(root / "api-images"):
        settings = Settings(home=home, admin_token=ADMIN,
                            **({"max_upload_bytes": hostile.SMALL_LIMIT} if case.env else {}))
        code = case.code if case.expect == "refused" else "no_face"
        upload = (case.path.name, case.path.read_bytes(), "application/octet-stream")
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            for route in ("headshots", "checkins"):
                before = stored(home)
                if route == "headshots":
                    r = client.post("/api/v1/headshots", files={"image": upload}, data={"platform": "linkedin"},
                                    headers=h)
                else:
                    r = client.post("/api/v1/checkins", files=[("images", upload)], headers=h)
                try:
                    body = r.json()
                except ValueError:
                    body = {}
                if route == "checkins" and r.status_code == 200:
                    body = ((body.get("results") or [{}])[0].get("error")) or {}
                if r.status_code >= 500 or not isinstance(body, dict):
                    verdict = "crashed"
                elif stored(home) != before:
                    verdict = "stored"
                elif (r.status_code in (200, 413, 422) and body.get("code") == code and body.get("message")):
                    verdict = "refused"
                else:
                    verdict = "unclear"
                message = str(body.get("message", r.text))[:80]
                tries.append(Try("api", case.name, f"POST /{route}", verdict,
                                 f"{r.status_code} {body.get('code')}: {message}"))
    return tries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path,
                        default=Path(os.environ.get("FRESHNESS_TEST_FACES") or REPO.parent / "shared" / "faces"))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a command counts as hung")
    parser.add_argument("--no-api", action="store_true", help="the CLI only")
    args = parser.parse_args()
    if not (args.faces / OBAMA / "obama.jpg").is_file():
        raise SystemExit(f"test photos not found in {args.faces} (set FRESHNESS_TEST_FACES)")
    with tempfile.TemporaryDirectory(prefix="freshness-hostile-") as tmp:
        root = Path(tmp)
        home = root / "home"
        env = hostile.child_env(home)
        setup = [("init",), ("person", "add", "Ada", "--consent", "--json"),
                 ("headshot", "add", "Ada", args.faces / OBAMA / "obama.jpg", "--platform", "linkedin",
                  "--published", "2025-06-01"),
                 ("checkin", "Ada", args.faces / OBAMA / "obama2.jpg", "--taken", "2025-07-01")]
        token = ""
        for step in setup:
            out = hostile.run_measured(hostile.freshness_cmd(*step), env=env, timeout=300)
            if out.code != 0:
                raise SystemExit(f"setting up failed: {step}: {out.stdout}{out.stderr}")
            if "--json" in step:
                import json

                token = json.loads(out.stdout)["token"]
        pid = "1"
        tries = cli_tries(home, root, args.faces, pid, args.timeout)
        if not args.no_api:
            os.environ["FRESHNESS_HOME"] = str(home)
            tries += api_tries(home, root, token)

    for t in tries:
        t.label = t.label if len(t.label) <= 44 else t.label[:43] + "…"
    width = max(len(t.label) for t in tries)
    print(f"{'via':4} {'input':{width}} {'command':16} {'verdict':8} {'s':>6} {'MB':>6}  answer")
    for t in tries:
        secs = f"{t.seconds:6.2f}" if t.seconds is not None else " " * 6
        peak = f"{t.peak_mb:6.0f}" if t.peak_mb else " " * 6
        print(f"{t.via:4} {t.label:{width}} {t.what:16} {t.verdict:8} {secs} {peak}  {t.answer}")
    counts = {v: sum(t.verdict == v for t in tries) for v in ("refused", "unclear", "crashed", "stored")}
    print()
    for via in ("cli", "api"):
        part = [t for t in tries if t.via == via]
        if part:
            c = {v: sum(t.verdict == v for t in part) for v in counts}
            print(f"{via}: tried {len(part)}, refused cleanly {c['refused']}, unclear {c['unclear']}, "
                  f"crashed {c['crashed']}, stored {c['stored']}")
    print(f"all: tried {len(tries)}, refused cleanly {counts['refused']}, unclear {counts['unclear']}, "
          f"crashed {counts['crashed']}, stored {counts['stored']}")
    print()
    print("bombs and special files (a real process each; peak resident memory from wait4):")
    for t in tries:
        if t.bomb:
            print(f"  {t.label:24} {t.what:13} {t.seconds:5.2f} s {t.peak_mb:6.0f} MB  {t.answer[:60]}")
    return 0 if counts["unclear"] == counts["crashed"] == counts["stored"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
