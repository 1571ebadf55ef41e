"""Embeddings as stored: 128 little-endian float32 values (512 bytes). numpy only, so the
commands that read stored embeddings do not load the image libraries."""

from __future__ import annotations

import numpy as np

EMBEDDING_DIM = 128


def embedding_to_bytes(embedding: np.ndarray) -> bytes:
    arr = np.asarray(embedding, dtype="<f4")
    if arr.shape != (EMBEDDING_DIM,):
        raise ValueError(f"embedding must have shape ({EMBEDDING_DIM},), got {arr.shape}")
    return arr.tobytes()


def embedding_from_bytes(data: bytes) -> np.ndarray:
    arr = np.frombuffer(data, dtype="<f4")
    if arr.shape != (EMBEDDING_DIM,):
        raise ValueError(f"stored embedding has {arr.size} values, expected {EMBEDDING_DIM}")
    return arr.astype(np.float32)
