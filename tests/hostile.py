"""A hostile-input corpus, generated (nothing binary is kept in the repository), and a runner that
measures a command in a subprocess (exit status, output, peak memory, wall time, with a timeout).

Used by tests/test_hostile.py and benchmarks/hostile.py. Every image case is made from a
synthetic gradient (no face: an image that decodes is then refused as ``no_face``), except where
a real photo is passed in.

``Case.expect`` says what the product must answer:

* ``refused``: the decoder refuses it (``ImageRejected``: ``code``, message containing ``says``);
  the CLI exits 3, the API answers 422 (a headshot) or a refused result (a check-in);
* ``usage``: the path is not an image file at all (a directory, a device, a FIFO): exit 2;
* ``decodes``: an odd but valid image the decoder must read (CMYK, 16-bit, palette, absurd EXIF):
  ``says`` is then the decoder's ``taken_at_problem`` (or empty), and the CLI refuses the
  gradient as ``no_face``.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

ACCEPTED = "accepted formats: JPEG, PNG, WebP, HEIC/HEIF"
MB = 1024 * 1024

#: A lowered FRESHNESS_MAX_UPLOAD_BYTES for the "over the size limit" case (its file is larger).
SMALL_LIMIT = 200 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expect: str  # refused | usage | decodes
    code: str | None = None  # the ImageRejected code (refused), or the CLI's refusal of a decoded gradient
    says: tuple[str, ...] = ()  # what the message must contain
    env: dict[str, str] = field(default_factory=dict)  # settings the case needs (a lowered limit)
    bomb: bool = False  # measured in a subprocess (memory and time)
    image: bool = True  # bytes that can be sent over the API as an upload

    @property
    def exit(self) -> int:
        return 2 if self.expect == "usage" else 3


# ---------------------------------------------------------------- encoders


def gradient(w: int = 320, h: int = 240) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    y = np.linspace(0, 255, h, dtype=np.uint8)
    arr = np.stack([np.tile(x, (h, 1)), np.tile(y[:, None], (1, w)), np.full((h, w), 90, np.uint8)], axis=-1)
    return Image.fromarray(arr, "RGB")


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.from_pillow(img).save(out, quality=80)
    else:
        img.save(out, fmt, **kw)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_header_only(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    """A PNG whose header claims width x height but that carries almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def png_streamed(path: Path, width: int, height: int, depth: int, colour: int, row: bytes) -> Path:
    """A complete, valid PNG of ``height`` identical rows (``row`` is one row's pixel bytes),
    compressed as it is written: a few hundred KB on disk for a picture of hundreds of MB."""
    comp = zlib.compressobj(9)
    line = b"\x00" + row  # filter type 0
    per = max(1, (4 * MB) // len(line))
    parts = []
    left = height
    while left:
        n = min(per, left)
        parts.append(comp.compress(line * n))
        left -= n
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr))
        fh.write(_chunk(b"IDAT", b"".join(parts)))
        fh.write(_chunk(b"IEND", b""))
    return path


def strip_bomb(path: Path) -> Path:
    """A real 1 x 50,000,000 8-bit grey PNG (50 megapixels, at the pixel limit): small on disk;
    resampling such a strip would take gigabytes."""
    return png_streamed(path, 1, 50_000_000, 8, 0, b"\x80")


def deep_png(path: Path) -> Path:
    """A real 7070 x 7070 16-bit grey PNG (just under 50 megapixels; 100 MB decoded)."""
    row = (np.linspace(0, 65535, 7070).astype(">u2")).tobytes()
    return png_streamed(path, 7070, 7070, 16, 0, row)


def webp_canvas(width: int, height: int) -> bytes:
    """A WebP whose VP8X header declares a width x height canvas around a small picture."""
    small = encode(gradient(), "WEBP", quality=80)
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (width - 1).to_bytes(3, "little") + \
        (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + small[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def heic_declaring(width: int, height: int) -> bytes:
    """A small HEIC whose 'ispe' box (the image's declared size) says width x height."""
    data = bytearray(encode(gradient(), "HEIF"))
    at = data.find(b"ispe")
    assert at > 0, "no ispe box in the HEIC pillow_heif wrote"
    data[at + 8:at + 16] = struct.pack(">II", width, height)
    return bytes(data)


def heic_multi() -> bytes:
    import pillow_heif

    heif = pillow_heif.from_pillow(gradient())
    heif.add_from_pillow(gradient(240, 320))
    out = io.BytesIO()
    heif.save(out, quality=80)
    return out.getvalue()


def animated(fmt: str) -> bytes:
    frames = [gradient(), gradient().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.txt", "hello from inside the image\n")
    return out.getvalue()


def with_exif(img: Image.Image, *, date: str | None = None, offset: str | None = None,
              orientation: object = None, comment_bytes: int = 0) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if date is not None:
        sub[0x9003] = date
    if offset is not None:
        sub[0x9011] = offset
    if comment_bytes:
        sub[0x9286] = b"ASCII\x00\x00\x00" + b"A" * comment_bytes  # UserComment
    return encode(img, "JPEG", exif=exif.tobytes(), quality=85)


def png_with_huge_exif(img: Image.Image, size: int) -> bytes:
    """A PNG with a ``size``-byte eXIf chunk (a little-endian TIFF header, then junk)."""
    data = encode(img, "PNG")
    blob = b"II*\x00\x08\x00\x00\x00" + b"\x00\x00" + os.urandom(size)
    at = data.index(b"IDAT") - 4
    return data[:at] + _chunk(b"eXIf", blob) + data[at:]


def noise_jpeg(w: int, h: int, seed: int = 7) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return encode(Image.fromarray(arr, "RGB"), "JPEG", quality=95)


# ---------------------------------------------------------------- the corpus


def image_cases(root: Path, *, bombs: bool = True) -> list[Case]:
    """Every hostile image file, written under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str, data: bytes | Callable[[Path], Path], expect: str, code: str | None, *says: str,
            filename: str | None = None, **kw) -> None:
        path = root / (filename or name)
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        cases.append(Case(name, path, expect, code, tuple(says), **kw))

    jpeg = encode(gradient(800, 600), "JPEG", quality=90)
    png = encode(gradient(800, 600), "PNG")
    webp = encode(gradient(800, 600), "WEBP", quality=80)
    heic = encode(gradient(800, 600), "HEIF")
    unsupported = "unsupported_format"

    add("empty", b"", "refused", unsupported, "the file is empty", ACCEPTED, filename="empty.jpg")
    add("text named .jpg", b"Dear diary, this is not a photo.\n" * 20, "refused", unsupported,
        "text, not an image", ACCEPTED, filename="notes.jpg")
    add("random bytes", np.random.default_rng(2).bytes(40_000), "refused", unsupported,
        "not a recognised image format", ACCEPTED, filename="random.heic")
    add("truncated JPEG", jpeg[: len(jpeg) // 2], "refused", "corrupt", "truncated or corrupt", ACCEPTED,
        filename="truncated.jpg")
    add("truncated PNG", png[: len(png) // 2], "refused", "corrupt", "truncated or corrupt", ACCEPTED,
        filename="truncated.png")
    add("truncated WebP", webp[: len(webp) // 2], "refused", "corrupt", "truncated or corrupt", ACCEPTED,
        filename="truncated.webp")
    add("truncated HEIC", heic[: len(heic) // 2], "refused", "corrupt", "truncated or corrupt", ACCEPTED,
        filename="truncated.heic")
    add("JPEG + ZIP polyglot", jpeg + zip_bytes(), "refused", unsupported, "a ZIP archive appended",
        ACCEPTED, filename="polyglot-zip.jpg")
    add("JPEG + HTML polyglot", jpeg + b"<html><body><script>alert(document.cookie)</script></body></html>",
        "refused", unsupported, "a web page appended", ACCEPTED, filename="polyglot-html.jpg")
    add("PNG declaring 60000x60000", png_header_only(60_000, 60_000), "refused", "too_many_pixels",
        "too many pixels", "the limit is 50 megapixels", filename="bomb60k.png")
    add("WebP declaring 60000x60000", webp_canvas(60_000, 60_000), "refused", "too_many_pixels",
        "too many pixels", "the limit is 50 megapixels", filename="bomb60k.webp")
    add("HEIC declaring 60000x60000", heic_declaring(60_000, 60_000), "refused", "too_many_pixels",
        "too many pixels", "the limit is 50 megapixels", filename="bomb60k.heic")
    add("over the size limit", noise_jpeg(600, 600), "refused", "too_large", "file too large",
        "the limit is 200 KB", env={"FRESHNESS_MAX_UPLOAD_BYTES": str(SMALL_LIMIT)}, filename="big.jpg")
    add("SVG", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<script>alert(1)</script></svg>', "refused", unsupported, "an SVG (vector) image", ACCEPTED,
        filename="face.svg")
    add("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", "refused", unsupported,
        "a PDF document", ACCEPTED, filename="face.pdf")
    add("animated GIF", animated("GIF"), "refused", unsupported, "a GIF image", ACCEPTED, filename="anim.gif")
    add("animated WebP", animated("WEBP"), "refused", "animated", "animated WebP images are not accepted",
        filename="anim.webp")
    add("animated PNG", animated("PNG"), "refused", "animated", "animated PNG images are not accepted",
        filename="anim.png")
    add("multi-image HEIC", heic_multi(), "refused", "animated", "holds 2 images", "send a single photo",
        filename="burst.heic")
    add("AVIF", encode(gradient(), "AVIF", quality=60), "refused", unsupported, "unsupported format: AVIF",
        ACCEPTED, filename="photo.heic")
    add("10000x100 strip", encode(Image.new("RGB", (10_000, 100), (120, 90, 60)), "PNG"), "refused",
        "too_many_pixels", "10000x100 pixels, a strip rather than a photo", filename="strip.png")
    # Odd but valid images: decoded (the gradient then has no face).
    add("1x1 image", encode(Image.new("RGB", (1, 1), (200, 150, 120)), "PNG"), "decodes", "no_face",
        filename="pixel.png")
    add("CMYK JPEG", encode(gradient().convert("CMYK"), "JPEG", quality=90), "decodes", "no_face",
        filename="cmyk.jpg")
    add("16-bit PNG", encode(Image.fromarray((np.tile(np.linspace(0, 65535, 320), (240, 1))).astype(np.uint16)),
                             "PNG"), "decodes", "no_face", filename="deep.png")
    add("palette PNG with transparency", _palette_transparent(), "decodes", "no_face", filename="palette.png")
    add("huge EXIF (JPEG, 64 KB)", with_exif(gradient(), comment_bytes=65_000), "decodes", "no_face",
        filename="exif-huge.jpg")
    add("huge EXIF (PNG eXIf, 8 MB)", png_with_huge_exif(gradient(), 8 * MB), "decodes", "no_face",
        filename="exif-huge.png")
    add("malformed EXIF orientation", with_exif(gradient(), orientation=99), "decodes", "no_face",
        filename="exif-orientation.jpg")
    add("EXIF date in 9999", with_exif(gradient(), date="9999:12:31 23:59:59"), "decodes", "no_face",
        "out of range", filename="exif-9999.jpg")
    add("EXIF date in 0001", with_exif(gradient(), date="0001:01:01 00:00:00"), "decodes", "no_face",
        "out of range", filename="exif-0001.jpg")
    add("EXIF date before 1900", with_exif(gradient(), date="1850:06:01 12:00:00"), "decodes", "no_face",
        "out of range", filename="exif-1850.jpg")
    add("EXIF offset +99:99", with_exif(gradient(), date="2025:06:01 12:00:00", offset="+99:99"), "decodes",
        "no_face", "offset '+99:99' is out of range", filename="exif-offset.jpg")
    if bombs:
        add("1 x 50,000,000 PNG", strip_bomb, "refused", "too_many_pixels", "1x50000000 pixels",
            "a strip rather than a photo", filename="strip-bomb.png", bomb=True)
        add("16-bit 7070x7070 PNG", deep_png, "decodes", "no_face", filename="deep-7070.png", bomb=True)
    return cases


def _palette_transparent() -> bytes:
    im = gradient().quantize(64)
    im.info["transparency"] = 0
    return encode(im, "PNG", transparency=0)


def path_cases(root: Path) -> list[Case]:
    """Paths that name no image file: a directory, a device, a FIFO, a link to a system file."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "a-folder.jpg"
    folder.mkdir(exist_ok=True)
    fifo = root / "pipe.jpg"
    if not fifo.exists():
        os.mkfifo(fifo)
    link = root / "passwd.jpg"
    if not link.is_symlink():
        link.symlink_to("/etc/passwd")
    return [
        Case("a directory", folder, "usage", None, ("is a directory",), image=False),
        Case("/dev/zero", Path("/dev/zero"), "usage", None,
             ("cannot read /dev/zero: it is a device, not an image file",), image=False),
        Case("a FIFO", fifo, "usage", None, ("it is a FIFO (named pipe), not an image file",), image=False),
        Case("a symlink to /etc/passwd", link, "refused", "unsupported_format", ("text, not an image", ACCEPTED),
             image=False),
    ]


# ---------------------------------------------------------------- names, settings, option values

#: ``freshness person add NAME --consent``: (name, what the refusal says); exit 2.
NAMES: list[tuple[str, str]] = [
    ("Ada\nLovelace", "cannot contain control characters"),
    ("\x1b[31mRed\x1b[0m", "cannot contain control characters"),
    ("\x1b]0;pwned\x07Ada", "cannot contain control characters"),
    ("Ada\rEve", "cannot contain control characters"),
    ("\u200b\u200d\u2060", "must not be empty"),
    ("x" * 10240, "at most 200 characters, got 10240"),
]

#: (variable, value, what the refusal says) for any command; exit 2.
SETTINGS: list[tuple[str, str, str]] = [
    ("FRESHNESS_POLICY", "{not json", "FRESHNESS_POLICY={not json: must be a JSON object"),
    ("FRESHNESS_POLICY", '{"abs_threshold": "high"}', "abs_threshold must be a number"),
    ("FRESHNESS_POLICY", "[0.6]", "must be a JSON object"),
    ("FRESHNESS_MAX_PIXELS", "-1", "FRESHNESS_MAX_PIXELS=-1: Input should be greater than or equal to 10000"),
    ("FRESHNESS_MAX_UPLOAD_BYTES", "-1", "FRESHNESS_MAX_UPLOAD_BYTES=-1: Input should be greater than or equal"),
    ("FRESHNESS_KEEP_SELFIE_ORIGINALS", "maybe",
     "FRESHNESS_KEEP_SELFIE_ORIGINALS=maybe: Input should be a valid boolean"),
    ("FRESHNESS_DATABASE_URL", "bogus://nowhere/db", "'bogus' databases are not supported: use sqlite or postgresql"),
    ("FRESHNESS_DATABASE_URL", "not a url", "FRESHNESS_DATABASE_URL: is not a database URL"),
    # a server that is not there: named, exit 2 (it was exit 1, "unexpected failure")
    ("FRESHNESS_DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:1/freshness", "the database failed"),
]


def option_cases(pid: str, selfie: Path, headshot: Path) -> list[tuple[tuple[object, ...], str]]:
    """(CLI arguments, what the refusal says) for a person ``pid`` with headshot #1; exit 2."""
    return [
        (("person", "add", "Tz", "--consent", "--timezone", "America"), "unknown time zone 'America'"),
        (("person", "set", pid, "--timezone", "America"), "use an IANA name such as"),
        (("person", "set", pid, "--timezone", "../../../etc/passwd"), "unknown time zone"),
        (("status", pid, "--as-of", "9999-12-31"), "out of range: give a date from 1900 to 8999"),
        (("reminders", pid, "--as-of", "9999-12-31"), "out of range: give a date from 1900 to 8999"),
        (("status", pid, "--as-of", "0001-01-01"), "out of range: give a date from 1900 to 8999"),
        (("checkin", pid, selfie, "--taken", "0001-01-01T00:00"), "out of range: give a date from 1900 to 8999"),
        (("checkin", pid, selfie, "--taken", "9999-12-31T23:59"), "out of range"),
        (("headshot", "add", pid, headshot, "--platform", "linkedin", "--published", "0001-01-01"),
         "--published 0001-01-01 is out of range: give a date from 1900 to today"),
        (("headshot", "set", "1", "--published", "0001-01-01"), "out of range: give a date from 1900 to today"),
        (("serve", "--port", "99999"), "Invalid value for '--port'"),
        (("serve", "--port", "-1"), "Invalid value for '--port'"),
        (("headshot", "rank", pid, selfie, "--selfies", "1e20"), "Invalid value for '--selfies'"),
        (("headshot", "rank", pid, selfie, "--selfies", "100000000000000000000"), "--selfies must be from 3 to"),
    ]


# ---------------------------------------------------------------- a measured subprocess


@dataclass
class Outcome:
    code: int | None  # None: killed after the timeout
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # the child's peak resident memory

    @property
    def timed_out(self) -> bool:
        return self.code is None

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stdout + self.stderr


def freshness_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "freshness", *(str(a) for a in args)]


# Runs argv[2:] as its child and writes the child's peak resident memory (KB) to the file argv[1].
# Needed because Linux keeps a process's peak across exec: a command started straight from a
# test process (hundreds of MB with dlib loaded) would report the test's size, not its own.
_MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 60.0) -> Outcome:
    """Run ``cmd`` (stdin closed, output to files: no pipe can fill up), waiting at most ``timeout``
    seconds (then its whole process group is killed); its peak memory is its own (``wait4``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-S", "-c", _MEASURE, rss.name, *cmd], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, env=env, start_new_session=True)
        code: int | None = None
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        seconds = time.monotonic() - start
        peak = rss.read().strip()
        out.seek(0)
        err.seek(0)
        return Outcome(code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                       seconds, int(peak) / 1024 if peak else 0.0)


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a freshness subprocess on the data directory ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHNESS_")}
    env["FRESHNESS_HOME"] = str(home)
    env.update(extra)
    return env
