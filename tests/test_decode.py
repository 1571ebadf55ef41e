"""Decoding untrusted bytes: formats, limits, orientation, metadata."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from freshness.errors import ImageRejected
from freshness.faces.decode import DecodeLimits, decode_image, sniff_format


def _jpeg(img: Image.Image, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, **kw)
    return out.getvalue()


def _gradient(w: int = 300, h: int = 200) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    arr = np.stack([np.tile(x, (h, 1)), np.tile(x[::-1], (h, 1)), np.full((h, w), 90, np.uint8)], axis=-1)
    return Image.fromarray(arr, "RGB")


@pytest.mark.parametrize(
    "data, named",
    [
        (b"", "empty"),
        (b"hello, this is a text file\n", "text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"<svg width='10'></svg>", "SVG"),
        (b"GIF89a\x01\x00\x01\x00", "GIF"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF"),
        (b"BM" + b"\x00" * 60, "BMP"),
        (b"<!DOCTYPE html><html></html>", "HTML"),
        (b"\x00\x01\x02\x03\xff\xfe" * 10, "not a recognised image"),
    ],
)
def test_it_refuses_other_formats_by_name(data: bytes, named: str) -> None:
    with pytest.raises(ImageRejected) as err:
        decode_image(data)
    assert err.value.code == "unsupported_format"
    assert named in str(err.value)
    assert "JPEG, PNG, WebP, HEIC/HEIF" in str(err.value)


def _encoded(img: Image.Image, fmt: str) -> bytes:
    if fmt == "HEIF":
        import pillow_heif

        out = io.BytesIO()
        pillow_heif.from_pillow(img).save(out, quality=90)
        return out.getvalue()
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    return out.getvalue()


# Each format under another format's name: sniffing by name (or by Pillow's guess from it) would fail.
MISLEADING = [("JPEG", "JPEG", "photo.png"), ("PNG", "PNG", "photo.jpg"), ("WEBP", "WebP", "photo.heic"),
              ("HEIF", "HEIF", "photo.webp")]


@pytest.mark.parametrize("saved_as, sniffed, name", MISLEADING)
def test_it_sniffs_the_format_from_bytes_not_names(saved_as: str, sniffed: str, name: str, tmp_path) -> None:
    img = _gradient()
    path = tmp_path / name
    path.write_bytes(_encoded(img, saved_as))
    data = path.read_bytes()
    assert sniff_format(data) == sniffed
    decoded = decode_image(data)
    assert decoded.format == sniffed
    diff = np.abs(np.asarray(decoded.image, dtype=np.int16) - np.asarray(img, dtype=np.int16))
    assert diff.mean() < 3  # the same picture (lossless for PNG, close for the lossy formats)
    if sniffed == "PNG":
        assert diff.max() == 0


def test_it_refuses_a_gif_named_like_a_jpeg(tmp_path) -> None:
    path = tmp_path / "selfie.jpg"
    _gradient().save(path, "GIF")  # Pillow writes what it is told, whatever the name says
    with pytest.raises(ImageRejected, match="unsupported file: a GIF image") as err:
        decode_image(path.read_bytes())
    assert err.value.code == "unsupported_format"


@pytest.mark.faces
def test_it_checks_in_photos_whose_names_lie_about_their_format(ready, faces, tmp_path) -> None:
    from tests.clitools import run_json

    face = Image.open(faces / "people/barack_obama/obama2.jpg").convert("RGB")
    pid = run_json("person", "add", "Barack Obama", "--consent")["id"]
    files = []
    for k, (saved_as, _, name) in enumerate(MISLEADING[1:3]):  # a PNG named .jpg, a WebP named .heic
        path = tmp_path / name
        path.write_bytes(_encoded(face.resize((face.width - 2 * k, face.height - 2 * k)), saved_as))
        files.append(path)
    gif = tmp_path / "selfie.jpg.png"
    face.save(gif, "GIF")
    out = run_json("checkin", pid, *files, gif, "--taken", "2025-03-01", code=3)
    assert [r["accepted"] for r in out["results"]] == [True, True, False]
    assert out["results"][2]["error"]["code"] == "unsupported_format"
    assert "a GIF image" in out["results"][2]["error"]["message"]


def test_it_decodes_heic() -> None:
    import pillow_heif

    heif = pillow_heif.from_pillow(_gradient())
    out = io.BytesIO()
    heif.save(out, quality=90)
    data = out.getvalue()
    assert sniff_format(data) == "HEIF"
    decoded = decode_image(data)
    assert decoded.format == "HEIF"
    assert decoded.image.size == (300, 200)
    assert decoded.image.mode == "RGB"


def test_it_refuses_truncated_data() -> None:
    data = _jpeg(_gradient(800, 600))
    with pytest.raises(ImageRejected) as err:
        decode_image(data[: len(data) // 2])
    assert err.value.code == "corrupt"
    assert "truncated or corrupt" in str(err.value)


def test_it_refuses_a_file_over_the_byte_limit() -> None:
    data = _jpeg(_gradient())
    with pytest.raises(ImageRejected) as err:
        decode_image(data, DecodeLimits(max_bytes=len(data) - 1))
    assert err.value.code == "too_large"
    assert "limit" in str(err.value)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but carries almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_it_refuses_a_decompression_bomb_before_decoding() -> None:
    # 60 000 x 60 000 = 3.6 gigapixels claimed in ~100 bytes. Had it been decoded,
    # the error would be "corrupt" (no data), not "too many pixels".
    bomb = _png_header_only(60_000, 60_000)
    assert len(bomb) < 200
    with pytest.raises(ImageRejected) as err:
        decode_image(bomb)
    assert err.value.code == "too_many_pixels"
    # just over the configured limit is refused too, naming the size
    with pytest.raises(ImageRejected) as err:
        decode_image(_png_header_only(8000, 7000))
    assert err.value.code == "too_many_pixels"
    assert "8000x7000" in str(err.value)


def test_it_refuses_animated_images() -> None:
    frames = [_gradient(), _gradient().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    for fmt in ("PNG", "WEBP"):
        out = io.BytesIO()
        frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
        with pytest.raises(ImageRejected) as err:
            decode_image(out.getvalue())
        assert err.value.code == "animated"


def test_it_applies_every_exif_orientation() -> None:
    # A marker in the top-left corner of the upright image must come back there.
    upright = Image.new("RGB", (120, 80), (255, 255, 255))
    upright.paste((255, 0, 0), (0, 0, 20, 20))
    inverse = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }
    for orientation, stored_as in inverse.items():
        stored = upright.transpose(stored_as)
        exif = Image.Exif()
        exif[0x0112] = orientation
        decoded = decode_image(_jpeg(stored, exif=exif.tobytes()))
        assert decoded.orientation == orientation
        assert decoded.image.size == (120, 80), orientation
        r, g, b = decoded.image.getpixel((5, 5))
        assert r > 200 and g < 60 and b < 60, (orientation, (r, g, b))


def test_it_reads_the_capture_time_and_strips_metadata() -> None:
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPS
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2025:06:01 09:30:00"
    sub[0x9011] = "+02:00"
    decoded = decode_image(_jpeg(_gradient(), exif=exif.tobytes()))
    assert decoded.taken_at == datetime(2025, 6, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert not decoded.image.info
    assert len(decoded.image.getexif()) == 0

    sub2 = Image.Exif()
    sub2.get_ifd(0x8769)[0x9003] = "2024:01:02 03:04:05"
    naive = decode_image(_jpeg(_gradient(), exif=sub2.tobytes()))
    assert naive.taken_at == datetime(2024, 1, 2, 3, 4, 5)  # no offset: the caller applies the person's zone


def test_it_uses_jpeg_draft_mode_and_the_working_size() -> None:
    big = _gradient(4032, 3024)
    decoded = decode_image(_jpeg(big), DecodeLimits(work_max_side=1024))
    assert decoded.draft_used
    assert decoded.image.size == (1024, 768)
    assert decoded.original_size == (4032, 3024)
    assert decoded.scale == pytest.approx(1024 / 4032)
    png = io.BytesIO()
    big.resize((2048, 1536)).save(png, "PNG")
    decoded_png = decode_image(png.getvalue(), DecodeLimits(work_max_side=1024))
    assert not decoded_png.draft_used
    assert decoded_png.image.size == (1024, 768)


def _on_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha compositing over white, written out: c * a + 255 * (1 - a)."""
    a = alpha.astype(np.float64)[..., None] / 255.0
    return color.astype(np.float64) * a + 255.0 * (1.0 - a)


def _mode_case(mode: str) -> tuple[Image.Image, np.ndarray]:
    """An image in ``mode`` and the RGB pixels it must decode to, computed without Pillow's conversions."""
    rgb = _gradient()
    grey = rgb.convert("L")
    g = np.asarray(grey, dtype=np.float64)
    h, w = g.shape
    alpha = np.tile(np.linspace(0, 255, h, dtype=np.uint8)[:, None], (1, w))  # transparent top, opaque bottom
    if mode == "1":
        img = grey.convert("1")
        bits = np.asarray(img)
        return img, np.repeat(np.where(bits, 255.0, 0.0)[..., None], 3, axis=2)
    if mode == "L":
        return grey, np.repeat(g[..., None], 3, axis=2)
    if mode == "P":
        img = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
        palette = np.array(img.getpalette(), dtype=np.float64).reshape(-1, 3)
        return img, palette[np.asarray(img)]
    if mode == "RGBA":
        img = Image.fromarray(np.dstack([np.asarray(rgb), alpha]), "RGBA")
        return img, _on_white(np.asarray(rgb), alpha)
    if mode == "LA":
        img = Image.merge("LA", (grey, Image.fromarray(alpha, "L")))
        return img, _on_white(np.repeat(g[..., None], 3, axis=2), alpha)
    if mode == "CMYK":  # (c, m, y, k) = (255 - r, 255 - g, 255 - b, 0)
        inv = 255 - np.asarray(rgb)
        img = Image.fromarray(np.dstack([inv, np.zeros((h, w), np.uint8)]), "CMYK")
        return img, np.asarray(rgb, dtype=np.float64)
    if mode == "I;16":  # 16-bit grey using the whole range: scaled down to 8 bits
        wide = (g * 257).astype(np.uint16)
        img = Image.fromarray(wide)
        assert img.mode == "I;16"
        return img, np.repeat((wide / 65535.0 * 255.0)[..., None], 3, axis=2)
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGBA", "LA", "CMYK", "I;16"])
def test_it_converts_every_mode_to_rgb(mode: str) -> None:
    img, expected = _mode_case(mode)
    out = io.BytesIO()
    img.save(out, "JPEG" if mode == "CMYK" else "PNG", **({"quality": 95} if mode == "CMYK" else {}))
    decoded = decode_image(out.getvalue())
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (300, 200)
    diff = np.abs(np.asarray(decoded.image, dtype=np.float64) - expected)
    if mode == "CMYK":  # lossy JPEG: close everywhere
        assert diff.mean() < 2 and diff.max() < 24, (diff.mean(), diff.max())
    else:  # lossless PNG: exact up to rounding
        assert diff.max() <= 1, (mode, diff.max())


def test_it_composites_transparency_on_white() -> None:
    img = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    assert decode_image(out.getvalue()).image.getpixel((10, 10)) == (255, 255, 255)
