"""The command-line interface: a thin layer over the service functions.

Exit codes: 0 success; 1 unexpected failure; 2 usage error (bad option, unknown
person, unreadable file); 3 an image was refused (check-in: any image).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Callable, Optional
from zoneinfo import ZoneInfo

import typer
from sqlmodel import Session

from freshness import __version__
from freshness.config import get_settings
from freshness.context import get_context
from freshness.db import get_engine, utcnow
from freshness.errors import FreshnessError, ImageRejected, UsageError

app = typer.Typer(
    name="freshness",
    help="Keep a published (AI) headshot honest: check in with real selfies and watch the likeness over time.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
person_app = typer.Typer(help="Register and list people.", no_args_is_help=True)
headshot_app = typer.Typer(help="Register, list and retire published headshots.", no_args_is_help=True)
app.add_typer(person_app, name="person")
app.add_typer(headshot_app, name="headshot")

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def handle_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FreshnessError as exc:
            _error(exc.message)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _session() -> Session:
    """A session on a database that is at the current migration head."""
    from freshness.migrate import current_revision, head_revision

    settings = get_settings()
    try:
        revision = current_revision(settings)
    except Exception as exc:
        raise FreshnessError(f"cannot open the database {settings.db_url}: {exc}") from None
    if revision is None:
        raise UsageError(f"the database {settings.db_url} is not initialised: run `freshness init` first")
    if revision != head_revision(settings):
        raise UsageError(f"the database is at revision {revision}, older than this version: run `freshness init`")
    return Session(get_engine(settings), expire_on_commit=False)


def _read_image(path: Path) -> bytes:
    limit = get_settings().max_upload_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise ImageRejected(
                f"file too large: {size / 1048576:.1f} MB; the limit is {limit / 1048576:.0f} MB", code="too_large"
            )
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None


def _as_of(value: Optional[str], tz: str) -> datetime:
    """``--as-of``: a date (end of that day in the person's time zone) or a full ISO time; default now."""
    if not value:
        return utcnow()
    raw = value.strip()
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            return datetime.combine(d, time(23, 59, 59), ZoneInfo(tz)).astimezone(timezone.utc)
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"--as-of {value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.astimezone(timezone.utc)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _fmt_d(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3f}"


# ---------------------------------------------------------------- top level


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        typer.echo(f"freshness {__version__}")
        raise typer.Exit(0)


@app.command()
@handle_errors
def init() -> None:
    """Create or upgrade the database (idempotent).

    Example: freshness init
    """
    from freshness.migrate import upgrade

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        before, after = upgrade(settings)
    except Exception as exc:
        raise FreshnessError(f"cannot migrate the database {settings.db_url}: {exc}") from None
    if before == after:
        typer.echo(f"database {settings.db_url} is up to date (revision {after})")
    else:
        typer.echo(f"database {settings.db_url} upgraded from {before or 'empty'} to revision {after}")


@app.command()
@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
) -> None:
    """Start the HTTP service (health check and API docs at /docs).

    Example: freshness serve --port 8000
    """
    import uvicorn

    from freshness.web import create_app

    _session().close()  # refuse to start on an uninitialised database
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


# ---------------------------------------------------------------- people


@person_app.command("add")
@handle_errors
def person_add(
    name: str = typer.Argument(..., help="The person's name (must not be only digits)."),
    consent: bool = typer.Option(False, "--consent", help="Agree to biometric processing (required)."),
    email: Optional[str] = typer.Option(None, help="E-mail address for reminders."),
    sector: Optional[str] = typer.Option(None, help="Sector of work: healthcare, legal, government, finance, education, technology, media, other."),
    tz: str = typer.Option("UTC", "--timezone", help="IANA time zone, e.g. Europe/Berlin."),
    checkin_every: Optional[int] = typer.Option(None, "--checkin-every", help="Days between check-ins (default 30).", metavar="DAYS"),
    as_json: bool = JsonOpt,
) -> None:
    """Register a person; prints their id and an API token (shown once).

    Example: freshness person add "Ada Lovelace" --consent --email ada@example.org --sector finance
    """
    from freshness.people import add_person

    cadence = checkin_every if checkin_every is not None else get_settings().default_checkin_every_days
    with _session() as session:
        person, token = add_person(
            session, name, consent=consent, now=utcnow(), email=email, sector=sector, timezone=tz,
            checkin_every_days=cadence,
        )
        from freshness.reports import person_dict

        if as_json:
            _emit_json({**person_dict(person), "token": token})
        else:
            typer.echo(f"added person #{person.id}: {person.name}")
            typer.echo(f"API token (shown once, store it now): {token}")


@person_app.command("list")
@handle_errors
def person_list(as_json: bool = JsonOpt) -> None:
    """List people.

    Example: freshness person list --json
    """
    from freshness.people import list_people
    from freshness.reports import person_dict

    with _session() as session:
        people = list_people(session)
        if as_json:
            _emit_json([person_dict(p) for p in people])
            return
        rows = [[p.id, p.name, p.email, p.sector, p.timezone, p.checkin_every_days] for p in people]
        typer.echo(_table(["id", "name", "email", "sector", "timezone", "every (days)"], rows))


@person_app.command("delete")
@handle_errors
def person_delete(
    person: str = typer.Argument(..., help="Person id or unique name."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: delete without asking."),
) -> None:
    """Delete a person and all their data (embeddings, thumbnails, originals, reminders).

    Example: freshness person delete "Ada Lovelace" --yes
    """
    from freshness.people import delete_person, resolve_person

    with _session() as session:
        who = resolve_person(session, person)
        if not yes:
            raise UsageError(f"this deletes {who.name} (#{who.id}) and all their data; run again with --yes to confirm")
        counts = delete_person(session, who, get_context().blobs)
    typer.echo(f"deleted {who.name} (#{who.id}): {counts['headshots']} headshot(s), "
               f"{counts['checkins']} check-in(s), {counts['files']} stored file(s)")


# ---------------------------------------------------------------- headshots


@headshot_app.command("add")
@handle_errors
def headshot_add(
    person: str = typer.Argument(..., help="Person id or unique name."),
    image: Path = typer.Argument(..., help="The published headshot (JPEG, PNG, WebP, HEIC).", exists=True, dir_okay=False),
    platform: str = typer.Option(..., help="Where it is published: linkedin, resume, portfolio, website, github, x, company, other."),
    published: Optional[str] = typer.Option(None, help="Publication date YYYY-MM-DD (default today).", metavar="YYYY-MM-DD"),
    ai: bool = typer.Option(True, "--ai/--not-ai", help="Whether the headshot is AI-generated."),
    disclosed: bool = typer.Option(False, "--disclosed", help="The headshot is labelled as AI-generated where published."),
    as_json: bool = JsonOpt,
) -> None:
    """Register a published headshot.

    Example: freshness headshot add "Ada Lovelace" ada-ai.jpg --platform linkedin --published 2025-03-01 --ai
    """
    from freshness.checkins import add_headshot
    from freshness.people import resolve_person
    from freshness.reports import headshot_dict

    with _session() as session:
        who = resolve_person(session, person)
        published_on = _parse_date(published, "--published") if published else None
        result = add_headshot(
            session, get_context(), who, _read_image(image), platform=platform, now=utcnow(),
            published_on=published_on, ai_generated=ai, disclosed=disclosed,
        )
        h = result.headshot
        if as_json:
            _emit_json({**headshot_dict(h), "warnings": result.warnings, "backfilled_checkins": result.backfilled})
            return
        typer.echo(f"added headshot #{h.id} for {who.name}: {h.platform}, published {h.published_on}, "
                   f"{'AI-generated' if h.ai_generated else 'not AI-generated'}"
                   f"{', disclosed' if h.disclosed else ''}")
        for warning in result.warnings:
            typer.echo(f"  warning: {warning}")
        if result.backfilled:
            typer.echo(f"  compared with {result.backfilled} earlier check-in(s)")


@headshot_app.command("list")
@handle_errors
def headshot_list(
    person: str = typer.Argument(..., help="Person id or unique name."),
    as_json: bool = JsonOpt,
) -> None:
    """List a person's headshots, retired ones included.

    Example: freshness headshot list "Ada Lovelace"
    """
    from freshness.checkins import list_headshots
    from freshness.people import resolve_person
    from freshness.reports import headshot_dict

    with _session() as session:
        who = resolve_person(session, person)
        heads = list_headshots(session, who)
        if as_json:
            _emit_json([headshot_dict(h) for h in heads])
            return
        rows = [
            [h.id, h.platform, h.published_on, "yes" if h.ai_generated else "no", "yes" if h.disclosed else "no",
             h.retired_at.date() if h.retired_at else "active"]
            for h in heads
        ]
        typer.echo(_table(["id", "platform", "published", "ai", "disclosed", "status"], rows))


@headshot_app.command("retire")
@handle_errors
def headshot_retire(headshot_id: int = typer.Argument(..., metavar="ID", help="Headshot id.")) -> None:
    """Retire a headshot (it raises no reminders any more; its history is kept).

    Example: freshness headshot retire 3
    """
    from freshness.checkins import retire_headshot

    with _session() as session:
        h = retire_headshot(session, headshot_id, utcnow())
        typer.echo(f"retired headshot #{h.id} ({h.platform})")


# ---------------------------------------------------------------- check-ins and reports


@app.command()
@handle_errors
def checkin(
    person: str = typer.Argument(..., help="Person id or unique name."),
    images: list[Path] = typer.Argument(..., help="One or more selfies.", metavar="IMAGE...", exists=True, dir_okay=False),
    taken: Optional[str] = typer.Option(None, help="When the selfies were taken, in the person's time zone (default: EXIF date, else now).", metavar="YYYY-MM-DD[THH:MM]"),
    as_json: bool = JsonOpt,
) -> None:
    """Check in with one or more selfies; each is accepted (distances, quality) or refused (reason).

    Exit status 0 when all were accepted, 3 when any was refused.

    Example: freshness checkin "Ada Lovelace" selfie1.jpg selfie2.jpg --taken 2025-06-01
    """
    from freshness.checkins import add_checkin, parse_taken
    from freshness.people import resolve_person

    ctx = get_context()
    results: list[dict[str, Any]] = []
    with _session() as session:
        who = resolve_person(session, person)
        taken_at = parse_taken(taken, who) if taken else None
        for path in images:
            entry: dict[str, Any] = {"file": str(path)}
            try:
                res = add_checkin(session, ctx, who, _read_image(path), now=utcnow(), taken_at=taken_at)
            except ImageRejected as exc:
                entry.update(accepted=False, error=exc.as_dict())
            else:
                c = res.checkin
                entry.update(
                    accepted=True,
                    checkin_id=c.id,
                    taken_at=c.taken_at.isoformat(),
                    taken_at_source=c.taken_at_source,
                    distances=[{"headshot_id": h.id, "platform": h.platform, "distance": d} for h, d in res.distances],
                    quality=c.quality,
                    note=c.note,
                )
            results.append(entry)
    refused = sum(1 for r in results if not r["accepted"])
    if as_json:
        _emit_json({"person": {"id": who.id, "name": who.name}, "accepted": len(results) - refused,
                    "refused": refused, "results": results})
    else:
        for r in results:
            if r["accepted"]:
                typer.echo(f"{r['file']}: accepted as check-in #{r['checkin_id']} "
                           f"(taken {r['taken_at']}, from {r['taken_at_source']})")
                for d in r["distances"]:
                    typer.echo(f"  headshot #{d['headshot_id']} ({d['platform']}): distance {d['distance']:.3f}")
                if not r["distances"]:
                    typer.echo("  no active headshot yet: kept for later comparison")
                if r["note"]:
                    typer.echo(f"  note: {r['note']}")
            else:
                typer.echo(f"{r['file']}: refused: {r['error']['message']}")
    if refused:
        raise typer.Exit(3)


@app.command()
@handle_errors
def status(
    person: str = typer.Argument(..., help="Person id or unique name."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this date (default now).", metavar="DATE"),
    as_json: bool = JsonOpt,
) -> None:
    """Show each active headshot's age and its latest and median distance to the selfies.

    Example: freshness status "Ada Lovelace" --as-of 2026-01-01
    """
    from freshness.people import resolve_person
    from freshness.reports import status as build_status

    with _session() as session:
        who = resolve_person(session, person)
        data = build_status(session, who, _as_of(as_of, who.timezone))
    if as_json:
        _emit_json(data)
        return
    typer.echo(f"{who.name} (#{who.id}) as of {data['as_of']}: {data['checkins']} check-in(s), "
               f"last {data['last_checkin_at'] or 'never'}")
    rows = [[h["id"], h["platform"], h["published_on"], f"{h['age_days']} d", h["checkins"],
             _fmt_d(h["latest_distance"]), _fmt_d(h["median_distance"])] for h in data["headshots"]]
    typer.echo(_table(["headshot", "platform", "published", "age", "check-ins", "latest", "median"], rows))


@app.command()
@handle_errors
def history(
    person: str = typer.Argument(..., help="Person id or unique name."),
    headshot: Optional[int] = typer.Option(None, "--headshot", help="Only this headshot.", metavar="ID"),
    as_json: bool = JsonOpt,
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
) -> None:
    """One row per check-in with its distance to each headshot.

    Example: freshness history "Ada Lovelace" --csv > drift.csv
    """
    from freshness.checkins import get_headshot
    from freshness.people import resolve_person
    from freshness.reports import history as build_history

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    with _session() as session:
        who = resolve_person(session, person)
        if headshot is not None:
            get_headshot(session, who, headshot)
        data = build_history(session, who, headshot)
    heads = data["headshots"]
    if as_json:
        _emit_json(data)
        return
    headers = ["checkin_id", "taken_at"] + [f"headshot_{h['id']}_{h['platform']}" for h in heads]
    rows = [[r["checkin_id"], r["taken_at"]] + [d["distance"] for d in r["distances"]] for r in data["rows"]]
    if as_csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([[("" if v is None else v) for v in row] for row in rows])
        sys.stdout.write(buf.getvalue())
        return
    typer.echo(_table(headers, [[r[0], r[1]] + [_fmt_d(v) for v in r[2:]] for r in rows]))


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()
