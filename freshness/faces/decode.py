"""Untrusted bytes → an upright RGB working image.

* The format is sniffed from the bytes (never from a file name); JPEG, PNG, WebP
  and HEIC/HEIF are accepted, anything else is refused by name.
* Limits are checked before any pixel is decoded: the byte size, then the pixel
  count read from the header (a decompression bomb never reaches the decoder).
* JPEGs are decoded with Pillow's draft mode straight to a reduced size (the
  DCT scales by 1/2, 1/4, 1/8), then every image is reduced to the working size.
* EXIF orientation is applied; the working image carries no metadata at all.
  The only metadata kept is the capture time (EXIF DateTimeOriginal).
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

ACCEPTED_FORMATS = ("JPEG", "PNG", "WebP", "HEIC/HEIF")
ACCEPTED = "accepted formats: JPEG, PNG, WebP, HEIC/HEIF"

_PIL_FORMAT = {"JPEG": "JPEG", "PNG": "PNG", "WebP": "WEBP", "HEIF": "HEIF"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}

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


def _register_heif() -> None:
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True


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
        if brands & _HEIF_BRANDS:
            return "HEIF"
        if b"avif" in brands or b"avis" in brands:
            raise ImageRejected(f"AVIF images are not supported; {ACCEPTED}", code="unsupported_format")
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


def _parse_exif_datetime(value: object, offset: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    match = re.match(r"^\s*(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})", value)
    if not match:
        return None
    try:
        parsed = datetime(*(int(g) for g in match.groups()))
    except ValueError:
        return None
    if isinstance(offset, str):
        off = re.match(r"^\s*([+-])(\d{2}):(\d{2})", offset)
        if off:
            delta = timedelta(hours=int(off.group(2)), minutes=int(off.group(3)))
            parsed = parsed.replace(tzinfo=timezone(delta if off.group(1) == "+" else -delta))
    return parsed


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        im = Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8), "L")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB") if im.mode != "RGB" else im


def decode_image(data: bytes, limits: DecodeLimits = DecodeLimits()) -> DecodedImage:
    """Decode ``data`` into the working image, or raise ``ImageRejected`` saying why."""
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"file too large: {len(data) / 1048576:.1f} MB; the limit is {limits.max_bytes / 1048576:.0f} MB",
            code="too_large",
            details={"bytes": len(data), "limit": limits.max_bytes},
        )
    fmt = sniff_format(data)
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
            f"cannot read this {fmt} file: it looks truncated or corrupt ({exc}); {ACCEPTED}",
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
        if fmt in ("PNG", "WebP") and getattr(im, "n_frames", 1) > 1:
            raise ImageRejected(
                f"animated {fmt} images are not accepted: send a single still photo; {ACCEPTED}",
                code="animated",
            )
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
        taken_at = _parse_exif_datetime(sub.get(_TAG_DATETIME_ORIGINAL), sub.get(_TAG_OFFSET_TIME_ORIGINAL))

        scale = min(1.0, limits.work_max_side / max(width, height))
        draft_used = False
        if fmt == "JPEG" and scale < 1.0:
            requested = (max(1, int(width * scale)), max(1, int(height * scale)))
            im.draft(None, requested)
            draft_used = im.size != (width, height)
        try:
            im.load()
        except Exception as exc:
            raise ImageRejected(
                f"cannot decode this {fmt} file: it looks truncated or corrupt ({exc}); {ACCEPTED}",
                code="corrupt",
            ) from None
        work = _to_rgb(im)

    # Reduce first, then turn upright: transposing the small image is cheaper.
    long_side = max(work.size)
    if long_side > limits.work_max_side:
        factor = limits.work_max_side / long_side
        size = (max(1, round(work.width * factor)), max(1, round(work.height * factor)))
        work = work.resize(size, Image.Resampling.BICUBIC)
    if orientation != 1:
        work = work.transpose(_TRANSPOSE[orientation])
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if work is im:
        work = work.copy()
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
    )
