"""The quality gate's limits (no heavy imports: settings read their defaults from here)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class QualityLimits:
    """Defaults chosen from the photos in ../shared/faces (README, "Quality gate")."""

    min_eye_distance_px: float = 36.0
    min_sharpness: float = 40.0
    min_brightness: float = 50.0
    max_brightness: float = 210.0
    max_roll_degrees: float = 25.0
    max_yaw: float = 0.35
    # A second face is tolerated (selfie or headshot) when the largest face's area
    # is at least this many times the next one's (someone in the background).
    background_face_ratio: float = 4.0
    detect_max_side: int = 640
    # When HOG finds no face, dlib's CNN detector searches a copy reduced to this
    # long side (0 turns the fallback off). README, "Finding the face": of 176
    # faces HOG finds, it finds 174 at 480 px, 169 at 400 px (0.7x the cost),
    # 175 at 640 px (1.8x the cost).
    cnn_max_side: int = 480


LIMIT_NAMES = tuple(f.name for f in fields(QualityLimits))
