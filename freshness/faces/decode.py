"""Untrusted bytes → an upright RGB working image.

* The format is sniffed from the bytes (never from a file name); JPEG, PNG, WebP
  and HEIC/HEIF are accepted, anything else is refused by name.
* Limits are checked before any pixel is decoded: the byte size, then from the header
  the pixel count, the aspect ratio (a 1 x 50,000,000 strip is no photo, and resampling
  it would take gigabytes) and the bytes the decoded picture would occupy (a 16-bit or
  alpha image takes more memory per pixel): a decompression bomb never reaches the decoder,
  and the memory one decode may take is bounded, not only its pixel count.
* A file with another file appended after the end of its image (an archive, a web page, a
  program: a polyglot) is refused; a phone's own trailer (a motion photo's video) is not.
* A HEIF file holding several images (a burst, a collage, two people) is refused: which of
  them is "the photo" is not ours to guess. AVIF (an AV1 image in the same container) is
  named as such and refused.
* JPEGs are decoded with Pillow's draft mode straight to a reduced size (the
  DCT scales by 1/2, 1/4, 1/8), then every image is reduced to the working size
  before any conversion of its colours (so a conversion never copies the full-size picture).
* EXIF orientation is applied; the working image carries no metadata at all.
  The only metadata kept is the capture time (EXIF DateTimeOriginal), and only when it is
  a real date (years 1900-2999, an offset within +-14:00); otherwise it is dropped and
  ``taken_at_problem`` says why.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from PIL import Image

from freshness.errors import ImageRejected
from freshness.files import size_text

ACCEPTED_FORMATS = ("JPEG", "PNG", "WebP", "HEIC/HEIF")
ACCEPTED = "accepted formats: JPEG, PNG, WebP, HEIC/HEIF"

_PIL_FORMAT = {"JPEG": "JPEG", "PNG": "PNG", "WebP": "WEBP", "HEIF": "HEIF"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_HEVC_BRANDS = _HEIF_BRANDS - {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Bytes Pillow keeps per pixel of a decoded image in each mode (RGB is stored as 4 bytes).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "BGR;15": 2, "BGR;16": 2,
               "BGR;24": 3}
MB = 1024 * 1024

_TAG_ORIENTATION = 0x0112
_IFD_EXIF = 0x8769
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_TIME_ORIGINAL = 0x9011

# EXIF orientation → the transpose that makes the image upright (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_heif_lock = threading.Lock()
_heif_registered = False


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000
    work_max_side: int = 1024
    # The long side may be at most this many times the short side (phone panoramas reach
    # about 4:1; a headshot or selfie is near 3:4).
    max_aspect_ratio: float = 8.0
    # The decoded picture may occupy at most this many bytes (50 megapixels of RGB take 200 MB
    # in Pillow; a 16-bit or alpha image more per pixel than its pixel count suggests).
    max_decode_bytes: int = 256 * MB


@dataclass(frozen=True)
class DecodedImage:
    """The working image and the little we keep about the original."""

    image: Image.Image  # RGB, upright, at most work_max_side on its long side
    format: str  # JPEG | PNG | WebP | HEIF
    original_size: tuple[int, int]  # upright width, height of the original
    scale: float  # working size / original size
    orientation: int  # EXIF orientation that was applied (1 = none)
    taken_at: datetime | None  # EXIF DateTimeOriginal; aware when the file had an offset
    draft_used: bool
    taken_at_problem: str | None = None  # why an EXIF date the file has was not used


def _register_heif() -> None:
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True


# What a polyglot carries after the end of its image: an archive, a web page, a document, a
# program. (A phone's own trailer, such as a motion photo's video, is none of these.)
_FOREIGN = ((b"PK\x03\x04", "a ZIP archive"), (b"PK\x05\x06", "a ZIP archive"), (b"Rar!", "a RAR archive"),
            (b"7z\xbc\xaf", "a 7-Zip archive"), (b"\x1f\x8b", "a gzip archive"), (b"%PDF", "a PDF document"),
            (b"\x7fELF", "a program"), (b"MZ", "a program"), (b"#!", "a script"), (b"<?php", "a PHP script"),
            (b"<!doctype", "a web page"), (b"<html", "a web page"), (b"<script", "a script"), (b"<svg", "an SVG image"),
            (b"<?xml", "an XML document"))
_FOREIGN_ANYWHERE = ((b"<script", "a script"), (b"<html", "a web page"), (b"<?php", "a PHP script"),
                     (b"<iframe", "a web page"), (b"javascript:", "a script"))


def _end_of_jpeg(data: bytes) -> int | None:
    """Where a JPEG's EOI marker ends (walking its segments and entropy-coded scans), or None."""
    n, i = len(data), 2
    while i + 1 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            return i + 2
        if 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xD8):
            i += 2
            continue
        if i + 4 > n:
            return None
        end = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if marker != 0xDA:
            i = end
            continue
        j = end  # entropy-coded data: up to the next marker that is not stuffing or a restart
        while True:
            j = data.find(b"\xff", j)
            if j < 0 or j + 1 >= n:
                return None
            following = data[j + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                j += 2
            elif following == 0xFF:
                j += 1
            else:
                break
        i = j
    return None


def _end_of_png(data: bytes) -> int | None:
    i, n = 8, len(data)
    while i + 12 <= n:
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        i += 12 + length
        if kind == b"IEND":
            return i
    return None


def _trailer(data: bytes, fmt: str) -> bytes:
    if fmt == "JPEG":
        end = _end_of_jpeg(data)
    elif fmt == "PNG":
        end = _end_of_png(data)
    elif fmt == "WebP":
        end = 8 + int.from_bytes(data[4:8], "little")
    else:
        end = None
    return data[end:] if end is not None and end < len(data) else b""


def foreign_trailer(data: bytes, fmt: str) -> str | None:
    """What a file carries after the end of its image when that is another kind of file (a
    polyglot: an image that is also an archive or a web page), else None."""
    trailer = _trailer(data, fmt)
    if not trailer:
        return None
    head = trailer.lstrip(b"\x00\t\r\n \xef\xbb\xbf")[:16].lower()
    for signature, what in _FOREIGN:
        if head.startswith(signature.lower()):
            return what
    sample = trailer[:1 << 20].lower()
    for needle, what in _FOREIGN_ANYWHERE:
        if needle in sample:
            return what
    return None


def sniff_format(data: bytes) -> str:
    """Name the format of ``data`` from its first bytes; refuse anything not accepted."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 8 + int.from_bytes(head[:4], "big")), 4)}
        # an AVIF lists the generic HEIF brands (mif1, miaf) too: its own brand decides
        if head[8:12] in _AVIF_BRANDS or (brands & _AVIF_BRANDS and not brands & _HEVC_BRANDS):
            raise ImageRejected(f"unsupported format: AVIF; {ACCEPTED}", code="unsupported_format")
        if brands & _HEIF_BRANDS:
            return "HEIF"
        raise ImageRejected(f"this looks like a video/ISO-media file, not a photo; {ACCEPTED}", code="unsupported_format")
    raise ImageRejected(f"unsupported file: {_describe_unknown(data)}; {ACCEPTED}", code="unsupported_format")


def _describe_unknown(data: bytes) -> str:
    if not data:
        return "the file is empty"
    head = data[:1024]
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "a TIFF image"
    if head.startswith(b"BM"):
        return "a BMP image"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or office document)"
    lowered = stripped.lower()
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
        return "an SVG (vector) image"
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    try:
        head.decode("utf-8")
        return "text, not an image"
    except UnicodeDecodeError:
        return "not a recognised image format"


# A capture date outside these years is a camera without a set clock (0000:00:00, 1970 is
# below the lower bound of the service anyway) or a forged file; the service narrows it further.
EXIF_YEARS = (1900, 2999)
MAX_OFFSET = timedelta(hours=14)  # UTC-12:00 to UTC+14:00 are the zones in use


def _parse_exif_datetime(value: object, offset: object) -> tuple[datetime | None, str | None]:
    """(DateTimeOriginal, None), or (None, why it was not used) when the file has one that is
    not a real date; (None, None) without one."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str) or not value.strip(" \x00"):
        return None, None
    match = re.match(r"^\s*(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})", value)
    if not match:
        return None, f"the photo's EXIF date {value[:32]!r} is not a date"
    try:
        parsed = datetime(*(int(g) for g in match.groups()))
    except ValueError:
        return None, f"the photo's EXIF date {value[:19]!r} is not a date"
    if not EXIF_YEARS[0] <= parsed.year <= EXIF_YEARS[1]:
        return None, f"the photo's EXIF date {value[:19]!r} is out of range (camera clock?)"
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "replace")
    if isinstance(offset, str) and offset.strip(" \x00"):
        off = re.match(r"^\s*([+-])(\d{2}):(\d{2})\s*$", offset.strip("\x00"))
        if not off:
            return None, f"the photo's EXIF time zone offset {offset[:16]!r} is not an offset"
        delta = timedelta(hours=int(off.group(2)), minutes=int(off.group(3)))
        if int(off.group(3)) >= 60 or delta > MAX_OFFSET:
            return None, f"the photo's EXIF time zone offset {offset[:16]!r} is out of range"
        parsed = parsed.replace(tzinfo=timezone(delta if off.group(1) == "+" else -delta))
    return parsed, None


def _why(exc: BaseException) -> str:
    """A decoder's complaint on one line (libheif's end with a newline), at most 200 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _frames(im: Image.Image) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # a broken frame table: counted as one; the decoder decides
        return 1


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB pixels of a (working-size) image: high bit depths scaled to 8 bits, transparency
    laid on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im).astype(np.float32)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        im = Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB") if im.mode != "RGB" else im


def _reduced(im: Image.Image, max_side: int) -> Image.Image:
    """``im`` at most ``max_side`` on its long side. Palette and bilevel images are converted
    first (Pillow would resample them by nearest neighbour); a large image is first reduced by
    an integer factor, band by band, so no full-size copy is ever made (Pillow premultiplies a
    copy of an alpha image to resample it, and converting a palette image copies it)."""
    long_side = max(im.size)
    if long_side <= max_side:
        return im
    convert = None
    if im.mode in ("P", "PA", "1"):
        convert = "RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB"
    factor = max_side / long_side
    size = (max(1, round(im.width * factor)), max(1, round(im.height * factor)))
    step = int(long_side / max_side / 3.0)  # leaves at least 3x the final size for the bicubic filter
    if step >= 2 and not im.mode.startswith("I;16"):  # Pillow reduces every mode but 16-bit
        im = _reduce_in_bands(im, step, convert)
    elif convert:
        im = im.convert(convert)
    return im.resize(size, Image.Resampling.BICUBIC)


def _reduce_in_bands(im: Image.Image, step: int, convert: str | None) -> Image.Image:
    """``im.reduce(step)`` (converted to ``convert`` first), made from bands of ``step * 128`` rows."""
    rows = step * 128
    out = Image.new(convert or im.mode, (-(-im.width // step), -(-im.height // step)))
    for top in range(0, im.height, rows):
        band = im.crop((0, top, im.width, min(im.height, top + rows)))
        if convert:
            band = band.convert(convert)
        out.paste(band.reduce(step), (0, top // step))
    if "transparency" in im.info and not convert:
        out.info["transparency"] = im.info["transparency"]
    return out


def decode_bytes(mode: str, size: tuple[int, int]) -> int:
    """Bytes Pillow keeps for a decoded image of this mode and size."""
    return size[0] * size[1] * _MODE_BYTES.get(mode, 4)


def decode_image(data: bytes, limits: DecodeLimits = DecodeLimits()) -> DecodedImage:
    """Decode ``data`` into the working image, or raise ``ImageRejected`` saying why."""
    decoded = _decode(data, limits, check_only=False)
    assert decoded is not None
    return decoded


def check_image(data: bytes, limits: DecodeLimits = DecodeLimits()) -> None:
    """Every check ``decode_image`` makes before it decodes a pixel (format, appended files, bytes,
    pixels, aspect ratio, frames, memory), reading headers only: ``ImageRejected`` or None. For
    code that hands the bytes to an image library for another purpose (metadata) first."""
    _decode(data, limits, check_only=True)


def _decode(data: bytes, limits: DecodeLimits, *, check_only: bool) -> DecodedImage | None:
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"file too large: {size_text(len(data))}; the limit is {size_text(limits.max_bytes)}",
            code="too_large",
            details={"bytes": len(data), "limit": limits.max_bytes},
        )
    fmt = sniff_format(data)
    appended = foreign_trailer(data, fmt)
    if appended is not None:
        raise ImageRejected(
            f"this {fmt} file has {appended} appended after the end of its image (a file that is two things "
            f"at once): send the photo alone; {ACCEPTED}",
            code="unsupported_format",
            details={"appended": appended},
        )
    if fmt == "HEIF":
        _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[fmt]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            f"image has too many pixels; the limit is {limits.max_pixels / 1e6:.0f} megapixels",
            code="too_many_pixels",
        ) from None
    except Exception as exc:  # Pillow raises many kinds for broken headers
        raise ImageRejected(
            f"cannot read this {fmt} file: it looks truncated or corrupt ({_why(exc)}); {ACCEPTED}",
            code="corrupt",
        ) from None
    with im:
        width, height = im.size
        if width * height > limits.max_pixels:
            raise ImageRejected(
                f"image has too many pixels: {width}x{height} = {width * height / 1e6:.1f} megapixels; "
                f"the limit is {limits.max_pixels / 1e6:.0f} megapixels",
                code="too_many_pixels",
                details={"width": width, "height": height, "limit": limits.max_pixels},
            )
        if width < 1 or height < 1 or max(width, height) > limits.max_aspect_ratio * min(width, height):
            raise ImageRejected(
                f"image is {width}x{height} pixels, a strip rather than a photo: the long side may be at most "
                f"{limits.max_aspect_ratio:g} times the short side",
                code="too_many_pixels",  # the dimensions are outside the limits
                details={"width": width, "height": height, "max_aspect_ratio": limits.max_aspect_ratio},
            )
        frames = _frames(im)
        if fmt in ("PNG", "WebP") and frames > 1:
            raise ImageRejected(
                f"animated {fmt} images are not accepted: send a single still photo; {ACCEPTED}",
                code="animated",
            )
        if fmt == "HEIF" and frames > 1:
            raise ImageRejected(
                f"this HEIC/HEIF file holds {frames} images (a burst or a collage?): send a single photo; "
                f"{ACCEPTED}",
                code="animated",  # several pictures in one file, as an animation
                details={"images": frames},
            )
        scale = min(1.0, limits.work_max_side / max(width, height))
        draft_used = False
        if fmt == "JPEG" and scale < 1.0:
            requested = (max(1, int(width * scale)), max(1, int(height * scale)))
            im.draft(None, requested)
            draft_used = im.size != (width, height)
        needed = decode_bytes(im.mode, im.size)  # after draft: what the decoder will hold
        if needed > limits.max_decode_bytes:
            raise ImageRejected(
                f"image would take {needed / MB:.0f} MB of memory to decode ({width}x{height} pixels, {im.mode}); "
                f"the limit is {limits.max_decode_bytes / MB:.0f} MB",
                code="too_many_pixels",
                details={"width": width, "height": height, "bytes": needed, "limit": limits.max_decode_bytes},
            )
        if check_only:
            return None
        # The EXIF after the memory check: Pillow decodes a PNG completely to look for an eXIf chunk.
        try:
            exif = im.getexif()
        except Exception:
            exif = Image.Exif()
        orientation = exif.get(_TAG_ORIENTATION, 1)
        if not isinstance(orientation, int) or not 1 <= orientation <= 8:
            orientation = 1
        try:
            sub = exif.get_ifd(_IFD_EXIF)
        except Exception:
            sub = {}
        taken_at, taken_at_problem = _parse_exif_datetime(sub.get(_TAG_DATETIME_ORIGINAL),
                                                          sub.get(_TAG_OFFSET_TIME_ORIGINAL))
        try:
            im.load()
        except Exception as exc:
            raise ImageRejected(
                f"cannot decode this {fmt} file: it looks truncated or corrupt ({_why(exc)}); {ACCEPTED}",
                code="corrupt",
            ) from None
        # Reduce first, then convert the colours and turn upright: both are cheaper on the small image.
        try:
            work = _to_rgb(_reduced(im, limits.work_max_side))
        except Exception as exc:  # a decoder that passed load() but left pixels Pillow cannot use
            raise ImageRejected(
                f"cannot decode this {fmt} file: it looks truncated or corrupt ({_why(exc)}); {ACCEPTED}",
                code="corrupt",
            ) from None
        if work is im:
            work = im.copy()

    if orientation != 1:
        work = work.transpose(_TRANSPOSE[orientation])
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    work.info = {}  # pixels only: no EXIF, GPS, ICC or text chunks survive
    clean = work
    return DecodedImage(
        image=clean,
        format=fmt,
        original_size=(width, height),
        scale=clean.width / width,
        orientation=orientation,
        taken_at=taken_at,
        draft_used=draft_used,
        taken_at_problem=taken_at_problem,
    )
