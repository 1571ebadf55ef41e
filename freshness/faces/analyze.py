"""Face detection, 5-point landmarks, quality measures and the 128-d embedding.

Detection runs on a reduced copy of the working image (HOG, no upsampling);
only when that finds nothing is the working image searched again with one
upsampling step (small faces, tiny images), and only when that too finds
nothing does dlib's CNN (MMOD) detector search a further reduced copy
(stylised portraits, masked or tilted faces: README, "Quality gate"). The CNN
box is moved onto where HOG would have put it (``CNN_BOX_SHIFT``/``SCALE``),
because the 5-point landmark model was trained on HOG boxes. Landmarks and the
embedding are computed on the working image itself, so every image — headshot
or selfie — is measured at the same normalised resolution.

Only the 5-point landmark model is used (the 68-point model's licence forbids
commercial use).
"""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from freshness.errors import ImageRejected
from freshness.faces.decode import DecodedImage
from freshness.faces.limits import QualityLimits

Purpose = Literal["selfie", "headshot"]
THUMB_MAX_SIDE = 256
CROP_SIDE = 128  # fixed-size grey face crop for sharpness and exposure

Box = tuple[int, int, int, int]  # left, top, right, bottom in working pixels

# The CNN detector's box for a face sits higher than HOG's and slightly to the
# left. Fitted on 174 faces both detectors find (the CNN on a 480 px copy): the
# box is moved right by 4% of its width, down by 8% of its height, and made 5%
# larger. The embedding from the moved box is then as close to the HOG box's as
# HOG's own box is when it searches another resolution (README, "Quality gate").
CNN_BOX_SHIFT = (0.04, 0.08)
CNN_BOX_SCALE = 1.05
# The CNN detector fails (a dlib error, not "no face") on a picture less than 16 pixels on a side.
CNN_MIN_SIDE = 16

_lock = threading.Lock()
_models: dict[str, Any] = {}
# dlib's frontal face (HOG) detector as dlib itself serialises it: reading this file takes 1 ms,
# building the detector with dlib.get_frontal_face_detector() 0.26 s, which every check-in
# command and every worker process (freshness.parallel) would pay. tests/test_parallel_checkins.py
# checks that it is the detector dlib builds.
DETECTOR_FILE = Path(__file__).with_name("frontal_face_detector.svm")


def _frontal_face_detector(dlib: Any) -> Any:
    try:
        return dlib.fhog_object_detector(str(DETECTOR_FILE))
    except Exception:  # missing or unreadable: build it (the same detector, slower)
        return dlib.get_frontal_face_detector()


def _load_models() -> dict[str, Any]:
    if "detector" not in _models:
        import warnings

        with warnings.catch_warnings():
            # face_recognition_models imports pkg_resources (hence setuptools<81).
            warnings.simplefilter("ignore")
            import dlib
            import face_recognition_models as frm

        _models["detector"] = _frontal_face_detector(dlib)
        _models["landmarks"] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        _models["encoder"] = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        _models["rectangle"] = dlib.rectangle
    return _models


def _load_cnn() -> Any:
    """dlib's CNN face detector, loaded on first use: only the fallback needs it."""
    if "cnn" not in _models:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import dlib
            import face_recognition_models as frm

        _models["cnn"] = dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())
    return _models["cnn"]


@dataclass(frozen=True)
class Measure:
    name: str
    value: float
    limit: str  # human-readable, e.g. ">= 36"
    ok: bool
    unit: str = ""
    hint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(float(self.value), 3),
            "limit": self.limit,
            "ok": self.ok,
            "unit": self.unit,
            **({"hint": self.hint} if not self.ok and self.hint else {}),
        }

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name} {self.value:.2f}{unit} (limit {self.limit}{unit})"


@dataclass(frozen=True)
class FaceAnalysis:
    embedding: np.ndarray  # float32, shape (128,)
    box: Box
    landmarks: tuple[tuple[float, float], ...]  # 5 points, working pixels
    measures: tuple[Measure, ...]
    faces_found: int
    work_size: tuple[int, int]
    thumbnail_jpeg: bytes = field(repr=False)
    note: str | None = None
    detector: Literal["hog", "cnn"] = "hog"  # "cnn": found only by the fallback

    @property
    def passed(self) -> bool:
        return all(m.ok for m in self.measures)

    @property
    def failures(self) -> list[Measure]:
        return [m for m in self.measures if not m.ok]

    @property
    def warnings(self) -> list[str]:
        """What a headshot is accepted with: each failed measure, then the note (a face ignored)."""
        return [f"{m.describe()}: {m.hint}" for m in self.failures] + ([self.note] if self.note else [])

    def quality_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "faces_found": self.faces_found,
            "detector": self.detector,
            "work_size": list(self.work_size),
            "measures": [m.as_dict() for m in self.measures],
            **({"note": self.note} if self.note else {}),
        }

    def enforce(self) -> None:
        """Refuse (ImageRejected) when any quality measure fails its limit."""
        if self.passed:
            return
        fails = self.failures
        parts = "; ".join(f"{m.describe()}: {m.hint}" for m in fails)
        raise ImageRejected(
            f"photo quality too low: {parts}",
            code="quality",
            details={"measures": [m.as_dict() for m in self.measures], "failed": [m.name for m in fails]},
        )


def _laplacian_variance(gray: np.ndarray) -> float:
    g = gray.astype(np.float32)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def _by_area(boxes: list[Box]) -> list[Box]:
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def _detect_cnn(image: Image.Image, limits: QualityLimits) -> list[Box]:
    """The CNN detector on a copy reduced to ``cnn_max_side`` (never enlarged), its boxes
    moved to where HOG would put them."""
    cnn = _load_cnn()
    factor = min(1.0, limits.cnn_max_side / max(image.size))
    small = image
    if factor < 1.0:
        small = image.resize(
            (max(1, round(image.width * factor)), max(1, round(image.height * factor))), Image.Resampling.BILINEAR
        )
    if min(small.size) < CNN_MIN_SIDE:  # dlib's network cannot run on it (and no face fits in it)
        return []
    (dx, dy), scale = CNN_BOX_SHIFT, CNN_BOX_SCALE
    boxes = []
    for d in cnn(np.asarray(small), 0):
        r = d.rect
        w, h = (r.right() - r.left()) / factor, (r.bottom() - r.top()) / factor
        cx = (r.left() + r.right()) / 2 / factor + dx * w
        cy = (r.top() + r.bottom()) / 2 / factor + dy * h
        w, h = w * scale, h * scale
        boxes.append((round(cx - w / 2), round(cy - h / 2), round(cx + w / 2), round(cy + h / 2)))
    return _by_area(boxes)


def _detect(arr: np.ndarray, image: Image.Image, limits: QualityLimits) -> list[Box]:
    """HOG boxes, largest first (empty when HOG finds no face)."""
    m = _load_models()
    detector = m["detector"]
    factor = min(1.0, limits.detect_max_side / max(image.size))
    boxes: list[tuple[int, int, int, int]] = []
    if factor < 1.0:
        small = image.resize(
            (max(1, round(image.width * factor)), max(1, round(image.height * factor))), Image.Resampling.BILINEAR
        )
        for r in detector(np.asarray(small), 0):
            boxes.append(
                (round(r.left() / factor), round(r.top() / factor), round(r.right() / factor), round(r.bottom() / factor))
            )
    else:
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in detector(arr, 0)]
    if not boxes:
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in detector(arr, 1)]
    return _by_area(boxes)


def _thumbnail(image: Image.Image, box: tuple[int, int, int, int]) -> bytes:
    left, top, right, bottom = box
    size = max(right - left, bottom - top)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half = size * 0.85
    crop = image.crop(
        (
            max(0, round(cx - half)),
            max(0, round(cy - half * 1.1)),
            min(image.width, round(cx + half)),
            min(image.height, round(cy + half * 0.9)),
        )
    )
    crop.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=85, optimize=True)  # a fresh RGB image: no EXIF, no GPS
    return out.getvalue()


def _measures(
    image: Image.Image, box: tuple[int, int, int, int], pts: np.ndarray, limits: QualityLimits
) -> tuple[Measure, ...]:
    # 5-point model: 0-1 one eye's corners, 2-3 the other's, 4 the base of the nose.
    eye_a, eye_b, nose = pts[0:2].mean(axis=0), pts[2:4].mean(axis=0), pts[4]
    left_eye, right_eye = sorted((eye_a, eye_b), key=lambda p: p[0])  # as seen in the image
    eye_vec = right_eye - left_eye
    iod = float(np.linalg.norm(eye_vec))
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    yaw = float(np.dot(nose - (left_eye + right_eye) / 2, eye_vec / iod) / iod) if iod > 0 else 0.0

    left, top, right, bottom = box
    margin = float(min(left, top, image.width - right, image.height - bottom))
    crop = image.crop((max(0, left), max(0, top), min(image.width, right), min(image.height, bottom)))
    gray = np.asarray(crop.convert("L").resize((CROP_SIDE, CROP_SIDE), Image.Resampling.BILINEAR))
    sharpness = _laplacian_variance(gray)
    brightness = float(gray.mean())

    lim = limits
    return (
        Measure("face_size", iod, f">= {lim.min_eye_distance_px:g}", iod >= lim.min_eye_distance_px, "px",
                "move closer to the camera, or use a larger photo (the distance between the eyes is measured)"),
        Measure("in_frame", margin, "> 0", margin > 0, "px",
                "keep your whole face inside the picture, with some space around it"),
        Measure("sharpness", sharpness, f">= {lim.min_sharpness:g}", sharpness >= lim.min_sharpness, "",
                "hold the camera still, clean the lens and make sure the face is in focus"),
        Measure("exposure", brightness, f"{lim.min_brightness:g}..{lim.max_brightness:g}",
                lim.min_brightness <= brightness <= lim.max_brightness, "",
                "more light: face a window or a lamp" if brightness < lim.min_brightness
                else "less light: avoid direct sun or flash on the face"),
        Measure("roll", roll, f"|x| <= {lim.max_roll_degrees:g}", abs(roll) <= lim.max_roll_degrees, "deg",
                "hold the camera level and keep your head upright"),
        Measure("yaw", yaw, f"|x| <= {lim.max_yaw:g}", abs(yaw) <= lim.max_yaw, "",
                "face the camera straight on"),
    )


def analyze_image(
    decoded: DecodedImage | Image.Image,
    purpose: Purpose = "selfie",
    limits: QualityLimits = QualityLimits(),
) -> FaceAnalysis:
    """Find exactly one usable face and measure it.

    Raises ``ImageRejected`` for no face, or for several faces — except when the
    largest face is at least ``background_face_ratio`` times the area of the next
    one (someone in the background), which is then used and noted (a headshot
    shows the note as a warning: ``FaceAnalysis.warnings``). Quality measures are
    reported, not enforced: call ``enforce()``.
    """
    image = decoded.image if isinstance(decoded, DecodedImage) else decoded
    if image.mode != "RGB":
        image = image.convert("RGB")
    arr = np.asarray(image)
    with _lock:
        m = _load_models()
        boxes = _detect(arr, image, limits)
        detector: Literal["hog", "cnn"] = "hog"
        if not boxes and limits.cnn_max_side > 0:
            boxes, detector = _detect_cnn(image, limits), "cnn"
        if not boxes:
            raise ImageRejected(
                "no face found: use a photo in which your face is clearly visible, facing the camera",
                code="no_face",
            )
        note = None
        if len(boxes) > 1:
            areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
            ratio = areas[0] / max(areas[1], 1)
            if ratio >= limits.background_face_ratio:
                others = len(boxes) - 1
                note = (
                    f"{others} smaller face{'s' if others > 1 else ''} in the background ignored "
                    f"(the largest face is {ratio:.1f}x the area of the next)"
                )
            else:
                who = "a check-in selfie" if purpose == "selfie" else "a headshot"
                share = "a quarter" if limits.background_face_ratio == 4 else f"1/{limits.background_face_ratio:g}"
                raise ImageRejected(
                    f"found {len(boxes)} faces; {who} must show exactly one face"
                    f" (a background face is ignored only when it is at most {share} of the main face's area)",
                    code="several_faces",
                    details={"faces": len(boxes)},
                )
        box = boxes[0]
        shape = m["landmarks"](arr, m["rectangle"](*box))
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        embedding = np.asarray(m["encoder"].compute_face_descriptor(arr, shape, 1), dtype=np.float32)
    return FaceAnalysis(
        embedding=embedding,
        box=box,
        landmarks=tuple((float(x), float(y)) for x, y in pts),
        measures=_measures(image, box, pts, limits),
        faces_found=len(boxes),
        work_size=image.size,
        thumbnail_jpeg=_thumbnail(image, box),
        note=note,
        detector=detector,
    )


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))
