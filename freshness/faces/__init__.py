"""The face pipeline: the only package that imports PIL, pillow-heif, dlib or face_recognition.

``decode`` turns untrusted bytes into an upright RGB working image; ``analyze``
finds exactly one usable face and computes quality measures and the 128-d
embedding. Headshots and selfies go through the identical normalisation.

Importing this package (or ``faces.limits``) is cheap: every name loads its module
on first use (PEP 562), so commands that only read stored embeddings
(``faces.embedding``, numpy only) never load PIL or dlib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from freshness.faces.embedding import EMBEDDING_DIM, embedding_from_bytes, embedding_to_bytes
    from freshness.faces.analyze import FaceAnalysis, Measure, analyze_image
    from freshness.faces.decode import ACCEPTED_FORMATS, DecodedImage, decode_image

_LAZY = {
    "EMBEDDING_DIM": "freshness.faces.embedding",
    "embedding_from_bytes": "freshness.faces.embedding",
    "embedding_to_bytes": "freshness.faces.embedding",
    "FaceAnalysis": "freshness.faces.analyze",
    "Measure": "freshness.faces.analyze",
    "analyze_image": "freshness.faces.analyze",
    "ACCEPTED_FORMATS": "freshness.faces.decode",
    "DecodedImage": "freshness.faces.decode",
    "decode_image": "freshness.faces.decode",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'freshness.faces' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ACCEPTED_FORMATS",
    "DecodedImage",
    "EMBEDDING_DIM",
    "FaceAnalysis",
    "Measure",
    "analyze_image",
    "decode_image",
    "embedding_from_bytes",
    "embedding_to_bytes",
]
