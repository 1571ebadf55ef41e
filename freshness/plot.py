"""Draw a person's likeness history (matplotlib, no display needed).

One panel per headshot answers "does it still look like me?" at a glance:

* the title carries the verdict (the same words as ``freshness status``);
* shaded horizontal bands (strong / good / weak / diverged, the person's own
  cut-offs), named on the right and explained in a legend at the top;
* the divergence limit that applies (only that one), labelled with its reason,
  and the starting likeness (baseline) once there is one;
* vertical markers at the publication date and at the refresh-due and
  refresh-overdue dates (the x-range reaches a date a few months ahead);
* the trend line and its projection when a trend exists;
* reminder markers in a strip above the plot area, at the date each reminder's
  condition began (``since``) or was resolved, grouped when they coincide and
  staggered so that they overlap neither the data nor each other;
* a y-range fitted to the data and the limit, so small changes show.

Dates are shown in the person's time zone. matplotlib is imported only inside
``draw``; everything else here is pure and cheap to import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from freshness import words
from freshness.errors import UsageError

PLOT_FORMATS = (".png", ".svg")

#: A refresh date at most this far after as-of is brought into the x-range.
AHEAD_DAYS = 120

# Sentences only the plot shows (everything else comes from ``freshness.words``).
NO_HEADSHOT = "No headshot to compare with yet"
NO_HEADSHOT_STEPS = (
    ("Register the headshot you published:",
     "freshness headshot add PERSON IMAGE --platform linkedin --published YYYY-MM-DD"),
    ("Then check in with a selfie now and then:", "freshness checkin PERSON SELFIE"),
)
RETIRED_NOTE = "Retired on {day}: it raises no reminders any more; its history is kept."

BAND_COLORS = {"strong": "#d7ecd9", "good": "#eaf3d2", "weak": "#fbecc8", "diverged": "#f6d2cc"}
BAND_TEXT = {"strong": "#2e7d32", "good": "#6a8a12", "weak": "#a66a00", "diverged": "#b3261e"}
C_DAY, C_SELFIE, C_LIMIT, C_BASE, C_TREND = "#1f4e79", "#9aa7b8", "#b3261e", "#555f6b", "#7b3fa0"
C_PUBLISHED, C_DUE, C_OVERDUE, C_RETIRED, C_ASOF = "#0f766e", "#c77700", "#b3261e", "#6b7280", "#374151"
C_OPENED, C_RESOLVED = "#b3261e", "#2e7d32"


@dataclass
class Series:
    """What one panel shows: one headshot's history as of a time (built by ``reports.plot_series``)."""

    headshot_id: int
    platform: str
    published_on: date
    timezone: str
    headline: str  # words.STATE_HEADLINES[state]
    verdict: str  # reports.verdict_of(...): the sentence status shows
    band: str | None  # band of the current level
    bands: tuple[float, float, float]  # strong / good / weak cut-offs (policy.bands)
    taken: list[datetime]  # every selfie
    distances: list[float]
    day_taken: list[datetime]  # one point per check-in day (median)
    day_distances: list[float]
    baseline: float | None
    threshold: float  # the effective divergence threshold
    abs_threshold: float
    baseline_margin: float
    retired_at: datetime | None = None  # only when retired at or before as-of
    refresh_due_on: date | None = None  # None for a retired headshot
    refresh_overdue_on: date | None = None
    trend_slope_per_year: float | None = None
    trend_at_as_of: float | None = None
    trend_start: datetime | None = None
    projected: datetime | None = None
    opened: list[tuple[datetime, str]] = field(default_factory=list)  # (since, kind)
    resolved: list[tuple[datetime, str]] = field(default_factory=list)  # (resolved_at, kind)

    @property
    def title(self) -> str:
        """"LinkedIn headshot #3, published 2025-03-01 — still looks like you (good)"."""
        name = words.headshot_name(self.platform)
        name = name[0].upper() + name[1:]
        head = f"{name} #{self.headshot_id}, published {self.published_on.isoformat()}"
        verdict = self.headline + (f" ({self.band})" if self.band else "")
        if self.retired_at is not None:
            day = words.local_date(self.retired_at, self.timezone)
            return f"{head}, retired {day} — when retired: {verdict}"
        return f"{head} — {verdict}"

    @property
    def subtitle(self) -> str:
        if self.retired_at is not None:
            return RETIRED_NOTE.format(day=words.local_date(self.retired_at, self.timezone))
        return self.verdict


def check_plot_path(path: Path) -> None:
    if path.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(f"--plot {path}: the file name must end in .png or .svg")
    if not path.parent.exists():
        raise UsageError(f"--plot {path}: the directory {path.parent} does not exist")


# --------------------------------------------------------------------------- pure helpers


def y_range(
    values: Sequence[float],
    threshold: float,
    baseline: float | None = None,
    *,
    margin: float = 0.03,
    min_span: float = 0.2,
    step: float = 0.05,
) -> tuple[float, float]:
    """The y-range of a panel: the data, the limit and the baseline with a margin,
    at least ``min_span`` tall (so noise is not blown up), rounded out to ``step``
    and never below 0. Small changes get a tight range; an outlier widens it."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    vals.append(float(threshold))
    if baseline is not None:
        vals.append(float(baseline))
    lo, hi = min(vals) - margin, max(vals) + margin
    if hi - lo < min_span:
        mid = (lo + hi) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    if lo < 0:
        lo, hi = 0.0, hi - lo
    lo = math.floor(lo / step + 1e-9) * step
    hi = math.ceil(hi / step - 1e-9) * step
    return round(max(lo, 0.0), 6), round(hi, 6)


def threshold_label(threshold: float, baseline: float | None, abs_threshold: float, margin: float) -> str:
    """The limit that applies and why: the identity limit, or the starting likeness + margin."""
    if baseline is not None and threshold < abs_threshold - 1e-9:
        return (f"divergence limit {words.fmt_distance(threshold)} (your starting likeness "
                f"{words.fmt_distance(baseline)} + {words.fmt_distance(margin)})")
    return f"divergence limit {words.fmt_distance(abs_threshold)} (identity limit)"


def band_spans(bands: tuple[float, float, float], top: float = 2.0) -> list[tuple[str, float, float]]:
    strong, good, weak = bands
    return [("strong", 0.0, strong), ("good", strong, good), ("weak", good, weak), ("diverged", weak, top)]


def band_legend(bands: tuple[float, float, float]) -> list[tuple[str, str]]:
    """(band, "strong, below 0.40: as alike as two real photos of you") for the legend."""
    strong, good, weak = (words.fmt_distance(b) for b in bands)
    ranges = {"strong": f"below {strong}", "good": f"{strong} to {good}", "weak": f"{good} to {weak}",
              "diverged": f"{weak} and above"}
    return [(b, f"{b}, {ranges[b]}: {words.BAND_MEANINGS[b]}") for b in ranges]


@dataclass
class StripItem:
    """A dated label in the strip above a panel: a marker, its label, a leader down to the plot."""

    x: float  # pixels from the left edge of the plot area
    width: float  # label width in pixels
    when: datetime | None  # where the marker goes (data x)
    text: str
    color: str
    marker: str | None
    gid: str
    row: int = 0
    right: bool = False  # label to the left of the marker

    PAD = 9.0  # between the marker and its label, in pixels (at DPI)

    def span(self) -> tuple[float, float]:
        """The pixels the marker and its label take on their row."""
        if self.right:
            return self.x - self.PAD - self.width, self.x + 5
        return self.x - 5, self.x + self.PAD + self.width

    def text_span(self) -> tuple[float, float]:
        a, b = self.span()
        return (a, b - 5 - self.PAD) if self.right else (a + 5 + self.PAD, b)


def stagger(items: list[StripItem], limit: float, gap: float = 10.0) -> int:
    """Give each item a row so that no two labels overlap and no label covers
    another item's leader line (drawn from its row down to the plot); returns the
    number of rows.

    Labels go right of their marker, and may run past the plot area up to
    ``limit`` pixels from its left edge (the strip has the figure's right margin
    to itself). Items are placed from right to left, so a label only has to rise
    above the markers it passes over, which is always possible. Only a label too
    long to fit before ``limit`` goes left of its marker; it is placed high enough
    for the markers under it, and in the rare case where two such labels cover
    each other's markers a leader may cross a label (labels never overlap)."""
    placed: list[StripItem] = []
    order = sorted(items, key=lambda i: (-i.x, i.text))
    for n, it in enumerate(order):
        it.right = it.x + StripItem.PAD + it.width > limit
        a, b = it.span()

        def clash(row: int, a: float = a, b: float = b) -> bool:
            return any(p.row == row and a < p.span()[1] + gap and p.span()[0] < b + gap for p in placed)

        low = 0
        high: int | None = None
        for p in placed:
            if a - 2 <= p.x <= b + 2 and p.x != it.x:
                low = max(low, p.row + 1)  # our label would cover p's leader
            ta, tb = p.text_span()
            if ta - 2 <= it.x <= tb + 2:
                high = p.row - 1 if high is None else min(high, p.row - 1)  # our leader would cross p's label
        if it.right:  # leave room below for the markers still to come under this label
            ta, tb = it.text_span()
            low += sum(1 for q in order[n + 1:] if ta - 2 <= q.x <= tb + 2)
        rows = range(low, low + len(items) + 2)
        row = next((r for r in rows if not clash(r) and (high is None or r <= high)), None)
        it.row = row if row is not None else next(r for r in rows if not clash(r))
        placed.append(it)
    return max((i.row for i in items), default=-1) + 1


def group_events(events: Sequence[tuple[datetime, str]], tz: str) -> list[tuple[datetime, list[str]]]:
    """Events on the same local day grouped: (earliest time, kinds in order of first appearance)."""
    groups: dict[str, tuple[datetime, list[str]]] = {}
    for when, kind in sorted(events, key=lambda e: (e[0], e[1])):
        day = words.local_date(when, tz)
        kinds = groups.setdefault(day, (when, []))[1]
        if kind not in kinds:
            kinds.append(kind)
    return list(groups.values())


def _title_of(kind: str) -> str:
    try:
        return words.reminder_title(kind)
    except ValueError:
        return kind


def _day_start(d: date, tz: str) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=ZoneInfo(tz))


def x_range(series: Sequence[Series], as_of: datetime, horizon_days: int) -> tuple[datetime, datetime]:
    """Shared x-range: from the first publication or selfie to as-of, extended to a
    refresh date or a projected crossing that is only a little ahead."""
    starts = [as_of]
    ends = [as_of]
    for s in series:
        starts.append(_day_start(s.published_on, s.timezone))
        starts += s.taken[:1]
        if s.retired_at is None:
            for d in (s.refresh_due_on, s.refresh_overdue_on):
                if d is not None:
                    t = _day_start(d, s.timezone)
                    if t <= as_of + timedelta(days=AHEAD_DAYS):
                        ends.append(t)
            if s.projected is not None and s.projected <= as_of + timedelta(days=horizon_days):
                ends.append(s.projected)
    lo, hi = min(starts), max(ends)
    pad = max((hi - lo) * 0.03, timedelta(days=7))
    return lo - pad, hi + pad


# --------------------------------------------------------------------------- drawing


def draw(path: Path, title: str, series: list[Series], as_of: datetime, horizon_days: int) -> None:
    """Write the history plot of ``series`` as of ``as_of`` to ``path`` (.png or .svg), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rc = {"svg.fonttype": "none", "svg.hashsalt": "freshness", "font.size": 9, "axes.titlesize": 10.5}
    with matplotlib.rc_context(rc):
        fig = _figure(plt, mdates, Patch, title, series, as_of, horizon_days)
        fmt = path.suffix.lower().lstrip(".")
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata={"Date": None} if fmt == "svg" else None)
            tmp.replace(path)
        finally:
            plt.close(fig)
            tmp.unlink(missing_ok=True)


# Layout, in inches (pixels at DPI).
DPI = 110
FIG_W = 13.0
LEFT, PLOT_W = 0.75, 8.55
TOP_H, LEGEND_H = 0.45, 0.75
TITLE_H, ROW_H, STRIP_PAD, STRIP_TOP, MAIN_H, BOTTOM_H = 0.55, 0.2, 0.08, 0.08, 2.7, 0.55
MSG_H = 1.6
LABEL_SIZE = 7.5


def _figure(plt, mdates, Patch, title: str, series: list[Series], as_of: datetime,  # noqa: ANN001, ANN202
            horizon_days: int):
    if not series:
        return _no_headshot(plt, title)
    tz = series[0].timezone
    zone = ZoneInfo(tz)
    xlo, xhi = x_range(series, as_of, horizon_days)
    fig = plt.figure(figsize=(FIG_W, 4), dpi=DPI)
    renderer = fig.canvas.get_renderer()
    plot_px = PLOT_W * DPI
    x0, x1 = mdates.date2num(xlo), mdates.date2num(xhi)

    def px(t: datetime) -> float:
        return (mdates.date2num(t) - x0) / (x1 - x0) * plot_px

    def text_px(text: str) -> float:
        t = fig.text(0, 0, text, fontsize=LABEL_SIZE)
        width = t.get_window_extent(renderer).width
        t.remove()
        return width

    # the strips first: their row counts decide the panel heights
    panels = []
    for s in series:
        items = _strip_items(s, as_of, xhi, px, text_px)
        rows = max(stagger(items, (FIG_W - LEFT - 0.15) * DPI), 1)
        panels.append((s, items, rows))
    fig_h = TOP_H + LEGEND_H + sum(TITLE_H + r * ROW_H + STRIP_PAD + STRIP_TOP + MAIN_H + BOTTOM_H
                                   for _, _, r in panels)
    fig.set_size_inches(FIG_W, fig_h)

    def rect(bottom_from_top: float, height: float) -> list[float]:
        return [LEFT / FIG_W, 1 - bottom_from_top / fig_h, PLOT_W / FIG_W, height / fig_h]

    fig.suptitle(title, x=LEFT / FIG_W, ha="left", y=1 - 0.1 / fig_h, va="top", fontsize=13, fontweight="bold")
    handles = [Patch(facecolor=BAND_COLORS[b], edgecolor="#c9ccd1", label=text)
               for b, text in band_legend(series[0].bands)]
    legend = fig.legend(handles=handles, loc="upper left", ncols=2, fontsize=8.5, frameon=False,
                        bbox_to_anchor=(LEFT / FIG_W - 0.006, 1 - TOP_H / fig_h), handlelength=1.6,
                        columnspacing=2.5, title="distance between headshot and selfie (lower = more alike):",
                        title_fontsize=8.5, alignment="left")
    legend.set_gid("band-legend")

    top = TOP_H + LEGEND_H
    locator = mdates.AutoDateLocator(tz=zone, minticks=4, maxticks=10)
    for s, items, rows in panels:
        strip_h = rows * ROW_H + STRIP_PAD + STRIP_TOP
        strip_bottom = top + TITLE_H + strip_h
        ax = fig.add_axes(rect(strip_bottom + MAIN_H, MAIN_H))
        ax.set_gid(f"h{s.headshot_id}-panel")
        strip = fig.add_axes(rect(strip_bottom, strip_h), sharex=ax)
        strip.set_gid(f"h{s.headshot_id}-strip")
        _draw_panel(ax, s, as_of, xlo, xhi)
        _draw_strip(strip, items, mdates)
        strip.set_title(s.title, loc="left", fontsize=10.5, fontweight="bold", pad=15, gid=f"h{s.headshot_id}-title")
        strip.text(0, 1, s.subtitle, transform=strip.transAxes, fontsize=8.5, color="#374151", va="bottom",
                   ha="left", gid=f"h{s.headshot_id}-verdict")
        ax.set_xlim(xlo, xhi)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
        ax.set_xlabel(f"date ({tz})", fontsize=8, color="#4b5563")
        top += TITLE_H + strip_h + MAIN_H + BOTTOM_H
    return fig


def _no_headshot(plt, title: str):  # noqa: ANN001, ANN202
    h = TOP_H + MSG_H + 0.3
    fig = plt.figure(figsize=(FIG_W, h), dpi=DPI)
    fig.suptitle(title, x=LEFT / FIG_W, ha="left", y=1 - 0.1 / h, va="top", fontsize=13, fontweight="bold")
    box = fig.add_axes([LEFT / FIG_W, 0.3 / h, PLOT_W / FIG_W, MSG_H / h])
    box.set_xticks([])
    box.set_yticks([])
    box.set_facecolor("#f3f4f6")
    for spine in box.spines.values():
        spine.set_color("#9ca3af")
    box.text(0.04, 0.8, NO_HEADSHOT, fontsize=13, fontweight="bold", va="center", gid="message")
    y = 0.58
    for say, command in NO_HEADSHOT_STEPS:
        box.text(0.04, y, say, fontsize=10, va="center")
        box.text(0.06, y - 0.13, command, fontsize=10, va="center", family="monospace", color="#1f2937")
        y -= 0.32
    return fig


def _strip_items(s: Series, as_of: datetime, xhi: datetime, px, text_px) -> list[StripItem]:  # noqa: ANN001
    """The dated labels above a panel: publication, retirement or refresh dates, as-of,
    and the reminders (opened at ``since``, resolved at ``resolved_at``)."""
    tz = s.timezone
    items: list[StripItem] = []

    def add(t: datetime, text: str, color: str, marker: str | None, gid: str) -> None:
        at = min(t, xhi)
        items.append(StripItem(x=px(at), width=text_px(text), when=at, text=text, color=color, marker=marker,
                               gid=f"h{s.headshot_id}-{gid}"))

    opened = group_events([e for e in s.opened if e[0] <= as_of], tz)
    resolved = group_events([e for e in s.resolved if e[0] <= as_of], tz)
    opened_on = {(words.local_date(t, tz), k) for t, kinds in opened for k in kinds}

    dates = [("published", _day_start(s.published_on, tz), f"published {s.published_on.isoformat()}", C_PUBLISHED)]
    if s.retired_at is not None:
        dates.append(("retired", s.retired_at, f"retired {words.local_date(s.retired_at, tz)}", C_RETIRED))
    else:
        for kind, d, word, color in (("refresh_due", s.refresh_due_on, "refresh due", C_DUE),
                                     ("refresh_overdue", s.refresh_overdue_on, "refresh overdue", C_OVERDUE)):
            if d is None or (d.isoformat(), kind) in opened_on:
                continue  # the reminder opened that day labels the line
            t = _day_start(d, tz)
            dates.append((kind.replace("_", "-"), t, f"{word} {d.isoformat()}" + (" →" if t > xhi else ""), color))
        dates.append(("as-of", as_of, f"as of {words.local_date(as_of, tz)}", C_ASOF))
    for kind, t, text, color in dates:
        add(t, text, color, None, f"date-{kind}-{words.local_date(t, tz)}")
    for verb, groups, color, marker in (("opened", opened, C_OPENED, "v"), ("resolved", resolved, C_RESOLVED, "o")):
        for t, kinds in groups:
            day = words.local_date(t, tz)
            text = f"{verb} {day}: " + "; ".join(_title_of(k) for k in kinds)
            add(t, text, color, marker, f"reminder-{verb}-{day}-{'+'.join(kinds)}")
    return items


def _draw_strip(strip, items: list[StripItem], mdates) -> None:  # noqa: ANN001
    """Markers and labels at their rows, each with a leader line down to the plot area."""
    strip.set_axis_off()
    rows = max((it.row for it in items), default=0) + 1
    total = rows * ROW_H + STRIP_PAD + STRIP_TOP
    trans = strip.get_xaxis_transform()  # x in data, y in axes
    for it in items:
        x = mdates.date2num(it.when)
        y = (STRIP_PAD + (it.row + 0.5) * ROW_H) / total
        strip.plot([x, x], [0, y], transform=trans, color=it.color, linewidth=0.8, alpha=0.7,
                   linestyle="-" if it.marker else ":", solid_capstyle="butt", clip_on=False, gid=f"{it.gid}-leader")
        if it.marker:
            strip.plot([x], [y], transform=trans, marker=it.marker, color=it.color, markersize=5.5,
                       linestyle="none", clip_on=False, gid=f"{it.gid}-marker")
        pad = StripItem.PAD * 72 / DPI
        strip.annotate(it.text, (x, y), xycoords=trans, xytext=(-pad if it.right else pad, 0),
                       textcoords="offset points", ha="right" if it.right else "left", va="center",
                       fontsize=LABEL_SIZE, color=it.color,
                       annotation_clip=False, gid=f"{it.gid}-label")


def _draw_panel(ax, s: Series, as_of: datetime, xlo: datetime, xhi: datetime) -> None:  # noqa: ANN001
    tz, h = s.timezone, f"h{s.headshot_id}"
    trend = None
    trend_values: list[float] = []
    if s.trend_slope_per_year is not None and s.trend_at_as_of is not None and s.trend_start is not None:
        slope, now = s.trend_slope_per_year, s.trend_at_as_of

        def at(t: datetime) -> float:
            return now + slope * (t - as_of).total_seconds() / (365.25 * 86400)

        end = max(s.projected, as_of) if s.projected is not None and s.projected <= xhi else xhi
        trend = (at, end)
        trend_values = [at(s.trend_start), at(as_of), at(end)]

    values = list(s.distances) + list(s.day_distances) + trend_values
    lo, hi = y_range(values or list(s.bands), s.threshold, s.baseline)  # nothing measured: every band
    ax.set_ylim(lo, hi)

    # the bands, named on the right
    for name, a, b in band_spans(s.bands, top=max(hi, s.bands[2]) + 1):
        ax.axhspan(a, b, facecolor=BAND_COLORS[name], edgecolor="none", zorder=0, gid=f"{h}-band-{name}")
        va, vb = max(a, lo), min(b, hi)
        if vb - va >= 0.06 * (hi - lo):
            ax.text(1.008, ((va + vb) / 2 - lo) / (hi - lo), name, transform=ax.transAxes, fontsize=8.5,
                    color=BAND_TEXT[name], va="center", ha="left", fontweight="bold", gid=f"{h}-band-label-{name}")

    # dated vertical lines (labelled in the strip above)
    lines = [(_day_start(s.published_on, tz), C_PUBLISHED, "-", "published")]
    if s.retired_at is not None:
        lines.append((s.retired_at, C_RETIRED, "-.", "retired"))
    else:
        if s.refresh_due_on is not None:
            lines.append((_day_start(s.refresh_due_on, tz), C_DUE, "--", "refresh-due"))
        if s.refresh_overdue_on is not None:
            lines.append((_day_start(s.refresh_overdue_on, tz), C_OVERDUE, "--", "refresh-overdue"))
        lines.append((as_of, C_ASOF, (0, (1, 2)), "as-of"))
    for t, color, style, name in lines:
        if xlo <= t <= xhi:
            ax.axvline(t, color=color, linestyle=style, linewidth=1.3 if name != "as-of" else 1, alpha=0.85,
                       zorder=1, gid=f"{h}-vline-{name}")

    # the one limit that applies, and the starting likeness
    limit = threshold_label(s.threshold, s.baseline, s.abs_threshold, s.baseline_margin)
    ax.axhline(s.threshold, color=C_LIMIT, linestyle="--", linewidth=1.4, zorder=2, gid=f"{h}-threshold",
               label=limit.replace(" (", "\n(", 1))
    if s.baseline is not None:
        ax.axhline(s.baseline, color=C_BASE, linestyle="-.", linewidth=1, zorder=2, gid=f"{h}-baseline",
                   label=f"your starting likeness {words.fmt_distance(s.baseline)} (baseline)")

    # the data
    if s.taken:
        ax.plot(s.taken, s.distances, "o", color=C_SELFIE, markersize=3.5, zorder=3, label="selfie",
                gid=f"{h}-selfies")
    if s.day_taken:
        ax.plot(s.day_taken, s.day_distances, "-o", color=C_DAY, markersize=5, linewidth=1.4, zorder=4,
                label="check-in (median of the day)", gid=f"{h}-checkins")
    else:
        ax.text(0.5, 0.5, s.verdict if s.retired_at is None else s.subtitle, transform=ax.transAxes, ha="center",
                va="center", fontsize=10, gid=f"{h}-message",
                bbox={"boxstyle": "round,pad=0.6", "fc": "white", "ec": "#9ca3af", "alpha": 0.95})

    if trend is not None:
        at, end = trend
        ax.plot([s.trend_start, as_of], [at(s.trend_start), at(as_of)], color=C_TREND, linewidth=1.8, zorder=3,
                label=f"trend {s.trend_slope_per_year:+.2f} per year", gid=f"{h}-trend")
        if end > as_of:
            what = "projection"
            if s.projected is not None:
                what += f": reaches {words.fmt_distance(s.threshold)}\naround {words.local_date(s.projected, tz)}"
            ax.plot([as_of, end], [at(as_of), at(end)], color=C_TREND, linestyle="--", linewidth=1.4, zorder=3,
                    label=what, gid=f"{h}-projection")
            if s.projected is not None and s.projected <= xhi:
                ax.plot([s.projected], [s.threshold], marker="X", color=C_TREND, markersize=8, zorder=5,
                        linestyle="none", gid=f"{h}-crossing")

    ax.set_ylabel("distance\n(lower = more alike)", fontsize=8.5)
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.1, 1.0), borderaxespad=0, frameon=False)
