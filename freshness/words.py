"""Plain words: verdicts, distances with their band, local times, reminder messages.

The one place whose sentences the CLI, the web pages and the notification
messages all show, so that a person reads the same words everywhere. PURE: no
I/O, no clock, no project imports, stdlib only. Every function takes what it
shows as arguments (a reminder message is rendered from the reminder's stored
``details``, so any surface can render it again).

Conventions:

* a distance is never a percentage: it is shown with two decimals and its band,
  "0.51, weak";
* times are shown in the person's time zone, to the minute: "2026-11-28 09:05 CET";
* every reminder message says what was measured, what it means and what to do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "BAND_MEANINGS",
    "PLATFORM_NAMES",
    "STATE_HEADLINES",
    "distance_text",
    "fmt_distance",
    "headshot_name",
    "identity_note",
    "identity_refusal",
    "local_date",
    "local_time",
    "checkin_prompt",
    "reminder_message",
    "reminder_notification",
    "reminder_title",
    "test_notification",
    "verdict",
]

#: How a platform is named in a sentence ("Your LinkedIn headshot").
PLATFORM_NAMES: dict[str, str] = {
    "linkedin": "LinkedIn",
    "resume": "résumé",
    "portfolio": "portfolio",
    "website": "website",
    "github": "GitHub",
    "x": "X",
    "company": "company",
    "other": "published",
}

#: What each band means, for legends and help texts.
BAND_MEANINGS: dict[str, str] = {
    "strong": "as alike as two real photos of you",
    "good": "a good likeness",
    "weak": "at the edge of looking like you",
    "diverged": "does not look like you",
}

#: A short headline per likeness state (see ``rules.LIKENESS_STATES``), e.g. for a
#: plot title or a badge.
STATE_HEADLINES: dict[str, str] = {
    "no_checkins": "not compared yet",
    "alike_so_far": "looks like you so far",
    "unlike_so_far": "unlike you so far (unconfirmed)",
    "alike": "still looks like you",
    "drifting": "drifting away from you",
    "diverged": "no longer looks like you",
    "never_alike": "has never looked like you",
}

#: A short title per reminder kind.
REMINDER_TITLES: dict[str, str] = {
    "likeness_diverged": "Headshot no longer looks like you",
    "likeness_drifting": "Headshot drifting away from you",
    "refresh_due": "Headshot due for a refresh",
    "refresh_overdue": "Headshot overdue for a refresh",
    "checkin_missed": "Check-in missed",
    "disclosure_missing": "AI headshot not disclosed",
}


# --------------------------------------------------------------------------- small pieces


def fmt_distance(d: float) -> str:
    """A distance with two decimals, cut (not rounded) so that the number shown never
    crosses a band boundary the distance did not: 0.598 -> "0.59" (weak), not "0.60"."""
    return f"{math.floor(d * 100 + 1e-6) / 100:.2f}"


def distance_text(d: float | None, band: str | None) -> str:
    """A distance and its band: "0.51, weak" ("-" when there is none)."""
    if d is None:
        return "-"
    return f"{fmt_distance(d)}, {band}" if band else fmt_distance(d)


def distance_line(d: Mapping[str, Any]) -> str:
    """One headshot's distance in a check-in result: "LinkedIn headshot #1: 0.49, good"."""
    return f"{headshot_name(d['platform'])} #{d['headshot_id']}: {distance_text(d['distance'], d.get('band'))}"


def headshot_name(platform: str) -> str:
    """"LinkedIn headshot", "résumé headshot", "published headshot"."""
    key = (platform or "").strip().lower()
    return f"{PLATFORM_NAMES.get(key, key or 'published')} headshot"


def _zone(tz: str | None) -> ZoneInfo:
    return ZoneInfo(tz or "UTC")


def _parse(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def local_time(value: datetime | str | None, tz: str | None) -> str:
    """An instant in the person's time zone, to the minute: "2026-11-28 09:05 CET"."""
    if value is None:
        return "never"
    local = _parse(value).astimezone(_zone(tz))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def local_date(value: datetime | date | str | None, tz: str | None) -> str:
    """The person's local calendar day of an instant (a date is shown as is)."""
    if value is None:
        return "never"
    if isinstance(value, str) and len(value) == 10:
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return _parse(value).astimezone(_zone(tz)).date().isoformat()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _days(n: int) -> str:
    return _plural(n, "day")


# --------------------------------------------------------------------------- verdicts


def verdict(
    platform: str,
    state: str,
    band: str | None = None,
    *,
    points: int = 0,
    baseline_needed: int = 0,
    projected_on: date | str | None = None,
) -> str:
    """One line in plain words: does this headshot still look like its person?

    ``state`` is the rules' likeness state (``rules.LIKENESS_STATES``), ``band``
    the band of the current level, ``points`` the check-in days so far,
    ``baseline_needed`` how many more check-in days the baseline needs and
    ``projected_on`` the date a drifting trend reaches the limit.
    """
    name = f"Your {headshot_name(platform)}"
    b = f" ({band})" if band else ""
    if state == "no_checkins":
        return f"{name} has not been compared with a selfie yet: take a check-in selfie."
    if state == "alike_so_far":
        more = f"; {baseline_needed} more since it was published will confirm it" if baseline_needed > 0 else ""
        return f"{name} looks like you so far{b}, from {_plural(points, 'check-in')}{more}."
    if state == "unlike_so_far":
        return (
            f"{name} does not look like you so far{b}: not confirmed yet, from "
            f"{_plural(points, 'check-in')}. Take another check-in selfie in good light; if it "
            f"confirms, replace the headshot."
        )
    if state == "alike":
        if band == "weak":
            return f"{name} still looks like you, but only just{b}."
        return f"{name} still looks like you{b}."
    if state == "drifting":
        when = f" before {projected_on if isinstance(projected_on, str) else projected_on.isoformat()}" \
            if projected_on else ""
        return f"{name} is drifting away from how you look{b}: plan a refresh{when}."
    if state == "diverged":
        return f"{name} no longer looks like you{b}: refresh it."
    if state == "never_alike":
        return f"{name} has never looked like you{b}: replace it with one that does."
    raise ValueError(f"unknown likeness state {state!r}")


# --------------------------------------------------------------------------- ranking

#: The short flag in a ranking's warning column.
RANK_FLAG = "unlike you today"


def rank_warning(median: float, threshold: float) -> str:
    """Why a candidate headshot is flagged in a ranking."""
    return (
        f"its median distance to your recent selfies is {fmt_distance(median)}, at or above the "
        f"{fmt_distance(threshold)} limit: this portrait does not look like you today"
    )


def stale_selfies_warning(newest: datetime | str, tz: str | None) -> str:
    """The selfies a ranking compares with are more than a year old."""
    return (
        f"your most recent check-in selfie was taken on {local_date(newest, tz)}, more than a year ago: "
        f"the ranking compares with how you looked then. Take a check-in selfie first for a ranking "
        f"against how you look now."
    )


# --------------------------------------------------------------------------- reminders


def reminder_title(kind: str) -> str:
    """A short title for a reminder kind ("Check-in missed")."""
    try:
        return REMINDER_TITLES[kind]
    except KeyError:
        raise ValueError(f"unknown reminder kind {kind!r}") from None


def reminder_message(kind: str, details: Mapping[str, Any], tz: str | None = "UTC") -> str:
    """The full message of a reminder, rendered from its ``details`` (see docs/rules.md).

    ``tz`` is the person's time zone, used for every date shown.
    """
    render = _RENDER.get(kind)
    if render is None:
        raise ValueError(f"unknown reminder kind {kind!r}")
    return render(details, tz)


def _disclose(d: Mapping[str, Any]) -> str:
    return " Until then, say plainly that it is AI-generated where it is published." if d.get("undisclosed_ai") else ""


def _diverged(d: Mapping[str, Any], tz: str | None) -> str:
    name = f"Your {headshot_name(d['platform'])}"
    level = distance_text(d["level"], d.get("band"))
    m = d.get("level_points", 3)
    k, n = d["k"], d["window"]
    resolve = (
        f"This reminder resolves once fewer than {k} of your last {n} check-ins are at or above "
        f"{fmt_distance(d['resolve_below'])}."
    )
    if d.get("from_start"):
        if d.get("baseline") is not None:
            start = (
                f"its starting likeness (the median of your first {d['baseline_n']} check-ins after "
                f"publication) was {distance_text(d['baseline'], d.get('baseline_band'))}"
            )
        else:
            start = f"your first check-ins after it was published were already at {level}"
        return (
            f"{name} has never looked like you: {start}, at or above the "
            f"{fmt_distance(d['abs_threshold'])} limit beyond which the face model would not call it "
            f"the same person, and your last {_plural(m, 'check-in')} are at a median of {level}. "
            f"People who know you only from this photo may not recognise you. Replace it with a "
            f"headshot that resembles you more closely; if you use an AI generator, rank several "
            f"candidates against a current selfie and publish the closest.{_disclose(d)} {resolve}"
        )
    baseline, thr, abs_thr = d.get("baseline"), d["threshold"], d["abs_threshold"]
    if baseline is None:
        limit = (
            f"the {fmt_distance(abs_thr)} identity limit (no baseline yet: it needs "
            f"{d['baseline_n']} check-ins after publication)"
        )
    elif thr < abs_thr - 1e-9:
        limit = (
            f"the limit {fmt_distance(thr)} (your starting likeness {fmt_distance(baseline)} + "
            f"{fmt_distance(d['margin'])})"
        )
    else:
        limit = f"the {fmt_distance(abs_thr)} identity limit (your starting likeness was {fmt_distance(baseline)})"
    headline = (
        "looks much less like you than when it was published"
        if baseline is not None and thr < abs_thr - 1e-9
        else "no longer looks like you"
    )
    return (
        f"{name} {headline}: your last {_plural(m, 'check-in')} are at a median distance of "
        f"{level} from it, against {limit}; {d['exceedances']} of your last {n} check-ins are at "
        f"or above that limit. Refresh the headshot with a current photo, or regenerate it from "
        f"recent selfies.{_disclose(d)} If you think a poor selfie caused this, take another "
        f"check-in in good light, facing the camera. {resolve}"
    )


def _drifting(d: Mapping[str, Any], tz: str | None) -> str:
    name = f"Your {headshot_name(d['platform'])}"
    conf = f"{d['confidence'] * 100:g}%"
    level = (
        f" Your current level is {distance_text(d['level'], d.get('band'))}." if d.get("level") is not None else ""
    )
    return (
        f"{name} is drifting away from how you look now: over {d['n']} check-ins spanning "
        f"{int(d['span_days'])} days, the distance rises by about {d['slope_per_year']:.2f} per "
        f"year ({conf} interval {d['low_per_year']:.2f} to {d['high_per_year']:.2f}), and at this "
        f"rate it reaches the limit {fmt_distance(d['threshold'])} around "
        f"{local_date(d['projected_date'], tz)}.{level} Plan a refresh of the headshot before then, "
        f"and keep taking check-ins so the projection stays accurate."
    )


_REFRESH_ACTION = (
    "Take a current photo or generate a new headshot from recent selfies, register it here, and "
    "retire the old one."
)


def _refresh(d: Mapping[str, Any], tz: str | None, overdue: bool) -> str:
    name = f"Your {headshot_name(d['platform'])}"
    months = d["months_since_published"]
    level = (
        f" Its current likeness to you is {distance_text(d['level'], d.get('band'))}."
        if d.get("level") is not None
        else ""
    )
    if overdue:
        return (
            f"{name} was published on {d['published_on']}, {_plural(months, 'month')} ago: it is "
            f"overdue for a refresh (headshots should be renewed within {d['overdue_months']} months "
            f"so they show how you look now).{level} {_REFRESH_ACTION}"
        )
    return (
        f"{name} was published on {d['published_on']}, {_plural(months, 'month')} ago: it is due "
        f"for a refresh (recommended every {d['due_months']}-{d['overdue_months']} months; overdue "
        f"from {d['overdue_on']}).{level} {_REFRESH_ACTION}"
    )


def _disclosure(d: Mapping[str, Any], tz: str | None) -> str:
    if d.get("label_intact"):
        label = (
            f" The file itself carries an AI label ({_label_source(d.get('label_source'))}), but platforms "
            f"often strip such metadata when a photo is uploaded, so it counts only where this very file is "
            f"published with the label intact: if it is, say so in freshness (published with its label); a "
            f"visible caption is safer."
        )
    elif d.get("published_with_label"):
        label = (
            " You said it is published with its embedded label, but the file carries no intact AI label: "
            "export a labelled copy from freshness (headshot export, with a visible caption for platforms "
            "that strip metadata) and publish that."
        )
    else:
        label = ""
    return (
        f"Your {headshot_name(d['platform'])} is AI-generated and not disclosed as such, and you "
        f"work in {d['sector']}, where people rely on your photo to know who they are dealing with. "
        f"Say plainly that it is AI-generated where it is published (a caption or a note on the "
        f"profile is enough), or use a real photo there; then mark the headshot as disclosed in "
        f"freshness.{label}"
    )


def _label_source(source: Any) -> str:
    return {"c2pa": "a signed C2PA manifest", "xmp": "the IPTC digital source type in its XMP"}.get(
        source, "embedded metadata")


def _checkin(d: Mapping[str, Any], tz: str | None) -> str:
    cadence = d["cadence_days"]
    if d.get("last_checkin_at") is None:
        opening = f"You have not taken a check-in selfie since you joined on {local_date(d['counted_from'], tz)}"
    else:
        opening = f"No check-in selfie since {local_date(d['last_checkin_at'], tz)}"
    return (
        f"{opening}: one was due on {local_date(d['due_at'], tz)} (every {_days(cadence)}), "
        f"{_days(d['overdue_days'])} ago. Without recent selfies freshness cannot tell whether your "
        f"headshot still looks like you. Take a check-in selfie (good light, facing the camera, no "
        f"filters)."
    )


_RENDER = {
    "likeness_diverged": _diverged,
    "likeness_drifting": _drifting,
    "refresh_due": lambda d, tz: _refresh(d, tz, overdue=False),
    "refresh_overdue": lambda d, tz: _refresh(d, tz, overdue=True),
    "checkin_missed": _checkin,
    "disclosure_missing": _disclosure,
}


# --------------------------------------------------------------------------- identity guard


def _outside(distance: float, radius: float) -> tuple[str, str]:
    """A distance just outside the radius and the radius, never shown as the same number."""
    shown, limit = fmt_distance(distance), fmt_distance(radius)
    return (f"{distance:.3f}", f"{radius:.3f}") if shown == limit else (shown, limit)


def _references(compared: int, back_dated: bool) -> str:
    if back_dated:
        return f"your {_plural(compared, 'selfie')} taken nearest to that date"
    return "your last selfie" if compared == 1 else f"your last {compared} selfies"


def identity_refusal(
    distance: float,
    compared: int,
    radius: float,
    *,
    back_dated: bool = False,
    confirm: str = "check in again with --confirm-identity",
) -> str:
    """Why a selfie was refused as ``not_you`` and what to do."""
    measure = "distance" if compared == 1 else "median distance"
    shown, limit = _outside(distance, radius)
    return (
        f"This selfie does not look like your earlier check-ins: its {measure} to "
        f"{_references(compared, back_dated)} is {shown}, and the same person is usually "
        f"within {limit}. Nothing was stored. If it is you (new glasses, a beard, other "
        f"light), {confirm}; if not, take a selfie of yourself."
    )


def identity_note(
    *,
    checked: bool,
    distance: float | None,
    compared: int,
    radius: float,
    confirmed: bool,
    earlier: int,
    min_references: int,
    back_dated: bool = False,
) -> str | None:
    """One short line about the identity check of an accepted selfie, or None when it is unremarkable."""
    if not checked:
        if earlier == 0 and min_references == 1:
            return "identity not checked yet: this is your first selfie; the next ones are compared with it"
        return (f"identity not checked yet: a selfie is compared with your earlier ones once you have "
                f"{_plural(min_references, 'selfie')}; you had {earlier}")
    if confirmed and distance is not None:
        shown, limit = _outside(distance, radius)
        return (f"identity confirmed by you: {shown} from {_references(compared, back_dated)}, "
                f"outside the {limit} radius")
    return None


# --------------------------------------------------------------------------- notifications

#: What a notification says it is, per change of a reminder.
CHANGE_WORDS: dict[str, str] = {
    "opened": "",
    "reopened": "Again: ",
    "resolved": "Resolved: ",
}


def _footer(link: str | None) -> str:
    return (f"\n\nOpen freshness: {link}" if link else "") + (
        "\n\nYou receive this because this address is a notification channel of yours in freshness; "
        "remove it there to stop these messages."
    )


def reminder_notification(
    kind: str, change: str, message: str, *, platform: str | None = None, published_on: str | None = None,
    link: str | None = None,
) -> tuple[str, str]:
    """(subject, text) of a message announcing a reminder that ``change``d (opened,
    reopened after a snooze, or resolved). The text is the reminder's own message, so it
    says what was measured and what to do."""
    if change not in CHANGE_WORDS:
        raise ValueError(f"unknown reminder change {change!r}")
    where = f" ({headshot_name(platform)}" + (f", published {published_on})" if published_on else ")") \
        if platform else ""
    subject = f"{CHANGE_WORDS[change]}{reminder_title(kind)}{where}"
    if change == "resolved":
        body = f"This no longer applies: {message}" if message else "This reminder no longer applies."
    else:
        body = message
    return subject, body + _footer(link)


def checkin_prompt(
    name: str, due_at: datetime | str, tz: str | None, cadence_days: int, *, link: str | None = None,
    inbox: str | None = None, signin_link: str | None = None, signin_until: datetime | str | None = None,
) -> tuple[str, str]:
    """(subject, text) of a check-in prompt: it is time for a selfie, and how to take one."""
    ways = []
    if signin_link:
        ways.append(f"- on the web, signed in by this link (once, until {local_time(signin_until, tz)}): "
                    f"{signin_link}")
    elif link:
        ways.append(f"- on the web: {link}")
    ways.append(f'- from the command line: freshness checkin "{name}" selfie.jpg')
    if inbox:
        ways.append(f"- or drop the photo into your inbox folder: {inbox}")
    text = (
        f"Hello {name}, it is time for your check-in selfie (due {local_time(due_at, tz)}; you check in every "
        f"{_days(cadence_days)}). A recent selfie is how freshness tells whether your published headshots "
        f"still look like you.\n\nTake it in good light, facing the camera, without filters, and check in:\n"
        + "\n".join(ways)
    )
    return "Time for your check-in selfie", text + _footer(None)


def test_notification(channel_kind: str, channel_id: int) -> tuple[str, str]:
    """(subject, text) of the test message `freshness channel test` sends."""
    return (
        "freshness: test message",
        f"This is a test of your {channel_kind} channel #{channel_id}. If you can read it, reminders and "
        f"check-in prompts will reach you here." + _footer(None),
    )


# --------------------------------------------------------------------------- channels


def webhook_plain_http_warning() -> str:
    """Shown when a webhook URL is plain http:// to another machine."""
    return ("this webhook URL is plain http://: the signature proves the messages are from freshness, but "
            "anyone on the way can read them; use https:// unless the receiver is on this machine")


def webhook_secret_help(header_names: str = "webhook-id, webhook-timestamp and webhook-signature") -> str:
    """How a receiver checks a webhook request (shown with the secret, once)."""
    return (f"Each request carries the headers {header_names}: check the signature with this secret "
            f"before trusting the body, as README.md, \"Webhooks\", shows (Standard Webhooks; any of its "
            f"libraries verifies it).")


def channel_disabled_refusal(channel_id: int, reason: str | None, disabled_at: datetime | str | None,
                             tz: str | None = "UTC") -> str:
    """Why a disabled channel is not tested, and what to do."""
    what = ", ".join(filter(None, [f"since {local_date(disabled_at, tz)}" if disabled_at else "", reason or ""]))
    return (f"channel #{channel_id} is disabled" + (f" ({what})" if what else "") + f"; fix the cause, then run "
            f"`freshness channel enable {channel_id}` and test it again")


def channel_test_failed(channel_id: int, error: str, *, disabled: bool) -> str:
    """A test message that did not arrive, and what it did to the channel."""
    if disabled:
        return (f"the test message to channel #{channel_id} was not delivered: {error}. This error is permanent, "
                f"so channel #{channel_id} is now disabled: fix it, then run `freshness channel enable "
                f"{channel_id}` and test it again.")
    return (f"the test message to channel #{channel_id} was not delivered: {error}. The error may be temporary: "
            f"the channel stays enabled and reminders to it are retried with backoff; test it again later.")


# --------------------------------------------------------------------------- calendar feed


def calendar_name(name: str) -> str:
    """The name a calendar app shows for the subscription."""
    return f"freshness: {name}"


def calendar_refresh_title(platform: str, overdue: bool) -> str:
    """An all-day event's title: "Refresh your LinkedIn headshot (due)"."""
    return f"Refresh your {headshot_name(platform)} ({'overdue' if overdue else 'due'})"


def calendar_refresh_description(
    platform: str, published_on: date | str, due_on: date | str, overdue_on: date | str, due_months: int,
    overdue_months: int, *, overdue: bool, link: str | None = None,
) -> str:
    """Why a refresh date is in the calendar, and what to do."""
    def iso(d: date | str) -> str:
        return d if isinstance(d, str) else d.isoformat()

    name = f"Your {headshot_name(platform)}"
    if overdue:
        when = (f"On {iso(overdue_on)} it is {overdue_months} months old and overdue for a refresh (it was due "
                f"from {iso(due_on)}).")
    else:
        when = (f"On {iso(due_on)} it is {due_months} months old and due for a refresh; from {iso(overdue_on)} "
                f"it is overdue.")
    text = (f"{name} was published on {iso(published_on)}. Headshots should be renewed {due_months}-"
            f"{overdue_months} months after publication so they show how you look now. {when} "
            f"{_REFRESH_ACTION}")
    return text + (f"\n\nOpen freshness: {link}" if link else "")


def calendar_checkin_title() -> str:
    return "Take your check-in selfie"


def calendar_checkin_description(name: str, cadence_days: int, *, link: str | None = None) -> str:
    """The next check-in's event: what it is for and how to check in."""
    ways = [f'- from the command line: freshness checkin "{name}" selfie.jpg']
    if link:
        ways.insert(0, f"- on the web: {link}")
    return (f"Your next check-in selfie is due (you check in every {_days(cadence_days)}). A recent selfie is "
            f"how freshness tells whether your published headshots still look like you. Take it in good light, "
            f"facing the camera, without filters, and check in:\n" + "\n".join(ways))


# --------------------------------------------------------------------------- web pages and sign-in links
# (the web pages show the sentences above too; these are the ones only a page or a sign-in link needs)


def published_text(published_on: date | str, age_days: int) -> str:
    """When a headshot was published and how long ago: "published 2025-03-01 (637 days ago)"."""
    day = published_on if isinstance(published_on, str) else published_on.isoformat()
    ago = "today" if age_days == 0 else f"{_days(age_days)} ago"
    return f"published {day} ({ago})"


def _iso_day(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def refresh_countdown(due_on: date | str, overdue_on: date | str, today: date | str) -> str:
    """Where a headshot stands in its refresh window, counted in days from ``today`` (the
    person's local day): "refresh due in 93 days (2027-03-01)"."""
    due, overdue, now = _iso_day(due_on), _iso_day(overdue_on), _iso_day(today)
    if now < due:
        return f"refresh due in {_days((due - now).days)} ({due.isoformat()})"
    if now < overdue:
        return (f"due for a refresh since {due.isoformat()}; overdue in {_days((overdue - now).days)} "
                f"({overdue.isoformat()})")
    return f"overdue for a refresh since {overdue.isoformat()}"


def next_checkin_text(due_at: datetime | str | None, tz: str | None, today: date | str) -> str:
    """When the next check-in selfie is due, in the person's local days."""
    if due_at is None:
        return "No check-in selfie is scheduled."
    due = date.fromisoformat(local_date(due_at, tz))
    now = _iso_day(today)
    if due > now:
        return f"Next check-in selfie due on {due.isoformat()}, in {_days((due - now).days)}."
    if due == now:
        return f"Your check-in selfie is due today ({due.isoformat()})."
    return f"Your check-in selfie was due on {due.isoformat()}, {_days((now - due).days)} ago: take one now."


def latest_distance_text(distance: float | None, band: str | None, taken_at: datetime | str | None,
                         tz: str | None) -> str:
    """The latest distance with its band and when that selfie was taken (as `freshness status` shows it)."""
    if distance is None:
        return "no check-in yet"
    return f"latest {distance_text(distance, band)} ({local_time(taken_at, tz)})"


def trend_text(trend: Mapping[str, Any] | None, *, threshold: float | None, projected_on: date | str | None,
               confidence: float, min_points: int, min_span_days: int, window_days: int) -> str:
    """The trend line of a headshot's distances, or what it still needs."""
    if not trend:
        return (f"trend: not enough check-ins yet ({min_points} over {min_span_days} days within "
                f"{window_days} days needed)")
    text = (f"trend {trend['slope_per_year']:+.2f}/year ({confidence * 100:g}% interval "
            f"{trend['low_per_year']:+.2f} to {trend['high_per_year']:+.2f}, {trend['n']} check-ins over "
            f"{trend['span_days']:.0f} days)")
    if projected_on and threshold is not None:
        day = projected_on if isinstance(projected_on, str) else projected_on.isoformat()
        text += f"; reaches {threshold:.2f} around {day}"
    return text


def reminder_state_text(state: str, snoozed_until: datetime | str | None = None, tz: str | None = "UTC") -> str:
    """A reminder's state in a few words: "open", "acknowledged", "snoozed until 2027-02-01"."""
    if state == "snoozed" and snoozed_until is not None:
        return f"snoozed until {local_date(snoozed_until, tz)}"
    return state


def reminder_done(action: str, reminder_id: int, kind: str, until: date | str | None = None) -> str:
    """What acknowledging or snoozing a reminder did."""
    title = reminder_title(kind)
    if action == "ack":
        return (f"Reminder #{reminder_id} ({title}) acknowledged: it stays until its condition clears, "
                f"and you are not notified about it again.")
    if action == "snooze":
        day = until if isinstance(until, str) else until.isoformat() if until else "?"
        return (f"Reminder #{reminder_id} ({title}) snoozed until {day}: it re-opens then if its condition "
                f"still holds.")
    raise ValueError(f"unknown reminder action {action!r}")


#: The dashboard without a headshot.
NO_HEADSHOT_WEB = "No active headshot yet: register the one you publish on the Headshots page."

#: An accepted selfie when no headshot is registered (as `freshness checkin` says it).
KEPT_FOR_LATER = "no active headshot yet: kept for later comparison"

#: How a not_you refusal on the check-in page says to confirm (see ``identity_refusal``).
WEB_CONFIRM_IDENTITY = 'choose the same photo again below and press "It is me: check in"'


def checkin_accepted(file: str, checkin_id: int, taken_at: datetime | str, tz: str | None, source: str) -> str:
    """One accepted selfie (as `freshness checkin` says it)."""
    return f"{file}: accepted as check-in #{checkin_id} (taken {local_time(taken_at, tz)}, from {source})"


def checkin_refused(file: str, message: str) -> str:
    """One refused selfie (as `freshness checkin` says it)."""
    return f"{file}: refused: {message}"


def headshot_added(headshot_id: int, name: str, platform: str, published_on: date | str, ai_generated: bool,
                   disclosed: bool) -> str:
    """A registered headshot (as `freshness headshot add` says it)."""
    return (f"added headshot #{headshot_id} for {name}: {platform}, published {published_on}, "
            f"{'AI-generated' if ai_generated else 'not AI-generated'}{', disclosed' if disclosed else ''}")


def rank_needs_selfies(have: int, need: int) -> str:
    """Why the ranking form is not offered yet."""
    return (f"Ranking compares candidate headshots with your most recent check-in selfies: it needs at least "
            f"{need}, and you have {have}. Take a few check-in selfies first.")


def signin_link_text(name: str, person_id: int, expires_at: datetime | str, tz: str | None,
                     minutes: float) -> str:
    """The line above a sign-in link printed by `freshness person link`."""
    return (f"one-time sign-in link for {name} (#{person_id}), valid for {minutes:g} minutes (until "
            f"{local_time(expires_at, tz)}); it opens one browser session, and only once:")


SIGNIN_BAD_TOKEN = ("This token opens nothing: it is unknown or was revoked. Check it, or ask for a one-time "
                    "sign-in link (`freshness person link NAME` on the server).")
SIGNIN_LINK_SPENT = ("This sign-in link has expired or was already used: a link opens one session, once. Ask for "
                     "a new one (`freshness person link NAME` on the server).")
SIGNIN_NEEDED = "Sign in to see this page."
SIGNED_OUT = "You are signed out."
CSRF_REFUSED = ("This form could not be accepted: its security token is missing, wrong or from an earlier "
                "session. Nothing was changed. Go back, reload the page and try again.")
SETTINGS_SAVED = "Settings saved."
RULES_SAVED = "Rule settings saved."
TOKEN_REVOKED = "API token revoked: it opens nothing from now on."
TOKEN_CREATED = "Your new API token (shown once, store it now):"
CANDIDATE_GONE = ("That candidate is no longer held (candidates are kept for an hour after ranking, and only "
                  "until one of them is registered): upload it again.")


def delete_name_mismatch(name: str) -> str:
    """The delete-everything confirmation did not match."""
    return f"The name you typed does not match {name!r}: nothing was deleted."


def deleted_everything(name: str, person_id: int, counts: Mapping[str, int]) -> str:
    """What delete-everything removed (as `freshness person delete` says it)."""
    return (f"deleted {name} (#{person_id}): {counts['headshots']} headshot(s), {counts['checkins']} check-in(s), "
            f"{counts['files']} stored file(s)")


def level_text(level: float | None, band: str | None, level_n: int) -> str:
    """A headshot's level, as `freshness status` says it."""
    return f"level (median of the last {level_n} check-in days) {distance_text(level, band)}"


#: Under an acknowledged reminder.
ACKNOWLEDGED_NOTE = "Acknowledged: you are not notified about it again; it resolves once its condition clears."
#: Under the chart on a narrow screen.
CHART_SWIPE = "Swipe the chart sideways to see all of it, or open it full size."


MARKED_DISCLOSED = ("Marked as disclosed: your headshot is labelled as AI-generated where it is published. "
                    "If a platform strips the label, say so in the caption or the profile text too.")


# --------------------------------------------------------------------------- provenance

#: The visible caption drawn on an exported headshot (``headshot export --label``).
AI_CAPTION = "AI-generated"

#: What each IPTC digital source type means, in a few words.
SOURCE_TYPE_MEANINGS: dict[str, str] = {
    "trainedAlgorithmicMedia": "made by a generative AI model",
    "compositeWithTrainedAlgorithmicMedia": "a composite with AI-generated parts",
    "compositeSynthetic": "a composite with synthetic parts",
    "algorithmicMedia": "made by an algorithm, not photographed",
    "trainedAlgorithmicData": "made by a generative AI model",
    "digitalCapture": "a camera photo",
    "computationalCapture": "a camera photo processed by the device",
    "negativeFilm": "a scan of a film negative",
    "positiveFilm": "a scan of a slide",
    "print": "a scan of a print",
    "minorHumanEdits": "a photo with minor edits",
    "humanEdits": "an edited photo",
    "compositeCapture": "a composite of photos",
    "composite": "a composite",
    "screenCapture": "a screenshot",
    "virtualRecording": "a recording of a virtual scene",
    "digitalCreation": "made by a person with software",
    "digitalArt": "made by a person with software",
    "dataDrivenMedia": "made from data",
    "algorithmicallyEnhanced": "a photo enhanced by an algorithm",
}

_SOURCES = {"c2pa": "its C2PA manifest", "xmp": "its XMP (IPTC digital source type)"}


def source_type_text(code: str | None) -> str:
    """``trainedAlgorithmicMedia (made by a generative AI model)``."""
    if not code:
        return "no digital source type"
    meaning = SOURCE_TYPE_MEANINGS.get(code)
    return f"{code} ({meaning})" if meaning else code


def provenance_text(prov: Mapping[str, Any] | None) -> str:
    """One line about what a headshot's file says of its origin (CLI, pages)."""
    prov = prov or {}
    status = prov.get("status")
    if not status or status == "not_read":
        return "provenance: not read (registered before freshness read files' provenance)"
    problems = [str(p) for p in prov.get("problems") or []]
    if status == "none":
        return ("provenance: none found in the file (no C2PA manifest, no IPTC digital source type; "
                "absence proves nothing: metadata is easy to strip)")
    if status == "unreadable":
        return f"provenance: unreadable ({'; '.join(problems) or 'unknown reason'}); the headshot was registered anyway"
    ai = prov.get("ai_generated")
    says = "AI-generated" if ai is True else ("not AI-generated" if ai is False else "no statement on AI")
    parts = [f"provenance: {says} according to {_SOURCES.get(prov.get('source'), 'its metadata')}"
             + (f": {source_type_text(prov.get('digital_source_type'))}" if prov.get("digital_source_type") else "")]
    if prov.get("signed"):
        validation = prov.get("validation")
        signer = f" by {prov['signer']}" if prov.get("signer") else ""
        parts.append({
            "trusted": f"C2PA manifest signed{signer}, valid and from a trusted signer",
            "valid": f"C2PA manifest signed{signer}, signature valid (signer not on a trust list)",
            "invalid": f"C2PA manifest signed{signer} but INVALID (changed after signing)",
        }.get(validation, "signed manifest present, not verified"))
    if prov.get("generator"):
        parts.append(f"generator {prov['generator']}")
    if prov.get("label_intact"):
        parts.append("AI label intact" + (", published with it" if prov.get("published_with_label") else ""))
    elif prov.get("published_with_label"):
        parts.append("said to be published with its label, but the file has no intact AI label")
    others = [p for p in problems if "not verified" not in p and "does not validate" not in p]
    if others:
        parts.append("note: " + "; ".join(others))
    return "; ".join(parts)


def provenance_warning(reason: str, prov: Mapping[str, Any]) -> str:
    """Why what the file says and what is recorded differ (a warning of ``headshot add``)."""
    where = _SOURCES.get(prov.get("source"), "its metadata")
    code = source_type_text(prov.get("digital_source_type"))
    if reason == "ai_overridden":
        return (f"the file labels itself AI-generated ({code}, in {where}), but you said it is not: it is "
                f"recorded as not AI-generated. If the file is right, correct it (headshot set ID --ai).")
    if reason == "capture_label_ignored":
        return (f"the file says it is not AI-generated ({code}, in {where}), but such metadata is easy to "
                f"write: it is recorded as AI-generated, the default. If it is a real photo, say so "
                f"(--not-ai, or headshot set ID --not-ai).")
    if reason == "label_missing":
        return ("you said it is published with its embedded AI label, but the file carries no intact AI "
                "label, so it does not count as disclosed: export a labelled copy (headshot export ID "
                "FILE --label) and publish that, or disclose it in the caption.")
    if reason == "unreadable":
        return (f"the file's provenance could not be read ({'; '.join(prov.get('problems') or [])}); the "
                f"headshot was registered anyway")
    raise ValueError(f"unknown provenance warning {reason!r}")


def export_not_ai(headshot_id: int) -> str:
    """Why a headshot recorded as not AI-generated is not exported with an AI label."""
    return (f"headshot #{headshot_id} is recorded as not AI-generated: an AI label on it would be false. If it "
            f"is AI-generated, correct that first (freshness headshot set {headshot_id} --ai).")


def export_written(headshot_id: int, path: str, code: str, caption: bool) -> str:
    """What `freshness headshot export` wrote."""
    return (f"exported headshot #{headshot_id} to {path}: IPTC digital source type {code} in its XMP"
            f"{', a visible AI-generated caption' if caption else ''}; no EXIF or GPS of the original")


#: Under the dashboard's download of a labelled headshot.
EXPORT_HELP = ("The file is re-encoded from your original: it states that it is AI-generated in its metadata "
               "(the IPTC digital source type, which some platforms read and show), and carries none of the "
               "original's EXIF or GPS data. Many platforms strip metadata on upload: the visible caption "
               "survives that.")
