"""Identity guard: does a new selfie show the same person as their own earlier selfies?

PURE: numpy and the standard library only, no I/O, no clock (numpy is imported
when a comparison runs: ``freshness.config`` reads the defaults below, and the
CLI's quick commands should not pay for numpy). The service
(``checkins.add_checkin``) fetches the candidates, this module chooses the
references and decides; ``benchmarks/identity_guard.py`` replays the test photos
through the very same functions.

* The references are the person's accepted selfies nearest in ``taken_at`` to
  the new one (up to ``REFERENCES``): for a selfie taken now, the most recent
  ones; for a back-dated selfie, the ones from around that time (a face ages,
  so a 2023 selfie is compared with how the person looked in 2023). Selfies
  accepted on the caller's confirmation count as references too: a real change
  (a beard, new glasses) has to become the new normal, and because the decision
  is the median over up to 5 references, one mistaken confirmation does not
  decide the next check-in on its own.
* The decision is the MEDIAN distance to the references: inside the radius
  (``<=``, as dlib's ``compare_faces``) accepts; outside refuses unless the
  caller confirms it is them.
* With fewer than ``min_references`` earlier selfies there is nothing to compare
  with: the selfie is accepted and the result says that identity was not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: How many of the person's selfies a new one is compared with (the median decides).
REFERENCES = 5
#: Defaults of the settings FRESHNESS_IDENTITY_RADIUS / FRESHNESS_IDENTITY_MIN_REFERENCES.
DEFAULT_RADIUS = 0.6
DEFAULT_MIN_REFERENCES = 1


@dataclass(frozen=True)
class Reference:
    """An accepted selfie that may serve as a reference."""

    checkin_id: int
    taken_at: datetime
    embedding: np.ndarray


@dataclass(frozen=True)
class IdentityCheck:
    """What the guard found for one selfie."""

    radius: float
    min_references: int
    earlier: int  # how many accepted selfies the person had (at most what was looked at)
    distance: float | None = None  # median distance to the references; None = not checked
    compared_with: tuple[int, ...] = ()  # check-in ids of the references
    back_dated: bool = False  # some reference was taken after this selfie
    confirmed: bool = False  # outside the radius, accepted because the caller confirmed

    @property
    def checked(self) -> bool:
        return self.distance is not None

    @property
    def outside(self) -> bool:
        """Outside the identity radius: refused unless confirmed."""
        return self.distance is not None and self.distance > self.radius

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "distance": self.distance,
            "compared_with": list(self.compared_with),
            "radius": self.radius,
            "confirmed": self.confirmed,
        }


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))


def nearest(candidates: Iterable[Reference], taken_at: datetime, k: int = REFERENCES) -> list[Reference]:
    """The ``k`` candidates nearest in time to ``taken_at`` (ties: the later check-in first)."""
    return sorted(candidates, key=lambda r: (abs((r.taken_at - taken_at).total_seconds()), -r.checkin_id))[:k]


def check(
    embedding: np.ndarray,
    references: Sequence[Reference],
    *,
    taken_at: datetime,
    radius: float = DEFAULT_RADIUS,
    min_references: int = DEFAULT_MIN_REFERENCES,
    earlier: int | None = None,
) -> IdentityCheck:
    """Compare a selfie with its references (already chosen with :func:`nearest`)."""
    earlier = len(references) if earlier is None else earlier
    if len(references) < min_references or not references:
        return IdentityCheck(radius=radius, min_references=min_references, earlier=earlier)
    import numpy as np

    distances = [_distance(embedding, r.embedding) for r in references]
    return IdentityCheck(
        radius=radius,
        min_references=min_references,
        earlier=earlier,
        distance=round(float(np.median(distances)), 6),
        compared_with=tuple(r.checkin_id for r in references),
        back_dated=any(r.taken_at > taken_at for r in references),
    )
