"""Every CLI example in README.md runs (with real photos standing in for the file names)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from freshness.config import reset_settings_cache
from freshness.db import dispose_engines
from tests.clitools import run, runner
from tests.test_channels_cli import Receiver
from tests.conftest import REPO, faces_root

pytestmark = [pytest.mark.faces, pytest.mark.usefixtures("allow_loopback")]  # receivers on loopback

# file names used in the README → photos from ../shared/faces
STAND_INS = {
    "ada-ai-headshot.jpg": "ai/scarlett_johansson/generated/withanyone-3.jpg",
    "selfie-today.jpg": "ai/scarlett_johansson/real/photomaker-scarlett_1.jpg",
    "selfie1.jpg": "ai/scarlett_johansson/real/consistentid-scarlett_johansson.jpg",
    "selfie2.jpg": "ai/scarlett_johansson/real/withanyone-ref.jpg",
    "option1.png": "ai/scarlett_johansson/generated/withanyone-1.jpg",
    "option2.png": "people/rose_leslie/img1.jpg",
    "option3.png": "ai/rihanna/generated/withanyone-2.jpg",
}


def readme_examples() -> list[str]:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("freshness ")]


def test_the_readme_names_examples() -> None:
    examples = readme_examples()
    assert len(examples) >= 20
    from freshness.cli import app
    import typer.main

    group = typer.main.get_command(app)
    documented = {" ".join(e.split()[1:3]) for e in examples} | {e.split()[1] for e in examples}
    for name, cmd in group.commands.items():
        subs = getattr(cmd, "commands", None)
        if subs:
            for sub in subs:
                assert f"{name} {sub}" in documented or (name == "reminders" and sub == "list"), (name, sub)
        else:
            assert name in documented, name


# One key line per README example: each documented command must print what it promises.
KEY_LINES: list[tuple[str, str]] = [
    ("freshness init", "revision"),
    ("freshness person add", "added person #"),
    ("freshness person list --json", '"name": "Ada Lovelace"'),
    ("freshness person list --search", "Ada Lovelace"),
    ("freshness person set", "updated Ada Lovelace (#1): every 14 days"),
    ("freshness person delete", "deleted Ada Lovelace (#1)"),
    ("freshness person forget", "deleted Ada Lovelace (#1)"),
    ("freshness person link", "http://127.0.0.1:8000/signin/frlink_"),
    ("freshness headshot add", "added headshot #"),
    ("freshness headshot list", "linkedin"),
    ("freshness headshot rank", "median distance"),
    ("freshness headshot set", "updated headshot #1"),
    ("freshness headshot retire", "retired headshot #1 (linkedin)"),
    ("freshness headshot export", "exported headshot #1 to "),
    ("freshness checkin", "accepted as check-in #"),
    ("freshness checkin \"Ada Lovelace\" selfies/", "selfies/IMG_0002.jpg: accepted as check-in #5"),
    ("freshness status", "Your LinkedIn headshot "),
    ("freshness history \"Ada Lovelace\" --csv", "checkin_id,taken_at,headshot_1_linkedin"),
    ("freshness history \"Ada Lovelace\" --plot", ""),  # the plot file is checked below
    ("freshness reminders \"Ada Lovelace\"", "(refresh_due)"),  # the quickstart: published 2025-03-01
    ("freshness reminders \"Ada Lovelace\" --as-of 2026-03-01 --json", '"kind": "refresh_due"'),
    ("freshness reminders \"Ada Lovelace\" --as-of 2027-06-01", "would be open"),
    ("freshness reminders ack", "acknowledged"),
    ("freshness reminders snooze", "snoozed until 2027-02-01"),
    ("freshness person set \"Ada Lovelace\" --notify-resolved", "messages when a reminder resolves: on"),
    ("freshness person calendar \"Ada Lovelace\"", "http://127.0.0.1:8000/calendar/frcal_"),
    ("freshness person calendar \"Ada Lovelace\" --rotate", "http://127.0.0.1:8000/calendar/frcal_"),
    ("freshness channel add \"Ada Lovelace\" --email", "added email channel #3 for Ada Lovelace: ada@example.org"),
    ("freshness channel add \"Ada Lovelace\" --apprise", "added apprise channel #3 for Ada Lovelace: ntfy://ntfy.sh/****"),
    ("freshness channel add \"Ada Lovelace\" --webhook", "signing secret (shown once, store it now): whsec_"),
    ("freshness channel list", "disabled since 2026-11-28: the webhook answered 410 Gone"),  # prepared below
    ("freshness channel test 1", "test message delivered to webhook channel #1"),  # to the loopback receiver
    ("freshness channel enable 2", "enabled webhook channel #2"),
    ("freshness channel remove 2", "removed webhook channel #2 of Ada Lovelace"),
    ("freshness notifications", "attempt 1: the webhook answered 410 Gone"),
    ("freshness run sweep", "sweep: evaluated 1 people"),
    ("freshness run prompts", "prompts: 0 check-in prompt(s) sent"),  # Ada joined today: due in 30 days
    ("freshness run dispatch", "dispatch: 0 delivered"),
    ("freshness run inbox", "inbox: 0 checked in, 0 refused"),
    ("freshness run maintenance", "orphaned file(s)"),
    ("freshness token create", "API token #2 for Ada Lovelace (phone), shown once (store it now):"),
    ("freshness token list", "created with the person"),
    ("freshness token revoke", "revoked API token #1 (created with the person) of Ada Lovelace"),
    ("freshness export", "exported Ada Lovelace (#1) to ada.zip: 1 headshot(s), 3 check-in(s)"),
    ("freshness import", "imported Ada King as person #2: 1 headshot(s), 3 check-in(s)"),
    ("freshness doctor", "healthy"),
]


def _key_line(line: str) -> str:
    found = [key for prefix, key in KEY_LINES if line.startswith(prefix)]
    assert found, f"README example without an expected output in KEY_LINES: {line}"
    return found[-1]


def _execute(line: str, cwd: Path) -> None:
    argv = shlex.split(line)[1:]
    out_file = None
    if ">" in argv:
        i = argv.index(">")
        out_file, argv = cwd / argv[i + 1], argv[:i]
    argv = [str(cwd / a) if a in STAND_INS or a.endswith((".png", ".svg")) else a for a in argv]
    result = runner.invoke(__import__("freshness.cli", fromlist=["app"]).app, argv, catch_exceptions=False)
    assert result.exit_code == 0, (line, result.exit_code, result.stdout, result.stderr)
    assert _key_line(line) in result.stdout, (line, result.stdout)
    if out_file is not None:
        out_file.write_text(result.stdout)


@pytest.fixture
def workdir(tmp_path: Path, faces: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, rel in STAND_INS.items():
        shutil.copy(faces / rel, tmp_path / name)
    (tmp_path / "selfies").mkdir()  # a folder of selfies: the files inside, by name
    for name, rel in (("IMG_0001.jpg", STAND_INS["selfie1.jpg"]), ("IMG_0002.jpg", STAND_INS["selfie2.jpg"])):
        shutil.copy(faces / rel, tmp_path / "selfies" / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _fresh_home(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FRESHNESS_HOME", str(path))
    reset_settings_cache()
    dispose_engines()
    return path


def test_every_readme_example_runs(workdir: Path, home: Path, monkeypatch: pytest.MonkeyPatch,
                                   request: pytest.FixtureRequest) -> None:
    # long-running: serve in tests/test_serve.py, serve and scheduler in tests/test_scheduler.py
    examples = [e for e in readme_examples() if not e.startswith(("freshness serve", "freshness scheduler"))]
    # a prepared home: Ada with a headshot, three selfies and a recorded reminder
    prepared = _fresh_home(home / "prepared", monkeypatch)
    run("init")
    run("person", "add", "Ada Lovelace", "--consent", "--sector", "finance")
    run("headshot", "add", "Ada Lovelace", faces_root() / "ai/scarlett_johansson/generated/withanyone-4.jpg",
        "--platform", "linkedin", "--published", "2025-03-01")
    # (Ada's selfies show one person, as the identity guard wants; so do the README's selfie stand-ins)
    for i, rel in enumerate(["ai/scarlett_johansson/real/photomaker-scarlett_0.jpg",
                             "ai/scarlett_johansson/real/photomaker-scarlett_2.jpg",
                             "ai/scarlett_johansson/real/photomaker-scarlett_3.jpg"]):
        run("checkin", "Ada Lovelace", faces_root() / rel, "--taken", f"2025-0{i + 4}-01")
    run("reminders", "--as-of", "2026-01-01")
    # two webhook channels on a receiver on loopback: #1 takes messages, #2 answered 410 to a test (disabled)
    receiver = Receiver()
    request.addfinalizer(receiver.close)
    run("channel", "add", "Ada Lovelace", "--webhook", receiver.url("/freshness"))
    run("channel", "add", "Ada Lovelace", "--webhook", receiver.url("/gone"))
    receiver.answers = [204, 410]
    run("channel", "test", "1")
    run("channel", "test", "2", code=1)
    dispose_engines()

    for n, line in enumerate(examples):
        target = home / f"ex{n}"
        if line.startswith(("freshness init", "freshness person add")):
            target.mkdir()
        else:
            shutil.copytree(prepared, target)
        _fresh_home(target, monkeypatch)
        if line.startswith("freshness person add") or line.startswith("freshness init"):
            run("init")
        _execute(line, workdir)
        dispose_engines()

    # the quickstart session, in order, on one empty home
    _fresh_home(home / "quickstart", monkeypatch)
    text = (REPO / "README.md").read_text()
    quick = re.search(r"A whole session:\n\n```sh\n(.*?)```", text, flags=re.S).group(1)
    lines = quick.strip().splitlines()
    assert lines[0] == "source .venv/bin/activate"  # shown as it runs: the environment first
    for line in lines[1:]:
        _execute(line, workdir)
    assert (workdir / "ada-drift.png").stat().st_size > 1000
