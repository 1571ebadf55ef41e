"""What a service call needs besides its database session: settings, blob store, limits."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from freshness.blobs import BlobStore
from freshness.config import Settings, get_settings
from freshness.faces.limits import LIMIT_NAMES, QualityLimits

if TYPE_CHECKING:
    from freshness.faces.decode import DecodeLimits


@dataclass
class Context:
    settings: Settings

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.blob_dir)

    @cached_property
    def decode_limits(self) -> DecodeLimits:
        from freshness.faces.decode import DecodeLimits

        s = self.settings
        return DecodeLimits(max_bytes=s.max_upload_bytes, max_pixels=s.max_pixels, work_max_side=s.work_max_side)

    @cached_property
    def quality_limits(self) -> QualityLimits:
        return QualityLimits(**{name: getattr(self.settings, name) for name in LIMIT_NAMES})


def get_context(settings: Settings | None = None) -> Context:
    return Context(settings or get_settings())
