"""The history plot (issue 12, item 6): drawn through the CLI on real photos, checked on its SVG text.

With ``svg.fonttype = 'none'`` matplotlib keeps every label as a ``<text>`` element, and each
artist the plot names (``gid``) becomes a ``<g id="...">``: the tests read titles, legends and
labels as text and marker positions as SVG coordinates.
"""

from __future__ import annotations

import io
import random
import re
import sqlite3
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from freshness import words
from freshness.plot import StripItem, stagger, y_range
from tests.clitools import run, run_json, variant

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
TZ = "Europe/Paris"
AS_OF = "2025-06-20"


# --------------------------------------------------------------------------- pure helpers


def test_it_fits_the_y_range_to_small_changes() -> None:
    lo, hi = y_range([0.44, 0.46, 0.45, 0.47], threshold=0.60, baseline=0.45)
    assert lo >= 0.35 and hi <= 0.70 and hi - lo <= 0.3  # not 0-1: a 0.03 change is visible
    assert lo < 0.44 and hi > 0.60  # the data and the limit, with a margin
    lo2, hi2 = y_range([0.44, 0.45], threshold=0.47, baseline=0.35)
    assert lo2 < 0.35 and hi2 > 0.47
    assert hi2 - lo2 >= 0.2  # a minimum span: noise is not blown up
    assert y_range([0.05, 0.1], threshold=0.60)[0] == 0.0  # never below 0
    assert y_range([0.45, 0.87], threshold=0.60)[1] >= 0.9  # an outlier stays in view


def strip_items(rng: random.Random, widest: float) -> list[StripItem]:
    return [StripItem(x=rng.uniform(0, 940), width=rng.uniform(60, widest), when=None, text=str(i), color="k",
                      marker="v", gid=str(i)) for i in range(rng.randint(1, 10))]


def test_it_staggers_strip_labels_so_they_never_overlap_or_cross_a_leader() -> None:
    rng = random.Random(7)
    for _ in range(300):
        # labels up to 380 px fit before the figure's right edge (1330 px from the plot's left edge)
        items = strip_items(rng, 380)
        rows = stagger(items, limit=1330)
        assert rows == max(i.row for i in items) + 1
        for a in items:
            assert not a.right and a.span()[1] <= 1330
            for b in items:
                if a is b:
                    continue
                if a.row == b.row:  # same row: marker + label spans apart
                    assert a.span()[1] <= b.span()[0] or b.span()[1] <= a.span()[0]
                if b.row < a.row:  # a's leader runs down through b's row: never through b's text
                    ta, tb = b.text_span()
                    assert not ta < a.x < tb, (a, b)
    # longer labels go left of their marker near the right edge; labels still never overlap
    for _ in range(300):
        items = strip_items(rng, 700)
        stagger(items, limit=1330)
        for a in items:
            assert a.span()[1] <= 1335 and (a.right or a.x + StripItem.PAD + a.width <= 1330)
            for b in items:
                if a is not b and a.row == b.row:
                    assert a.span()[1] <= b.span()[0] or b.span()[1] <= a.span()[0]


# --------------------------------------------------------------------------- through the CLI



def svg_tree(path: Path) -> ET.Element:
    return ET.fromstring(path.read_text())


def group(root: ET.Element, gid: str) -> ET.Element:
    found = root.find(f".//{SVG}g[@id='{gid}']")
    assert found is not None, f"no element {gid!r} in the plot"
    return found


def ids(root: ET.Element, pattern: str) -> list[str]:
    return [g.get("id") for g in root.iter(f"{SVG}g") if re.fullmatch(pattern, g.get("id") or "")]


def texts(el: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in el.iter(f"{SVG}text")]


def vline_x(root: ET.Element, gid: str) -> tuple[float, float]:
    """(x, top y) of a vertical line drawn across a panel."""
    d = group(root, gid).find(f"{SVG}path").get("d")
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    assert nums[0] == pytest.approx(nums[2]), d
    return nums[0], min(nums[1], nums[3])


def marker_xy(root: ET.Element, gid: str) -> tuple[float, float]:
    use = group(root, gid).find(f".//{SVG}use")
    return float(use.get("x")), float(use.get("y"))


def local(day: str, hhmm: str = "00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(TZ))


@pytest.fixture
def story(home: Path, faces: Path, tmp_path: Path) -> dict:
    """Scarlett: three AI headshots (the first retired), monthly check-ins from real photos, two
    check-ins of someone else (confirmed) that open and then resolve likeness_diverged, and a gap
    that is only evaluated weeks later (refresh_due and checkin_missed recorded after the fact)."""
    ai = faces / "ai/scarlett_johansson"
    real = sorted((ai / "real").iterdir())
    other = [faces / "ai/rihanna/real/pulid-rihanna.webp", faces / "ai/rihanna/real/withanyone-ref.jpg"]
    run("init")
    pid = run_json("person", "add", "Scarlett Johansson", "--consent", "--timezone", TZ, "--checkin-every", "30")["id"]
    h1 = run_json("headshot", "add", pid, ai / "generated/withanyone-10.jpg", "--platform", "linkedin",
                  "--published", "2024-03-01", "--ai", "--disclosed")["id"]
    h2 = run_json("headshot", "add", pid, ai / "generated/withanyone-9.jpg", "--platform", "website",
                  "--published", "2024-06-01", "--ai", "--disclosed")["id"]
    plan = [("2024-04-01", real[2]), ("2024-05-01", real[5]), ("2024-06-01", real[0]), ("2024-07-01", real[4]),
            ("2024-08-01", real[1]), ("2024-09-01", other[0]), ("2024-10-01", other[1]),
            ("2024-11-01", variant(real[2], tmp_path / "a.jpg", 1, margin=2, step=3, quality=92)),
            ("2024-12-01", variant(real[0], tmp_path / "b.jpg", 1, margin=2, step=3, quality=92)),
            ("2025-01-01", variant(real[5], tmp_path / "c.jpg", 1, margin=2, step=3, quality=92)),
            ("2025-02-01", variant(real[4], tmp_path / "d.jpg", 1, margin=2, step=3, quality=92)),
            ("2025-03-01", variant(real[2], tmp_path / "e.jpg", 2, margin=2, step=3, quality=92)),
            ("2025-04-01", variant(real[0], tmp_path / "f.jpg", 2, margin=2, step=3, quality=92))]
    since: dict[str, str] = {}
    h3 = None
    for day, image in plan:
        if day == "2025-03-01":
            before = run_json("status", pid, "--as-of", "2025-02-27")
            run("headshot", "retire", h1)  # takes effect now; backdate it so the story stays in the past
            db = sqlite3.connect(home / "freshness.db")
            db.execute("UPDATE headshot SET retired_at = '2025-02-28 12:00:00.000000' WHERE id = ?", (h1,))
            db.commit()
            db.close()
            h3 = run_json("headshot", "add", pid, ai / "generated/withanyone-5.jpg", "--platform", "linkedin",
                          "--published", "2025-03-01", "--ai", "--disclosed")["id"]
        run("checkin", pid, image, "--taken", f"{day}T09:00", "--confirm-identity")
        for r in run_json("reminders", pid, "--as-of", day):
            since.setdefault(f"{r['kind']}:{r['headshot']}", r["since"])
    late = run_json("reminders", pid, "--as-of", AS_OF)  # the first evaluation after April
    for r in late:
        since.setdefault(f"{r['kind']}:{r['headshot']}", r["since"])
    return {"pid": pid, "h1": h1, "h2": h2, "h3": h3, "since": since, "late": late,
            "status": run_json("status", pid, "--as-of", AS_OF),
            "h1_status": next(h for h in before["headshots"] if h["id"] == h1)}


@pytest.mark.faces
def test_it_draws_each_headshot_with_its_verdict_bands_limit_and_reminders(home: Path, story: dict) -> None:
    pid, h1, h2, h3 = story["pid"], story["h1"], story["h2"], story["h3"]
    out = home / "history.svg"
    assert "wrote" in run("history", pid, "--plot", out, "--as-of", AS_OF).stderr
    assert not list(home.glob(".history.svg*"))  # written atomically: no temporary file left behind
    root = svg_tree(out)
    everything = texts(root)

    # the verdict in each panel's title, in the words status uses
    status = {h["id"]: h for h in story["status"]["headshots"]}
    assert set(status) == {h2, h3}
    for hid, h in status.items():
        (title,) = texts(group(root, f"h{hid}-title"))
        band = f" ({h['band']})" if h["band"] else ""
        assert title.endswith(f"— {words.STATE_HEADLINES[h['state']]}{band}"), title
        assert title.startswith(f"{words.headshot_name(h['platform'])[0].upper()}"), title
        assert f"#{hid}, published {h['published_on']}" in title
        assert texts(group(root, f"h{hid}-verdict")) == [h["verdict"]]
    (retired_title,) = texts(group(root, f"h{h1}-title"))
    assert retired_title.startswith("LinkedIn headshot #1, published 2024-03-01, retired 2025-02-28 — ")
    assert "Retired on 2025-02-28" in texts(group(root, f"h{h1}-verdict"))[0]

    # the bands: shaded in every panel, named, and explained once in a legend
    legend = " ".join(texts(group(root, "band-legend")))
    for band, meaning in words.BAND_MEANINGS.items():
        assert meaning in legend and band in legend
    assert "strong, below 0.40" in legend and "diverged, 0.60 and above" in legend
    for hid in (h1, h2, h3):
        assert ids(root, f"h{hid}-band-(strong|good|weak|diverged)")
        assert ids(root, f"h{hid}-band-label-(strong|good|weak|diverged)")

    # publication, retirement and refresh dates are marked
    for hid in (h1, h2, h3):
        group(root, f"h{hid}-vline-published")
    group(root, f"h{h1}-vline-retired")
    assert not ids(root, f"h{h1}-vline-refresh-.*")  # a retired headshot is not due for anything
    group(root, f"h{h2}-vline-refresh-due")  # 2025-06-01, inside the range
    assert "published 2024-06-01" in texts(group(root, f"h{h2}-strip"))
    assert any(t.startswith("refresh due 2026-03-01") for t in texts(group(root, f"h{h3}-strip")))  # ahead: an arrow

    # only the limit that applies, labelled with its reason
    for hid, h in [(h1, story["h1_status"]), *status.items()]:
        assert len(ids(root, f"h{hid}-threshold")) == 1
        panel = " ".join(texts(group(root, f"h{hid}-panel")))
        thr = words.fmt_distance(h["threshold"])
        assert f"divergence limit {thr}" in panel
        if h["threshold"] < 0.6 - 1e-9:
            assert f"(your starting likeness {words.fmt_distance(h['baseline'])} + 0.12)" in panel
            assert "identity limit" not in panel
        else:
            assert "(identity limit)" in panel and "+ 0.12" not in panel
        if h["baseline"] is not None:
            assert f"your starting likeness {words.fmt_distance(h['baseline'])} (baseline)" in panel
    assert any(h["threshold"] < 0.6 - 1e-9 for h in [story["h1_status"], *status.values()]), \
        "the story should show a limit below the identity limit"

    # reminders: opened at their since (not when the evaluation ran), resolved at resolved_at,
    # in the strip above the plot area, labelled with their titles
    since = story["since"]
    assert {r["kind"] for r in story["late"]} >= {"refresh_due", "checkin_missed"}
    x_pub, top = vline_x(root, f"h{h2}-vline-published")
    x_now, _ = vline_x(root, f"h{h2}-vline-as-of")
    t_pub, t_now = local("2024-06-01"), local(AS_OF, "23:59:59")

    def x_of(t: datetime) -> float:
        return x_pub + (t - t_pub) / (t_now - t_pub) * (x_now - x_pub)

    strip = " ".join(texts(group(root, f"h{h2}-strip")))
    for kind in ("likeness_diverged", "refresh_due", "checkin_missed"):
        at = datetime.fromisoformat(since[f"{kind}:{h2 if kind != 'checkin_missed' else None}"])
        day = words.local_date(at, TZ)
        (gid,) = ids(root, f"h{h2}-reminder-opened-{day}-[a-z_+]*{kind}[a-z_+]*-marker")
        x, y = marker_xy(root, gid)
        assert x == pytest.approx(x_of(at), abs=0.5), (kind, day)
        assert y < top  # above the plot area: never on the data
        assert f"opened {day}: " in strip and words.reminder_title(kind) in strip
    x_due, _ = marker_xy(root, ids(root, f"h{h2}-reminder-opened-2025-06-01-.*refresh_due.*-marker")[0])
    assert x_due == pytest.approx(vline_x(root, f"h{h2}-vline-refresh-due")[0], abs=0.5)
    assert x_due < x_now - 20  # not at 2025-06-20, when it was first evaluated and recorded
    (resolved,) = ids(root, f"h{h2}-reminder-resolved-2024-12-01-[a-z_+]*likeness_diverged[a-z_+]*-marker")
    x_resolved, y_resolved = marker_xy(root, resolved)
    # at the evaluation that saw it clear (as of the end of 2024-12-01)
    assert x_resolved == pytest.approx(x_of(local("2024-12-01", "23:59:59")), abs=0.5)
    assert y_resolved < top and f"resolved 2024-12-01: {words.reminder_title('likeness_diverged')}" in strip
    # a headshot retired in February shows no reminder that began after it was retired
    assert not ids(root, f"h{h1}-reminder-opened-2025-.*")
    # times are the person's: the x-axis says so
    assert f"date ({TZ})" in everything

    # the same plot as PNG
    png = home / "history.png"
    run("history", pid, "--plot", png, "--as-of", AS_OF)
    assert Image.open(io.BytesIO(png.read_bytes())).format == "PNG"


@pytest.mark.faces
def test_it_says_plainly_when_there_is_nothing_to_plot(home: Path, faces: Path) -> None:
    run("init")
    kit = run_json("person", "add", "Kit", "--consent")["id"]
    svg = home / "kit.svg"
    run("history", kit, "--plot", svg, "--as-of", "2026-01-10")
    shown = texts(svg_tree(svg))
    assert "No headshot to compare with yet" in shown
    assert any("freshness headshot add" in t for t in shown) and any("freshness checkin" in t for t in shown)
    png = home / "kit.png"
    run("history", kit, "--plot", png, "--as-of", "2026-01-10")
    assert Image.open(io.BytesIO(png.read_bytes())).format == "PNG"

    # a headshot with no check-in yet: its panel says so, with the limit and the bands
    rose = run_json("person", "add", "Rose", "--consent", "--timezone", "Europe/London")["id"]
    hid = run_json("headshot", "add", rose, faces / "people/rose_leslie/img1.jpg", "--platform", "github",
                   "--published", "2025-11-01", "--not-ai")["id"]
    run("history", rose, "--plot", svg, "--as-of", "2026-01-10")
    root = svg_tree(svg)
    (title,) = texts(group(root, f"h{hid}-title"))
    assert title == f"GitHub headshot #{hid}, published 2025-11-01 — not compared yet"
    message = texts(group(root, f"h{hid}-message"))
    assert message == [words.verdict("github", "no_checkins")]
    assert {"divergence limit 0.60", "(identity limit)"} <= set(texts(group(root, f"h{hid}-panel")))
    assert ids(root, f"h{hid}-band-label-(strong|good|weak|diverged)")


@pytest.mark.faces
def test_it_uses_the_persons_own_band_cut_offs(home: Path, faces: Path) -> None:
    run("init")
    pid = run_json("person", "add", "Ada", "--consent")["id"]
    run("person", "set", pid, "--policy", "band_strong_below=0.35", "--policy", "band_good_below=0.45",
        "--policy", "band_weak_below=0.55", "--policy", "abs_threshold=0.55")
    run_json("headshot", "add", pid, faces / "people/barack_obama/obama.jpg", "--platform", "resume",
             "--published", "2025-11-01", "--not-ai")
    svg = home / "ada.svg"
    run("history", pid, "--plot", svg, "--as-of", "2026-01-10")
    root = svg_tree(svg)
    legend = " ".join(texts(group(root, "band-legend")))
    assert "strong, below 0.35" in legend and "weak, 0.45 to 0.55" in legend and "diverged, 0.55 and above" in legend
    assert "divergence limit 0.55" in " ".join(texts(group(root, "h1-panel")))


@pytest.mark.faces
def test_it_draws_only_the_reminders_that_began_by_the_as_of_date(home: Path, faces: Path) -> None:
    """--as-of decides what the plot shows: a reminder whose condition began later is not drawn."""
    run("init")
    pid = run_json("person", "add", "Lin", "--consent", "--checkin-every", "7")["id"]
    run_json("headshot", "add", pid, faces / "people/barack_obama/obama.jpg", "--platform", "x",
             "--published", "2025-01-01", "--not-ai")
    run("checkin", pid, faces / "people/barack_obama/obama2.jpg", "--taken", "2025-01-05T10:00")
    assert {r["kind"] for r in run_json("reminders", pid, "--as-of", "2025-03-01")} == {"checkin_missed"}
    svg = home / "lin.svg"
    run("history", pid, "--plot", svg, "--as-of", "2025-01-10")
    assert not ids(svg_tree(svg), "h1-reminder-.*")
    run("history", pid, "--plot", svg, "--as-of", "2025-03-01")
    assert ids(svg_tree(svg), "h1-reminder-opened-2025-01-15-checkin_missed-marker")
