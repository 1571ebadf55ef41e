"""Embeddings as stored: 128 little-endian float32 values (512 bytes). No image
libraries here, and numpy only where an array is asked for, so the commands that
read stored embeddings start quickly."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

EMBEDDING_DIM = 128
_FORMAT = struct.Struct(f"<{EMBEDDING_DIM}f")


def embedding_values(data: bytes) -> tuple[float, ...]:
    """A stored embedding as plain floats (exactly its float32 values), without numpy."""
    if len(data) != _FORMAT.size:
        raise ValueError(f"stored embedding has {len(data) // 4} values, expected {EMBEDDING_DIM}")
    return _FORMAT.unpack(data)


def embedding_to_bytes(embedding: np.ndarray) -> bytes:
    import numpy as np

    arr = np.asarray(embedding, dtype="<f4")
    if arr.shape != (EMBEDDING_DIM,):
        raise ValueError(f"embedding must have shape ({EMBEDDING_DIM},), got {arr.shape}")
    return arr.tobytes()


def embedding_from_bytes(data: bytes) -> np.ndarray:
    import numpy as np

    arr = np.frombuffer(data, dtype="<f4")
    if arr.shape != (EMBEDDING_DIM,):
        raise ValueError(f"stored embedding has {arr.size} values, expected {EMBEDDING_DIM}")
    return arr.astype(np.float32)
