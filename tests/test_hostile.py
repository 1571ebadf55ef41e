"""Hostile input (issue 8, sections 0 and 2): each file, path, name, setting and option value of a
generated corpus (tests/hostile.py) gets a clear answer — what was wrong and what is accepted —
with exit status 2 (usage) or 3 (refused) in the CLI and a 4xx (or a refused result) over the API,
never a traceback, a hang or a 5xx, and leaves no new row and no new file behind.

Special files (/dev/zero, a FIFO) and the decompression bombs run in a real subprocess with a
timeout; the bombs' peak memory (``wait4``) and wall time are bounded. A Hypothesis fuzz of the
decoder shows every mutated file is either decoded or refused with ``ImageRejected``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from PIL import Image

from freshness.config import Settings, reset_settings_cache
from freshness.errors import ImageRejected
from freshness.faces.decode import DecodedImage, DecodeLimits, check_image, decode_image
from freshness.web import create_app
from tests import hostile
from tests.clitools import run, run_json, snapshot
from tests.hostile import SMALL_LIMIT, Case, child_env, freshness_cmd, run_measured

OBAMA = "people/barack_obama"
ADMIN = "admin-token-for-the-hostile-tests-0123"
API = "/api/v1"
TRACEBACK = "Traceback (most recent call last)"
# Generous bounds (a shared, noisy machine): a bomb must be refused or decoded within these.
BOMB_MAX_MB = 600
BOMB_MAX_SECONDS = 20
# A subprocess that has to answer at once (a FIFO, /dev/zero) is killed after this long.
HANG_TIMEOUT = 60


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    """The hostile image files (without the two large bombs), by name."""
    return {c.name: c for c in hostile.image_cases(tmp_path_factory.mktemp("corpus"), bombs=False)}


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    root = tmp_path_factory.mktemp("bombs")
    return {c.name: c for c in hostile.image_cases(root, bombs=True) if c.bomb}


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Case]:
    return {c.name: c for c in hostile.path_cases(tmp_path / "paths")}


@pytest.fixture
def ada(ready: Path, faces: Path) -> str:
    """A person with a headshot and a check-in: the state hostile input must leave as it is."""
    pid = run_json("person", "add", "Ada", "--consent")["id"]
    run("headshot", "add", pid, faces / OBAMA / "obama.jpg", "--platform", "linkedin", "--published", "2025-06-01")
    run("checkin", pid, faces / OBAMA / "obama2.jpg", "--taken", "2025-07-01")
    return str(pid)


def _limits(case: Case) -> DecodeLimits:
    return DecodeLimits(max_bytes=int(case.env.get("FRESHNESS_MAX_UPLOAD_BYTES", 25 * 1024 * 1024)))




# ---------------------------------------------------------------- the decoder


def test_the_decoder_refuses_each_hostile_file_by_name_or_reads_it(corpus: dict[str, Case]) -> None:
    problems = []
    for case in corpus.values():
        data = case.path.read_bytes()
        try:
            decoded = decode_image(data, _limits(case))
        except ImageRejected as exc:
            if case.expect != "refused":
                problems.append(f"{case.name}: refused ({exc.code}: {exc.message}), expected it decoded")
            elif exc.code != case.code or not all(s in exc.message for s in case.says):
                problems.append(f"{case.name}: {exc.code}: {exc.message!r}; expected {case.code} saying {case.says}")
            elif "\n" in exc.message or len(exc.message) > 400:
                problems.append(f"{case.name}: the message is not one short line: {exc.message!r}")
            continue
        if case.expect != "decodes":
            problems.append(f"{case.name}: decoded ({decoded.image.size}), expected {case.code}")
            continue
        assert decoded.image.mode == "RGB" and decoded.image.info == {}
        problem = decoded.taken_at_problem or ""
        if not all(s in problem for s in case.says) or (case.says and decoded.taken_at is not None):
            problems.append(f"{case.name}: taken_at {decoded.taken_at}, problem {problem!r}; expected {case.says}")
    assert problems == []


def test_the_header_check_refuses_what_the_decoder_refuses(corpus: dict[str, Case]) -> None:
    """``check_image`` (headers only: what headshot add runs before reading the file's metadata)
    gives every refusal the decoder gives, except a file whose pixels turn out corrupt."""
    for case in corpus.values():
        data = case.path.read_bytes()
        if case.expect == "refused" and case.code != "corrupt":
            with pytest.raises(ImageRejected) as err:
                check_image(data, _limits(case))
            assert err.value.code == case.code, case.name
        elif case.expect == "decodes":
            assert check_image(data, _limits(case)) is None, case.name


def test_odd_but_valid_images_decode_to_the_right_picture(corpus: dict[str, Case]) -> None:
    """CMYK, 16-bit, palette with transparency, a broken orientation: the same picture comes out."""
    reference = hostile.gradient()
    for name in ("CMYK JPEG", "malformed EXIF orientation", "huge EXIF (PNG eXIf, 8 MB)"):
        out = decode_image(corpus[name].path.read_bytes()).image
        assert out.size == reference.size, name
        diff = np.abs(np.asarray(out, np.int16) - np.asarray(reference, np.int16)).mean()
        assert diff < 6, (name, diff)
    deep = decode_image(corpus["16-bit PNG"].path.read_bytes()).image
    assert deep.getpixel((0, 0))[0] < 5 and deep.getpixel((319, 0))[0] > 250  # 16 bits scaled, not clipped
    palette = decode_image(corpus["palette PNG with transparency"].path.read_bytes()).image
    index0 = hostile.gradient().quantize(64)
    transparent = next((x, y) for y in range(240) for x in range(320) if index0.getpixel((x, y)) == 0)
    assert palette.getpixel(transparent) == (255, 255, 255)  # laid on white
    assert decode_image(corpus["1x1 image"].path.read_bytes()).image.size == (1, 1)


def test_a_decoder_complaint_is_one_line() -> None:
    """libheif ends its messages with a newline: it must not reach a terminal or a log as two lines."""
    heic = hostile.encode(hostile.gradient(800, 600), "HEIF")
    with pytest.raises(ImageRejected) as err:
        decode_image(heic[: len(heic) // 2])
    assert err.value.code == "corrupt" and "\n" not in err.value.message


def test_a_size_limit_below_one_megabyte_is_shown_in_kilobytes() -> None:
    data = hostile.noise_jpeg(300, 300)
    with pytest.raises(ImageRejected) as err:
        decode_image(data, DecodeLimits(max_bytes=100 * 1024))
    assert "the limit is 100 KB" in err.value.message, err.value.message
    assert "0 MB" not in err.value.message


# ---------------------------------------------------------------- the CLI, in process


def _cli_problems(case: Case, out, before: dict, home: Path, what: str) -> list[str]:
    text = out.stdout + out.stderr
    problems = [f"{what} {case.name}: a traceback"] if TRACEBACK in text else []
    if out.exit_code != case.exit:
        problems.append(f"{what} {case.name}: exit {out.exit_code}, expected {case.exit}: {text.strip()[-300:]!r}")
    says = case.says if case.expect != "decodes" else ("no face found",)
    if not all(s in text for s in says):
        problems.append(f"{what} {case.name}: the answer does not say {says}: {text.strip()[-300:]!r}")
    if snapshot(home) != before:
        problems.append(f"{what} {case.name}: something was stored")
    return problems


@pytest.mark.faces
def test_each_hostile_image_is_refused_by_checkin_and_headshot_add_and_nothing_is_stored(
    ada: str, corpus: dict[str, Case], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from freshness.cli import app

    runner = CliRunner()
    ada_home = Path(os.environ["FRESHNESS_HOME"])
    before = snapshot(ada_home)
    problems: list[str] = []
    for case in corpus.values():
        for key, value in case.env.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        try:
            for what, args in (("checkin", ["checkin", ada, str(case.path)]),
                               ("headshot add", ["headshot", "add", ada, str(case.path), "--platform", "linkedin"])):
                out = runner.invoke(app, args)
                if out.exception is not None and not isinstance(out.exception, SystemExit):
                    problems.append(f"{what} {case.name}: raised {out.exception!r}")
                    continue
                problems += _cli_problems(case, out, before, ada_home, what)
        finally:
            for key in case.env:
                monkeypatch.delenv(key)
            reset_settings_cache()
    assert problems == []


@pytest.mark.faces
def test_a_directory_and_a_link_to_a_system_file_are_refused_in_process(ada: str, paths: dict[str, Case]) -> None:
    home = Path(os.environ["FRESHNESS_HOME"])
    before = snapshot(home)
    folder, link = paths["a directory"], paths["a symlink to /etc/passwd"]
    for args in (["checkin", ada], ["headshot", "add", ada]):
        extra = ["--platform", "linkedin"] if args[0] == "headshot" else []
        out = run(*args, folder.path, *extra, code=2)
        # (a check-in may take a folder of selfies: an empty one is then said to be empty)
        assert "is a directory" in out.stderr or "has no files to check in" in out.stderr, out.stderr
        out = run(*args, link.path, *extra, code=3)
        text = out.stdout + out.stderr
        assert "text, not an image" in text and "root:" not in text  # the file's content is never shown
    assert snapshot(home) == before


# ---------------------------------------------------------------- the CLI, as a real process


@pytest.mark.faces
def test_special_files_are_refused_at_once_by_a_real_process(ada: str, paths: dict[str, Case]) -> None:
    """/dev/zero never ends and a FIFO without a writer blocks a reader forever: both are refused
    (exit 2) without reading, well before the timeout."""
    home = Path(os.environ["FRESHNESS_HOME"])
    before = snapshot(home)
    env = child_env(home)
    for case in (paths["/dev/zero"], paths["a FIFO"]):
        for args in (("checkin", ada), ("headshot", "add", ada)):
            extra = ("--platform", "linkedin") if args[0] == "headshot" else ()
            out = run_measured(freshness_cmd(*args, case.path, *extra), env=env, timeout=HANG_TIMEOUT)
            assert not out.timed_out, (case.name, args)
            assert out.code == 2, (case.name, args, out.stdout, out.stderr)
            assert case.says[0] in out.stderr and TRACEBACK not in out.stderr, out.stderr
            assert out.seconds < BOMB_MAX_SECONDS
    assert snapshot(home) == before


def _without_file_permission_override() -> list[str]:
    """A command prefix that runs without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (root reads any
    file otherwise, whatever its mode)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is missing: as root a chmod 000 file stays readable")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search"]


@pytest.mark.faces
def test_an_unreadable_file_is_refused_as_unreadable(ada: str, tmp_path: Path, faces: Path) -> None:
    home = Path(os.environ["FRESHNESS_HOME"])
    secret = tmp_path / "selfie.jpg"
    shutil.copyfile(faces / OBAMA / "obama3.jpg", secret)
    secret.chmod(0)
    prefix = _without_file_permission_override() if os.geteuid() == 0 else []
    probe = run_measured([*prefix, "cat", str(secret)], timeout=HANG_TIMEOUT)
    assert probe.code != 0, "the file is still readable: the test would prove nothing"
    before = snapshot(home)
    for args in (("checkin", ada), ("headshot", "add", ada)):
        extra = ("--platform", "linkedin") if args[0] == "headshot" else ()
        out = run_measured([*prefix, *freshness_cmd(*args, secret, *extra)], env=child_env(home),
                           timeout=HANG_TIMEOUT)
        assert out.code == 2, (args, out.stdout, out.stderr)
        assert TRACEBACK not in out.stderr
        assert f"cannot read {secret}: Permission denied" in out.stderr or "is not readable" in out.stderr, out.stderr
    assert snapshot(home) == before


@pytest.mark.faces
@pytest.mark.parametrize("name", ["1 x 50,000,000 PNG", "16-bit 7070x7070 PNG"])
def test_a_decompression_bomb_is_answered_in_bounded_memory_and_time(ada: str, bombs: dict[str, Case],
                                                                     name: str) -> None:
    """Measured in a real process (peak resident memory from wait4): the strip is refused before
    any pixel is decoded; the 16-bit picture is decoded within the decode budget (then it has no
    face). Reading its metadata out of a headshot used to decode the strip completely (500 MB)."""
    case = bombs[name]
    home = Path(os.environ["FRESHNESS_HOME"])
    before = snapshot(home)
    for args in (("checkin", ada), ("headshot", "add", ada)):
        extra = ("--platform", "linkedin") if args[0] == "headshot" else ()
        out = run_measured(freshness_cmd(*args, case.path, *extra), env=child_env(home), timeout=60)
        text = out.stdout + out.stderr
        assert out.code == 3 and TRACEBACK not in text, (args, text)
        says = case.says if case.expect == "refused" else ("no face found",)
        assert all(s in text for s in says), text
        assert out.peak_mb < BOMB_MAX_MB and out.seconds < BOMB_MAX_SECONDS, (args, out.peak_mb, out.seconds)
        if case.expect == "refused":  # never decoded: the process stays near its size at start
            assert out.peak_mb < 250, (args, out.peak_mb)
    assert snapshot(home) == before


# ---------------------------------------------------------------- the API


@pytest.fixture
def api(home: Path, faces: Path):
    """An app, a person with a headshot and a check-in, and their token."""
    from freshness import migrate

    settings = Settings(admin_token=ADMIN)
    migrate.upgrade(settings)
    with TestClient(create_app(settings)) as client:
        r = client.post(f"{API}/persons", json={"name": "Ada", "consent": True},
                        headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 201, r.text
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        jpeg = (faces / OBAMA / "obama.jpg").read_bytes()
        r = client.post(f"{API}/headshots", files={"image": ("h.jpg", jpeg, "image/jpeg")},
                        data={"platform": "linkedin", "published": "2025-06-01"}, headers=h)
        assert r.status_code == 201, r.text
        r = client.post(f"{API}/checkins", files=[("images", ("s.jpg", (faces / OBAMA / "obama2.jpg").read_bytes(),
                                                               "image/jpeg"))], headers=h)
        assert r.json()["accepted"] == 1, r.text
    return settings, h


@pytest.mark.faces
def test_each_hostile_image_is_refused_over_the_api_and_nothing_is_stored(api, corpus: dict[str, Case]) -> None:
    """A headshot: 422 (413 past the body limit) with {code, message}. A check-in answers 200 with
    one result per image (README, "API"): each hostile one refused with its code and message."""
    settings, h = api
    before = snapshot(settings.home)
    small = Settings(admin_token=ADMIN, max_upload_bytes=SMALL_LIMIT)
    problems: list[str] = []
    for case in corpus.values():
        app_settings = small if case.env else settings
        with TestClient(create_app(app_settings), raise_server_exceptions=False) as client:
            upload = (case.path.name, case.path.read_bytes(), "application/octet-stream")
            r = client.post(f"{API}/headshots", files={"image": upload}, data={"platform": "linkedin"}, headers=h)
            code = case.code if case.expect == "refused" else "no_face"
            says = case.says if case.expect == "refused" else ("no face found",)
            if code == "too_large" and r.status_code == 413:  # the body is over the limit as it streams in
                says = ("is larger than this request's limit", "images of at most 200 KB each")
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            if r.status_code not in ({413, 422} if code == "too_large" else {422}) or body.get("code") != code \
                    or not all(s in body.get("message", "") for s in says):
                problems.append(f"POST /headshots {case.name}: {r.status_code} {r.text[:300]}")
            says = case.says if case.expect == "refused" else ("no face found",)
            r = client.post(f"{API}/checkins", files=[("images", upload)], headers=h)
            if case.env and r.status_code == 413:
                continue  # the body itself is over the limit: refused whole (as above)
            body = r.json()
            result = (body.get("results") or [{}])[0]
            error = result.get("error") or {}
            if r.status_code != 200 or result.get("accepted") is not False or error.get("code") != code \
                    or not all(s in error.get("message", "") for s in says):
                problems.append(f"POST /checkins {case.name}: {r.status_code} {r.text[:300]}")
        if snapshot(settings.home) != before:
            problems.append(f"{case.name}: something was stored")
            before = snapshot(settings.home)
    assert problems == []


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(("name", "says"), hostile.NAMES, ids=range(len(hostile.NAMES)))
def test_a_hostile_name_is_refused_with_what_is_wrong(ready: Path, name: str, says: str) -> None:
    before = snapshot(ready)
    out = run("person", "add", name, "--consent", code=2)
    assert says in out.stderr and TRACEBACK not in out.stderr
    assert len(out.stderr) < 400  # a 10 KB name is not echoed back
    assert "\x1b" not in out.stdout + out.stderr  # an escape code never reaches the terminal
    assert snapshot(ready) == before


def test_invisible_and_direction_marks_are_taken_out_of_a_name(ready: Path) -> None:
    """Right-to-left overrides (which make "Bob\u202egpj.exe" read "Bobexe.jpg") and zero-width
    characters are removed: the stored and shown name is what a person reads."""
    added = run_json("person", "add", "Bob\u202egpj.exe\u200b", "--consent")
    assert added["name"] == "Bobgpj.exe"
    twin = run("person", "add", "\u200fBOB\u200dgpj.exe", "--consent", code=2)
    assert "already exists" in twin.stderr
    listing = run("person", "list").stdout
    assert "Bobgpj.exe" in listing and not re.search("[\u200b-\u200f\u202a-\u202e\u2066-\u2069]", listing)


def test_a_hostile_name_is_refused_over_the_api(home: Path) -> None:
    from freshness import migrate

    settings = Settings(admin_token=ADMIN)
    migrate.upgrade(settings)
    before = snapshot(home)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for name in ("Ada\nLovelace", "\x1b[2J", "x" * 10240, "\u200b"):
            r = client.post(f"{API}/persons", json={"name": name, "consent": True},
                            headers={"Authorization": f"Bearer {ADMIN}"})
            assert 400 <= r.status_code < 500, (name[:20], r.status_code, r.text)
            assert r.json()["code"] and r.json()["message"]
    assert snapshot(home) == before


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(("variable", "value", "says"), hostile.SETTINGS)
def test_a_bad_setting_is_named_with_what_it_accepts(ready: Path, monkeypatch: pytest.MonkeyPatch, variable: str,
                                                     value: str, says: str) -> None:
    before = snapshot(ready)
    monkeypatch.setenv(variable, value)
    reset_settings_cache()
    for args in (("person", "list"), ("person", "add", "Eve", "--consent")):
        out = run(*args, code=2)
        assert says in out.stderr and TRACEBACK not in out.stderr, out.stderr
        assert "secret" not in out.stderr  # a password in a database URL is never shown
    assert snapshot(ready) == before


def test_a_data_directory_that_is_a_file_is_named(home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    for where, says in ((afile, "is not a directory (the data directory holds"),
                        (afile / "below", f"{afile} is not a directory")):
        monkeypatch.setenv("FRESHNESS_HOME", str(where))
        reset_settings_cache()
        for args in (("init",), ("person", "list")):
            out = run(*args, code=2)
            assert "FRESHNESS_HOME" in out.stderr and says in out.stderr, out.stderr
    assert afile.read_text() == "x" and not home.exists()


# ---------------------------------------------------------------- option values


@pytest.mark.faces
def test_hostile_option_values_are_usage_errors(ada: str, faces: Path, tmp_path: Path) -> None:
    home = Path(os.environ["FRESHNESS_HOME"])
    before = snapshot(home)
    selfie = tmp_path / "new.jpg"
    shutil.copyfile(faces / OBAMA / "obama3.jpg", selfie)
    headshot = faces / OBAMA / "obama1.jpg"
    cases = hostile.option_cases(ada, selfie, headshot)
    for args, says in cases:
        out = run(*args, code=2)
        assert says in out.stderr and TRACEBACK not in out.stdout + out.stderr, (args, out.stderr)
    assert snapshot(home) == before


def test_a_person_in_a_far_east_zone_at_the_start_of_the_calendar_is_refused(ready: Path, tmp_path: Path) -> None:
    """0001-01-01T00:00 in Tokyo is before the first instant Python can hold in UTC."""
    pid = run_json("person", "add", "Kei", "--consent", "--timezone", "Asia/Tokyo")["id"]
    photo = tmp_path / "p.jpg"
    photo.write_bytes(hostile.encode(hostile.gradient(), "JPEG"))
    before = snapshot(ready)
    out = run("checkin", pid, photo, "--taken", "0001-01-01T00:00", code=2)
    assert "0001-01-01T00:00" in out.stderr and TRACEBACK not in out.stderr
    assert snapshot(ready) == before


# ---------------------------------------------------------------- EXIF: accepted, the bad date dropped


@pytest.mark.faces
def test_absurd_exif_dates_are_dropped_with_a_note_and_odd_modes_are_checked_in(ada: str, faces: Path,
                                                                                 tmp_path: Path) -> None:
    """A real selfie carrying an EXIF date the service cannot use is checked in at the time it was
    received, with a note saying why; CMYK, 16-bit and palette versions of a selfie are read."""
    face = Image.open(faces / OBAMA / "obama3.jpg").convert("RGB")
    face = face.resize((face.width // 2, face.height // 2))
    files = {}
    for k, (date, offset, says) in enumerate([
        ("9999:12:31 23:59:59", None, "EXIF date '9999:12:31 23:59:59' is out of range"),
        ("0001:01:01 00:00:00", None, "EXIF date '0001:01:01 00:00:00' is out of range"),
        ("1850:06:01 12:00:00", None, "EXIF date '1850:06:01 12:00:00' is out of range"),
        ("1950:06:01 12:00:00", None, "the photo's EXIF date is before 1990"),
        ("2025:06:01 12:00:00", "+99:99", "offset '+99:99' is out of range"),
    ]):
        path = tmp_path / f"exif{k}.jpg"
        path.write_bytes(hostile.with_exif(face.crop((k, k, face.width - k, face.height - k)), date=date,
                                           offset=offset))
        files[path.name] = says
    odd = {"cmyk.jpg": hostile.encode(face.convert("CMYK"), "JPEG", quality=92),
           "deep.png": hostile.encode(Image.fromarray((np.asarray(face.convert("L"), dtype=np.uint16) * 257)), "PNG"),
           "palette.png": hostile.encode(face.quantize(255), "PNG", transparency=0)}
    for name, data in odd.items():
        (tmp_path / name).write_bytes(data)
        files[name] = None
    out = run_json("checkin", ada, *(tmp_path / n for n in files))
    by_file = {Path(r["file"]).name: r for r in out["results"]}
    for name, says in files.items():
        r = by_file[name]
        assert r["accepted"], (name, r)
        if says:
            assert r["taken_at_source"] == "received" and says in (r["note"] or ""), (name, r)


# ---------------------------------------------------------------- a fuzz of the decoder


def _seeds() -> list[bytes]:
    from tests.conftest import faces_root

    root = faces_root() / OBAMA / "obama.jpg"
    img = Image.open(root).convert("RGB") if root.is_file() else hostile.gradient()
    img.thumbnail((64, 64))
    return [hostile.encode(img, "JPEG", quality=80), hostile.encode(img, "PNG"),
            hostile.encode(img, "WEBP", quality=80), hostile.encode(img.quantize(16), "PNG", transparency=0)]


SEEDS = _seeds()
FUZZ_LIMITS = DecodeLimits(max_bytes=1024 * 1024, max_pixels=4_000_000, max_decode_bytes=32 * 1024 * 1024)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:  # random bytes, sometimes behind a real signature
        head = draw(st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x01\x00\x00WEBP",
                                     b"\x00\x00\x00\x18ftypheic", b"\x00\x00\x00\x18ftypavif"]))
        return head + draw(st.binary(max_size=2048))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete", "dup"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xD9, 0xDA]))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "dup":
            data[at:at] = data[at:at + draw(st.integers(1, 256))]
    return bytes(data)


@hsettings(max_examples=200, deadline=None, derandomize=True, database=None,
           suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=mutated())
def test_the_decoder_decodes_or_refuses_every_mutated_file(data: bytes) -> None:
    try:
        out = decode_image(data, FUZZ_LIMITS)
    except ImageRejected as exc:
        assert exc.code in ("unsupported_format", "corrupt", "too_large", "too_many_pixels", "animated")
        assert exc.message and "\n" not in exc.message
        return
    assert isinstance(out, DecodedImage)
    assert out.image.mode == "RGB" and max(out.image.size) <= FUZZ_LIMITS.work_max_side


@pytest.mark.faces
def test_a_folder_of_hostile_images_checked_in_by_worker_processes_is_refused_image_by_image(
    ada: str, corpus: dict[str, Case], tmp_path: Path
) -> None:
    """The worker processes (``checkin FOLDER --workers 2``) meet every hostile file too: each is
    refused with its own code, none takes a worker (or the command) down, nothing is stored."""
    import json

    folder = tmp_path / "selfies"
    folder.mkdir()
    expected = {}
    for case in corpus.values():
        if not case.env:  # (the size limit is the same for all: the too-large case needs its own)
            shutil.copyfile(case.path, folder / case.path.name)
            expected[case.path.name] = case.code if case.expect == "refused" else "no_face"
    home = Path(os.environ["FRESHNESS_HOME"])
    before = snapshot(home)
    out = run_measured(freshness_cmd("checkin", ada, folder, "--workers", "2", "--json"), env=child_env(home),
                       timeout=300)
    assert out.code == 3 and TRACEBACK not in out.stdout + out.stderr, (out.code, out.stderr[-2000:])
    results = {Path(r["file"]).name: r for r in json.loads(out.stdout)["results"]}
    assert {name: (r.get("error") or {}).get("code") for name, r in results.items()} == expected
    assert snapshot(home) == before


@pytest.mark.faces
def test_the_inbox_refuses_each_hostile_file_with_its_reason_and_never_waits(ada: str, corpus: dict[str, Case],
                                                                             tmp_path: Path) -> None:
    """Hostile files dropped into a person's inbox folder (a real ``run inbox`` process with a
    timeout): each is moved to refused/ with a note giving its code and message (a file over the
    limit in the CLI's words); a FIFO and links to /dev/zero and /etc/passwd neither hang the
    import nor get read; nothing is stored."""
    home = Path(os.environ["FRESHNESS_HOME"])
    inbox = home / "inbox" / ada
    inbox.mkdir(parents=True)
    expected = {}
    for case in corpus.values():
        if case.path.stat().st_size <= SMALL_LIMIT or case.env:
            shutil.copyfile(case.path, inbox / case.path.name)
            expected[case.path.name] = case.code if case.expect == "refused" else "no_face"
    os.mkfifo(inbox / "pipe.jpg")
    (inbox / "zero.jpg").symlink_to("/dev/zero")
    (inbox / "passwd.jpg").symlink_to("/etc/passwd")
    old = 1_000_000_000  # 2001: long settled
    for path in inbox.iterdir():
        os.utime(path, (old, old), follow_symlinks=False)
    before = snapshot(home)
    out = run_measured(freshness_cmd("run", "inbox"), timeout=HANG_TIMEOUT,
                       env=child_env(home, FRESHNESS_MAX_UPLOAD_BYTES=str(SMALL_LIMIT), FRESHNESS_INBOX_WORKERS="1"))
    assert out.code == 0 and TRACEBACK not in out.stdout + out.stderr, (out.code, out.stdout, out.stderr[-2000:])
    notes = {p.name.removesuffix(".txt"): p.read_text() for p in (inbox / "refused").glob("*.txt")}
    assert {name: re.match(r"Not checked in \((\w+)\)", text).group(1) for name, text in notes.items()} == expected
    assert "file too large: more than 200 KB; the limit is 200 KB" in notes["big.jpg"]  # it said "0 MB"
    assert "\n" not in notes["truncated.heic"].splitlines()[0] and "root:" not in "".join(notes.values())
    assert (inbox / "pipe.jpg").exists() and (inbox / "zero.jpg").is_symlink()  # left alone, never read
    assert snapshot(home) == before
