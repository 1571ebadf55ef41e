"""The face pipeline on the real photos in ../shared/faces."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from freshness.errors import ImageRejected
from freshness.faces import analyze_image, decode_image
from freshness.faces.limits import QualityLimits

pytestmark = pytest.mark.faces

# The documented outcome of every file in edge/ (README, "Edge cases").
EDGE_OUTCOMES: dict[str, tuple[str, str | None]] = {
    "32bit.png": ("accepted", None),
    "obama_small.jpg": ("accepted", None),
    "hopper_bw_500.png": ("accepted", None),
    "obama_partial_face.jpg": ("quality", "in_frame"),
    "obama_partial_face2.jpg": ("quality", "in_frame"),
    "two_people.jpg": ("several_faces", None),
    "obama_and_biden.jpg": ("several_faces", None),
    "kit_with_rose.jpg": ("several_faces", None),
    "longoria-cooper.jpg": ("several_faces", None),
    "obama-240p.jpg": ("quality", "face_size"),
    "hopper_gray.jpg": ("quality", "face_size"),
    **{f"hopper_orientation_{k}.jpg": ("quality", "face_size") for k in range(2, 9)},
    "flower.jpg": ("no_face", None),
    "flower2.jpg": ("no_face", None),
    "transparent.png": ("no_face", None),
    **{f"aligned-{n}.png": ("quality", "in_frame") for n in
       ("adams", "carell", "clapton-1", "clapton-2", "lennon-1", "lennon-2")},
}


def selfie_outcome(data: bytes) -> tuple[str, list[str], object]:
    """What a check-in does with these bytes: accepted, or the refusal code (+ the failed measures)."""
    try:
        analysis = analyze_image(decode_image(data), "selfie")
        analysis.enforce()
    except ImageRejected as exc:
        return exc.code, exc.details.get("failed", []), exc
    return "accepted", [], analysis


@pytest.fixture(scope="session")
def people_embeddings(faces: Path, manifest: list[dict[str, str]]) -> dict[str, tuple[str, np.ndarray]]:
    out = {}
    for row in manifest:
        if row["file"].startswith("people/"):
            analysis = analyze_image(decode_image((faces / row["file"]).read_bytes()), "selfie")
            out[row["file"]] = (row["person"], analysis.embedding)
    return out


def test_it_separates_same_and_different_people(people_embeddings) -> None:
    same, different = [], []
    for (fa, (pa, ea)), (fb, (pb, eb)) in itertools.combinations(people_embeddings.items(), 2):
        d = float(np.linalg.norm(ea - eb))
        (same if pa == pb else different).append((d, fa, fb))
    assert len(same) >= 20 and len(different) >= 200
    assert max(same)[0] < 0.6, max(same)
    assert min(different)[0] > 0.6, min(different)


def test_it_passes_every_normal_people_photo_through_the_quality_gate(faces, manifest) -> None:
    checked = 0
    for row in manifest:
        if row["file"].startswith("people/") and "small" not in row["note"]:
            code, failed, result = selfie_outcome((faces / row["file"]).read_bytes())
            assert code == "accepted", (row["file"], result)
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("name", sorted(EDGE_OUTCOMES))
def test_it_gives_each_edge_file_its_documented_outcome(faces: Path, name: str) -> None:
    expected_code, expected_measure = EDGE_OUTCOMES[name]
    code, failed, result = selfie_outcome((faces / "edge" / name).read_bytes())
    assert code == expected_code, result
    assert (expected_measure in failed) if expected_measure else not failed, (failed, result)
    if code == "several_faces":
        assert "faces" in str(result) and "exactly one" in str(result)
    if code == "quality":
        assert "limit" in str(result)


def test_it_knows_every_edge_file(faces: Path) -> None:
    on_disk = {p.name for p in (faces / "edge").iterdir()}
    assert on_disk == set(EDGE_OUTCOMES), on_disk ^ set(EDGE_OUTCOMES)


def test_it_finds_rotated_faces_upright_after_exif_orientation(faces: Path) -> None:
    reference = analyze_image(decode_image((faces / "people/grace_hopper/hopper.jpg").read_bytes())).embedding
    for k in range(2, 9):
        decoded = decode_image((faces / f"edge/hopper_orientation_{k}.jpg").read_bytes())
        assert decoded.orientation == k
        analysis = analyze_image(decoded)
        pts = np.array(analysis.landmarks)
        eyes_y = pts[:4, 1].mean()
        assert eyes_y < pts[4, 1], f"orientation {k}: eyes are not above the nose"
        assert abs(analysis.measures[4].value) < 15, f"orientation {k}: roll {analysis.measures[4].value}"
        d = float(np.linalg.norm(analysis.embedding - reference))
        assert d < 0.2, (k, d)


def test_it_matches_the_rgba_copy_of_a_photo(faces: Path) -> None:
    a = analyze_image(decode_image((faces / "edge/32bit.png").read_bytes())).embedding
    b = analyze_image(decode_image((faces / "people/barack_obama/obama2.jpg").read_bytes())).embedding
    assert float(np.linalg.norm(a - b)) < 0.05


def _working(faces: Path, rel: str) -> Image.Image:
    return decode_image((faces / rel).read_bytes()).image


def test_it_ignores_a_small_background_face_in_a_selfie_and_a_headshot(faces: Path) -> None:
    canvas = _working(faces, "people/john_lennon/lennon-2.jpg").copy()  # face box ~460 px
    small = _working(faces, "people/barack_obama/obama.jpg").crop((300, 100, 600, 420)).resize((200, 213))
    canvas.paste(small, (0, canvas.height - 213))
    analysis = analyze_image(canvas, "selfie")
    assert analysis.faces_found == 2
    assert analysis.note and "background" in analysis.note
    lennon = analyze_image(_working(faces, "people/john_lennon/lennon-2.jpg"), "selfie").embedding
    assert float(np.linalg.norm(analysis.embedding - lennon)) < 0.1  # the large face was used
    headshot = analyze_image(canvas, "headshot")  # the same rule (tests/test_detection.py pins the limit)
    assert headshot.note == analysis.note and headshot.warnings == [analysis.note]
    assert np.array_equal(headshot.embedding, analysis.embedding)


def test_it_refuses_two_faces_of_similar_size(faces: Path) -> None:
    with pytest.raises(ImageRejected) as err:
        analyze_image(_working(faces, "edge/two_people.jpg"), "selfie")
    assert err.value.details == {"faces": 2}


@pytest.mark.parametrize(
    "transform, measure, hint",
    [
        (lambda im: im.filter(ImageFilter.GaussianBlur(4)), "sharpness", "in focus"),
        (lambda im: ImageEnhance.Brightness(im).enhance(0.25), "exposure", "more light"),
        (lambda im: ImageEnhance.Brightness(im).enhance(2.2), "exposure", "less light"),
        (lambda im: im.rotate(35, expand=True, fillcolor=(128, 128, 128)), "roll", "level"),
        (lambda im: im.resize((im.width // 3, im.height // 3)), "face_size", "move closer"),
    ],
)
def test_it_refuses_a_poor_selfie_naming_measure_value_limit_and_hint(faces: Path, transform, measure, hint) -> None:
    image = transform(_working(faces, "people/barack_obama/obama.jpg"))
    analysis = analyze_image(image, "selfie")
    with pytest.raises(ImageRejected) as err:
        analysis.enforce()
    assert err.value.code == "quality"
    assert measure in err.value.details["failed"]
    failed = next(m for m in analysis.failures if m.name == measure)
    message = str(err.value)
    assert f"{failed.value:.2f}" in message and failed.limit in message and hint in message


def test_it_estimates_yaw_from_the_nose_offset() -> None:
    from freshness.faces.analyze import _measures

    image = Image.new("RGB", (400, 400), (120, 120, 120))
    limits = QualityLimits()
    box = (100, 100, 300, 300)
    straight = np.array([[140, 180], [180, 180], [220, 180], [260, 180], [200, 240]], float)
    turned = straight.copy()
    turned[4, 0] += 0.5 * 80  # eye centres 80 px apart: nose half an eye-distance to the side
    yaw_ok = {m.name: m for m in _measures(image, box, straight, limits)}["yaw"]
    yaw_bad = {m.name: m for m in _measures(image, box, turned, limits)}["yaw"]
    assert yaw_ok.ok and abs(yaw_ok.value) < 1e-9
    assert not yaw_bad.ok and yaw_bad.value == pytest.approx(0.5)
    assert "face the camera" in yaw_bad.hint


def test_it_computes_the_same_embedding_for_headshots_and_selfies(faces: Path) -> None:
    data = (faces / "people/rose_leslie/img1.jpg").read_bytes()
    a = analyze_image(decode_image(data), "selfie")
    b = analyze_image(decode_image(data), "headshot")
    assert np.array_equal(a.embedding, b.embedding)
    assert a.thumbnail_jpeg[:3] == b"\xff\xd8\xff"
    thumb = Image.open(__import__("io").BytesIO(a.thumbnail_jpeg))
    assert max(thumb.size) <= 256 and len(thumb.getexif()) == 0


def test_it_analyses_a_rotated_heic_selfie_upright(faces: Path) -> None:
    import io

    import pillow_heif

    pillow_heif.register_heif_opener()
    photo = Image.open(faces / "people/barack_obama/obama2.jpg").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, like a phone does
    out = io.BytesIO()
    photo.transpose(Image.Transpose.ROTATE_90).save(out, format="HEIF", exif=exif.tobytes(), quality=90)
    decoded = decode_image(out.getvalue())
    assert decoded.format == "HEIF" and decoded.image.height > decoded.image.width
    analysis = analyze_image(decoded, "selfie")
    analysis.enforce()
    reference = analyze_image(decode_image((faces / "people/barack_obama/obama2.jpg").read_bytes())).embedding
    assert float(np.linalg.norm(analysis.embedding - reference)) < 0.05
