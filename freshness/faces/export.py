"""A stored headshot re-encoded for publishing, labelled as AI-generated (``freshness headshot export``).

The original's pixels are decoded (within the same limits as every upload), turned upright
by their EXIF orientation, and written as a fresh JPEG or PNG: no EXIF (so no GPS, camera
or capture time), no text chunks, no comments, no C2PA manifest of the original (the new
pixels would break its hash anyway); only the colour profile is kept. The XMP packet given
(the IPTC digital source type) is written in its standard place: a JPEG APP1 segment, a PNG
``iTXt`` chunk ``XML:com.adobe.xmp``. With a caption, a band with the words is drawn across
the bottom of the picture, for platforms that strip metadata.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageDraw, ImageFont, ImageOps

from freshness.errors import ImageRejected
from freshness.faces.decode import _PIL_FORMAT, DecodeLimits, _register_heif, sniff_format

FORMATS = ("JPEG", "PNG")


def labelled_copy(data: bytes, *, fmt: str, xmp: bytes, caption: str | None = None,
                  limits: DecodeLimits = DecodeLimits()) -> bytes:
    """``data`` (a JPEG, PNG, WebP or HEIC file) as a new ``fmt`` file (JPEG or PNG) carrying
    only ``xmp`` (and the colour profile), with ``caption`` drawn on it when given."""
    if fmt not in FORMATS:
        raise ValueError(f"export writes JPEG or PNG, not {fmt!r}")
    source = sniff_format(data)
    if source == "HEIF":
        _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[source]])
            if im.width * im.height > limits.max_pixels:
                raise ImageRejected("the stored image has too many pixels to export", code="too_many_pixels")
            icc = im.info.get("icc_profile")
            upright = ImageOps.exif_transpose(im)
            upright.load()
    except ImageRejected:
        raise
    except Exception as exc:  # the original was decoded once when registered: this is a damaged store
        raise ImageRejected(f"the stored headshot cannot be decoded for export ({exc})", code="corrupt") from None
    keep_alpha = fmt == "PNG" and (upright.mode in ("RGBA", "LA") or "transparency" in upright.info)
    pixels = upright.convert("RGBA" if keep_alpha else "RGB")
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)  # a new image: nothing of the original's info dictionary comes along
    if caption:
        clean = _draw_caption(clean, caption)
    out = io.BytesIO()
    extra = {"icc_profile": icc} if isinstance(icc, bytes) and icc else {}
    if fmt == "JPEG":
        clean.save(out, "JPEG", quality=92, optimize=True, xmp=xmp, **extra)
    else:
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"), zip=False)
        clean.save(out, "PNG", pnginfo=info, optimize=True, **extra)
    return out.getvalue()


def _draw_caption(im: Image.Image, caption: str) -> Image.Image:
    """A dark band across the bottom with ``caption`` in white, sized to the picture."""
    w, h = im.size
    band = max(14, round(h * 0.075))
    size = max(9, round(band * 0.62))
    font = _font(size)
    while size > 9 and _text_width(font, caption) > w * 0.92:
        size -= 1
        font = _font(size)
    base = im.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, h - band, w, h), fill=(0, 0, 0, 178))
    box = draw.textbbox((0, 0), caption, font=font)
    tx = (w - (box[2] - box[0])) / 2 - box[0]
    ty = h - band + (band - (box[3] - box[1])) / 2 - box[1]
    draw.text((tx, ty), caption, font=font, fill=(255, 255, 255, 255))
    labelled = Image.alpha_composite(base, overlay)
    return labelled if im.mode == "RGBA" else labelled.convert(im.mode)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError):  # a Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def _text_width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> float:
    box = font.getbbox(text)
    return box[2] - box[0]
