"""Draw a person's drift history (matplotlib, no display needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from freshness.errors import UsageError

PLOT_FORMATS = (".png", ".svg")


@dataclass
class Series:
    label: str
    taken: list[datetime]
    distances: list[float]
    day_taken: list[datetime]  # one point per check-in day (median)
    day_distances: list[float]
    baseline: float | None
    threshold: float  # effective divergence threshold
    abs_threshold: float
    trend_slope_per_year: float | None = None
    trend_at_as_of: float | None = None
    trend_start: datetime | None = None
    projected: datetime | None = None
    opened: list[tuple[datetime, str]] = field(default_factory=list)
    resolved: list[tuple[datetime, str]] = field(default_factory=list)


def check_plot_path(path: Path) -> None:
    if path.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(f"--plot {path}: the file name must end in .png or .svg")
    if not path.parent.exists():
        raise UsageError(f"--plot {path}: the directory {path.parent} does not exist")


def draw(path: Path, title: str, series: list[Series], as_of: datetime, horizon_days: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    rows = max(1, len(series))
    fig, axes = plt.subplots(rows, 1, figsize=(12, 3.8 * rows), squeeze=False, sharex=False)
    for ax, s in zip(axes[:, 0], series):
        ax.plot(s.taken, s.distances, "o", color="#9aa7b8", markersize=4, label="selfie")
        ax.plot(s.day_taken, s.day_distances, "-o", color="#1f4e79", markersize=5, label="check-in (day median)")
        ax.axhline(s.abs_threshold, color="#c0392b", linestyle="--", linewidth=1.2,
                   label=f"divergence threshold {s.abs_threshold:.2f}")
        if s.baseline is not None:
            ax.axhline(s.baseline, color="#7f8c8d", linewidth=1, label=f"baseline {s.baseline:.2f}")
            if s.threshold < s.abs_threshold - 1e-9:
                ax.axhline(s.threshold, color="#e67e22", linestyle=":", linewidth=1.2,
                           label=f"baseline + margin {s.threshold:.2f}")
        if s.trend_slope_per_year is not None and s.trend_at_as_of is not None and s.trend_start is not None:
            def at(t: datetime, s: Series = s) -> float:
                return s.trend_at_as_of + s.trend_slope_per_year * (t - as_of).total_seconds() / (365.25 * 86400)

            ax.plot([s.trend_start, as_of], [at(s.trend_start), at(as_of)], color="#8e44ad", linewidth=1.5,
                    label=f"trend {s.trend_slope_per_year:+.3f}/year")
            end = s.projected if s.projected is not None else as_of + timedelta(days=horizon_days)
            end = min(end, as_of + timedelta(days=horizon_days * 2))
            ax.plot([as_of, end], [at(as_of), at(end)], color="#8e44ad", linestyle="--", linewidth=1.2,
                    label="projection" + (f" (reaches {s.threshold:.2f} on {s.projected.date()})" if s.projected else ""))
        for events, verb, color, ha in ((s.opened, "opened", "#c0392b", "right"),
                                        (s.resolved, "resolved", "#27ae60", "left")):
            grouped: dict[datetime, list[str]] = {}
            for t, kind in events:
                grouped.setdefault(t, []).append(kind)
            for t, kinds in grouped.items():
                ax.axvline(t, color=color, alpha=0.4, linewidth=1)
                ax.annotate(f"{verb}: {', '.join(sorted(set(kinds)))}", (t, 0.02), xycoords=("data", "axes fraction"),
                            rotation=90, va="bottom", ha=ha, fontsize=7, color=color)
        ax.set_title(s.label, fontsize=10)
        ax.set_ylabel("distance (lower = more alike)")
        top = max([1.0, *s.distances]) if s.distances else 1.0
        ax.set_ylim(0, top + 0.05)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        ax.grid(alpha=0.25)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if not series:
        axes[0, 0].text(0.5, 0.5, "no headshot to compare with yet", ha="center", va="center")
    fig.suptitle(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format=path.suffix.lower().lstrip("."))
    plt.close(fig)
    tmp.replace(path)
