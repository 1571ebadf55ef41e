"""The face pipeline: the only package that imports PIL, pillow-heif, dlib or face_recognition.

``decode`` turns untrusted bytes into an upright RGB working image; ``analyze``
finds exactly one usable face and computes quality measures and the 128-d
embedding. Headshots and selfies go through the identical normalisation.
"""

from freshness.faces.analyze import FaceAnalysis, Measure, analyze_image, embedding_from_bytes, embedding_to_bytes
from freshness.faces.decode import ACCEPTED_FORMATS, DecodedImage, decode_image

__all__ = [
    "ACCEPTED_FORMATS",
    "DecodedImage",
    "FaceAnalysis",
    "Measure",
    "analyze_image",
    "decode_image",
    "embedding_from_bytes",
    "embedding_to_bytes",
]
