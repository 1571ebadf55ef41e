"""The command-line interface: a thin layer over the service functions.

Exit codes: 0 success; 1 unexpected failure; 2 usage error (bad option, unknown
person, unreadable file); 3 an image was refused (check-in: any image).
"""

from __future__ import annotations

import functools
import json
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional
from zoneinfo import ZoneInfo

import typer
import typer.core

from freshness import __version__
from freshness.errors import FreshnessError, UsageError

# Only what every command needs is imported here: a command imports the database
# layer, the face pipeline or the plotting library when it runs, so `--help` and
# the quick commands start at once (see benchmarks/cli_start.py).
if TYPE_CHECKING:
    from sqlmodel import Session

    from freshness.config import Settings
    from freshness.context import Context


def utcnow() -> datetime:
    """The real clock, read in one place (``freshness.clock``; tests replace it there)."""
    from freshness import clock

    return clock.utcnow()


def get_settings() -> Settings:
    from freshness.config import get_settings as settings

    return settings()


def get_context() -> Context:
    from freshness.context import get_context as context

    return context()

app = typer.Typer(
    name="freshness",
    help="Keep a published (AI) headshot honest: check in with real selfies and watch the likeness over time.",
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
person_app = typer.Typer(help="Register, list, change and delete people.", no_args_is_help=True)
headshot_app = typer.Typer(
    help="Register, list, change, rank and retire published headshots.", no_args_is_help=True
)
app.add_typer(person_app, name="person")
app.add_typer(headshot_app, name="headshot")

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")
PERSON_HELP = "The person's id or their (unique, case-insensitive) name."


def _usage_name(self: typer.core.TyperArgument) -> str:
    """Arguments as a person reads them: PERSON, IMAGE..., [PERSON] when optional."""
    name = self.metavar or (self.name or "").upper()
    if self.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if self.required else f"[{name}]"


# typer 0.29 shows required arguments as "{person}" with their Python type
# ("<list[Path]>"); the metavar alone says it better.
typer.core.TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
typer.core.TyperArgument._rich_display_name = _usage_name  # type: ignore[method-assign]
typer.core.TyperArgument.display_type_rich = lambda self, ctx: ""  # type: ignore[method-assign,assignment]


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
        except Exception as exc:  # a full disk, a read-only data directory, a lock held too long
            from freshness.failures import explain

            failure = explain(exc)
            if failure is None:
                raise
            _error(failure.message)  # the driver's message only: never the SQL or its parameters
            raise typer.Exit(failure.exit_code) from None

    return wrapper


def _session() -> Session:
    """A session on a database that is at the current migration head."""
    from sqlmodel import Session

    from freshness.db import check_database, get_engine
    from freshness.migrate import current_revision, head_revision

    settings = get_settings()
    check_database(settings)  # never lets SQLite create an empty database before `init`
    try:
        revision = current_revision(settings)
    except Exception as exc:
        from freshness.failures import StorageError, explain

        failure = explain(exc)  # a machine's failure (unreachable server, disk, permissions): exit 2, not 1
        raise (StorageError if failure else FreshnessError)(f"cannot open the database {_shown_db(settings)}: "
                             f"{failure.message if failure else exc}", code="storage") from None
    if revision is None:
        from freshness.db import lost_database, stored_files_present

        if stored_files_present(settings):
            raise UsageError(lost_database(settings, "has no freshness tables"))
        raise UsageError(f"the database {_shown_db(settings)} is not initialised: run `freshness init` first")
    if revision != head_revision(settings):
        raise UsageError(f"the database is at revision {revision}, older than this version: run `freshness init`")
    return Session(get_engine(settings), expire_on_commit=False)


def _shown_db(settings: Settings) -> str:
    from freshness.db import shown_url

    return shown_url(settings.db_url)


def _read_image(path: Path) -> bytes:
    """A regular file's bytes, at most the upload limit + 1 read (``/dev/zero``, a FIFO or a
    directory is refused at once, exit 2; a file past the limit is refused as too_large)."""
    from freshness.files import read_image_file

    return read_image_file(path, get_settings().max_upload_bytes)


def _interactive() -> bool:
    """A person at a terminal can answer a question (stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None


def _as_of(value: Optional[str], tz: str, now: Optional[datetime] = None) -> datetime:
    """``--as-of``: a date (the end of that day in the person's time zone; today means
    now) or a full ISO time; default now (``checkins.parse_as_of``)."""
    from freshness.checkins import parse_as_of

    return parse_as_of(value, tz, now or utcnow())


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


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        typer.echo(f"freshness {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


@app.command()
@handle_errors
def init(
    force: bool = typer.Option(False, "--force", help="Start an empty database even though the data directory "
                                                       "holds stored photos (their database was lost)."),
) -> None:
    """Create or upgrade the database (idempotent).

    The data directory is made private (0700) and the database file 0600. A data directory
    that holds stored photos but no database is not silently given an empty one: restore the
    database, or pass --force.

    \b
    Example:
      freshness init
    """
    from freshness.db import database_problem, lost_database, stored_files_present
    from freshness.migrate import current_revision, upgrade

    settings = get_settings()
    kind, message = database_problem(settings) or (None, "")
    if kind == "not_a_file":
        raise UsageError(message)
    if not force and kind is None and stored_files_present(settings):
        try:
            if current_revision(settings) is None:  # a database without freshness's tables
                kind, message = "lost", lost_database(settings, "has no freshness tables")
        except Exception:
            pass  # not readable: the upgrade below says why
    if kind == "lost" and not force:
        raise UsageError(message + "; to start an empty database beside the stored photos anyway, run "
                                   "`freshness init --force` (`freshness doctor --fix` then removes them)")
    try:
        before, after = upgrade(settings)
    except Exception as exc:
        from freshness.failures import StorageError, explain

        failure = explain(exc)  # a machine's failure (unreachable server, disk, permissions): exit 2, not 1
        raise (StorageError if failure else FreshnessError)(f"cannot migrate the database {_shown_db(settings)}: "
                             f"{failure.message if failure else exc}", code="storage") from None
    if before == after:
        typer.echo(f"database {_shown_db(settings)} is up to date (revision {after})")
    else:
        typer.echo(f"database {_shown_db(settings)} upgraded from {before or 'empty'} to revision {after}")


@app.command()
@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on.", metavar="HOST"),
    port: int = typer.Option(8000, help="TCP port (0: any free port).", metavar="PORT", min=0, max=65535),
    with_scheduler: bool = typer.Option(
        True, "--scheduler/--no-scheduler",
        help="Also run the scheduler (prompts, sweep, deliveries, inbox) in this process; "
             "--no-scheduler when `freshness scheduler` runs elsewhere."),
) -> None:
    """Start the HTTP service (health check and API docs at /docs) and the scheduler.

    \b
    Example:
      freshness serve --port 8000
      freshness serve --no-scheduler
    """
    import uvicorn

    from freshness.web import create_app

    _session().close()  # refuse to start on an uninitialised database
    sock = _listen(host, port)  # a port in use or not ours to take: a clear error (exit 2) now
    if with_scheduler:
        from freshness.scheduler import configure_logging

        configure_logging()
    # the app starts the scheduler when it starts serving and stops it (waiting for a running
    # job) when it shuts down on SIGTERM or Ctrl-C
    server = uvicorn.Server(uvicorn.Config(create_app(scheduler=with_scheduler), host=host, port=port,
                                           log_level="info"))
    server.run(sockets=[sock])
    if not server.started:  # the app's start-up failed (its error is in the log above)
        raise FreshnessError("the server stopped before it started serving: see the error above")


def _listen(host: str, port: int):
    """A socket bound to host:port (as uvicorn binds it), or a UsageError saying why not."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"cannot listen on {host}: not an address or a known host name ({exc})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        why = {errno.EADDRINUSE: "the port is already in use (another freshness serve?); choose another with --port",
               errno.EACCES: "permission denied (ports below 1024 need privileges); choose a port from 1024",
               errno.EADDRNOTAVAIL: "this machine has no such address; use 127.0.0.1 or 0.0.0.0",
               }.get(exc.errno, exc.strerror or str(exc))
        raise UsageError(f"cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


@app.command("scheduler")
@handle_errors
def scheduler_command() -> None:
    """Run only the scheduler, in the foreground, until SIGTERM or Ctrl-C.

    For deployments that run the web app without it (`freshness serve --no-scheduler`).
    Jobs: sweep (hourly and at start-up), check-in prompts (15 min), deliveries (1 min),
    inbox import (5 min), maintenance (daily); the intervals are FRESHNESS_*_INTERVAL_SECONDS.

    \b
    Example:
      freshness scheduler
    """
    from freshness import scheduler

    _session().close()  # refuse to start on an uninitialised database
    scheduler.configure_logging()
    scheduler.run_forever(get_settings())


@app.command("run")
@handle_errors
def run_command(
    job: str = typer.Argument(..., metavar="JOB", help="sweep, prompts, dispatch, inbox or maintenance."),
) -> None:
    """Run one scheduled job now and print its summary (for cron, or to see what it does).

    \b
    Jobs:
      sweep        evaluate everyone's reminders and record the changes
      prompts      send the check-in prompts that are due
      dispatch     deliver the notifications that are due
      inbox        check in the photos in the inbox folders
      maintenance  remove orphaned stored files

    \b
    Example:
      freshness run sweep
    """
    from freshness import scheduler

    if job not in scheduler.JOBS:
        raise UsageError(f"unknown job {job!r}: jobs are {', '.join(scheduler.JOBS)}")
    _session().close()
    options = {"progress": _progress_printer("evaluated", "people")} if job == "sweep" and sys.stderr.isatty() else {}
    typer.echo(scheduler.run_job(job, get_settings(), **options))
    if options:
        typer.echo("", err=True)


def _progress_printer(verb: str, noun: str) -> Callable[[int, int], None]:
    """A one-line progress report on a terminal: "evaluated 12000 / 100000 people (2345/s)"."""
    import time

    started = time.perf_counter()

    def show(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        sys.stderr.write(f"\r{verb} {done} / {total} {noun} ({rate:.0f}/s)")
        sys.stderr.flush()

    return show


@app.command()
@handle_errors
def doctor(
    fix: bool = typer.Option(False, "--fix", help="Repair what can be repaired (see below)."),
    quick: bool = typer.Option(False, "--quick", help="Do not read every stored file to compare it with its sha256."),
    as_json: bool = JsonOpt,
) -> None:
    """Check the database and the stored files against each other; with --fix, repair.

    Checks: the database is there and current; PRAGMA integrity_check and foreign keys;
    rows naming files that are not stored; stored files no row names (left by a process
    killed mid-write); temporary files; damaged files (sha256); permissions (data
    directory 0700, files 0600). --fix removes unreferenced and temporary files (never one
    a check-in being committed relies on), makes missing thumbnails again from their
    originals and sets the permissions. Exit status 0 when healthy (or everything found was
    fixed), 1 when problems remain.

    \b
    Examples:
      freshness doctor
      freshness doctor --fix
    """
    from freshness import doctor as checks

    report = checks.run(get_settings(), fix=fix, quick=quick)
    if as_json:
        _emit_json(report.as_dict())
    else:
        for f in report.findings:
            label = "fixed" if f.fixed else "ok" if f.ok else "problem"
            typer.echo(f"{label:<8} {f.check}: {f.message}")
        problems = report.problems
        if not problems:
            typer.echo("healthy" if not any(f.fixed for f in report.findings) else "healthy (after the fixes above)")
        else:
            fixable = [f for f in problems if f.fixable]
            typer.echo(f"{len(problems)} problem(s)" + (": `freshness doctor --fix` repairs "
                                                         f"{len(fixable)} of them" if fixable and not fix else ""))
    if report.problems:
        raise typer.Exit(1)


# ---------------------------------------------------------------- people


@person_app.command("add")
@handle_errors
def person_add(
    name: str = typer.Argument(..., help="The person's name (must not be only digits).", metavar="NAME"),
    consent: bool = typer.Option(False, "--consent", help="Agree to biometric processing (required)."),
    email: Optional[str] = typer.Option(None, help="E-mail address for reminders.", metavar="EMAIL"),
    sector: Optional[str] = typer.Option(None, help="Sector of work: healthcare, legal, government, finance, education, technology, media, other.", metavar="SECTOR"),
    tz: str = typer.Option("UTC", "--timezone", help="IANA time zone, e.g. Europe/Berlin.", metavar="TZ"),
    checkin_every: Optional[int] = typer.Option(None, "--checkin-every", help="Days between check-ins (default 30).", metavar="DAYS"),
    prompt_hour: Optional[int] = typer.Option(None, "--prompt-hour", help="Local hour (0-23) at which check-in prompts go out (default 9).", metavar="HH"),
    as_json: bool = JsonOpt,
) -> None:
    """Register a person; prints their id and an API token (shown once).

    With --email, that address is their first notification channel.

    \b
    Example:
      freshness person add "Ada Lovelace" --consent --email ada@example.org --sector finance
    """
    from freshness.people import add_person

    cadence = checkin_every if checkin_every is not None else get_settings().default_checkin_every_days
    hour = prompt_hour if prompt_hour is not None else get_settings().default_prompt_hour
    with _session() as session:
        person, token = add_person(
            session, name, consent=consent, now=utcnow(), email=email, sector=sector, timezone=tz,
            checkin_every_days=cadence, prompt_hour=hour,
        )
        from freshness.people import person_dict

        if as_json:
            _emit_json({**person_dict(person), "token": token})
        else:
            typer.echo(f"added person #{person.id}: {person.name}")
            typer.echo(f"API token (shown once, store it now): {token}")


@person_app.command("list")
@handle_errors
def person_list(
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="At most this many (a page).", metavar="N"),
    after: int = typer.Option(0, "--after", min=0, help="Only people with a larger id: the next page.", metavar="ID"),
    search: Optional[str] = typer.Option(None, "--search", help="Only names containing this (case ignored).", metavar="TEXT"),
    as_json: bool = JsonOpt,
) -> None:
    """List people by id, a page at a time (the next page's command is printed on stderr).

    \b
    Examples:
      freshness person list --json
      freshness person list --search lovelace --limit 20
    """
    from freshness.people import list_people, person_dict

    with _session() as session:
        people = list_people(session, limit=limit + 1, after=after, search=search)
    more = len(people) > limit
    people = people[:limit]
    if as_json:
        _emit_json([person_dict(p) for p in people])
    else:
        rows = [[p.id, p.name, p.email, p.sector, p.timezone, p.checkin_every_days] for p in people]
        typer.echo(_table(["id", "name", "email", "sector", "timezone", "every (days)"], rows))
    if more:
        search_part = f" --search {json.dumps(search)}" if search else ""
        typer.echo(f"more: freshness person list --limit {limit} --after {people[-1].id}{search_part}", err=True)


@person_app.command("set")
@handle_errors
def person_set(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    email: Optional[str] = typer.Option(None, help="New e-mail address.", metavar="EMAIL"),
    sector: Optional[str] = typer.Option(None, help="New sector.", metavar="SECTOR"),
    tz: Optional[str] = typer.Option(None, "--timezone", help="New IANA time zone.", metavar="TZ"),
    checkin_every: Optional[int] = typer.Option(None, "--checkin-every", help="New cadence in days.", metavar="DAYS"),
    prompt_hour: Optional[int] = typer.Option(None, "--prompt-hour", help="Local hour (0-23) for check-in prompts.", metavar="HH"),
    policy: list[str] = typer.Option([], "--policy", help="Override one rule setting for this person, NAME=VALUE (repeatable; see docs/rules.md).", metavar="NAME=VALUE"),
    reset_policy: bool = typer.Option(False, "--reset-policy", help="Drop this person's rule overrides first."),
    notify_resolved: Optional[bool] = typer.Option(None, "--notify-resolved/--no-notify-resolved", help="Also send a message when a reminder resolves (default: only when one opens or re-opens)."),
    as_json: bool = JsonOpt,
) -> None:
    """Change a person's details or their own reminder-rule settings.

    \b
    Example:
      freshness person set "Ada Lovelace" --checkin-every 14 --policy refresh_due_months=18
    """
    from freshness.people import resolve_person, update_person
    from freshness.people import person_dict

    with _session() as session:
        who = resolve_person(session, person)
        if notify_resolved is not None:  # saved with the other changes, or not at all
            who.notify_resolved = notify_resolved
        who = update_person(session, who, email=email, sector=sector, timezone=tz, checkin_every_days=checkin_every,
                            prompt_hour=prompt_hour, policy=policy, reset_policy=reset_policy, now=utcnow())
        if as_json:
            _emit_json({**person_dict(who), "notify_resolved": who.notify_resolved})
        else:
            overrides = ", ".join(f"{k}={v}" for k, v in (who.policy_overrides or {}).items()) or "none"
            from freshness.words import local_time

            typer.echo(f"updated {who.name} (#{who.id}): every {who.checkin_every_days} days, "
                       f"time zone {who.timezone}, sector {who.sector or '-'}; rule overrides: {overrides}")
            typer.echo(f"next check-in prompt: {local_time(who.next_prompt_at, who.timezone)}")
            if notify_resolved is not None:
                typer.echo(f"messages when a reminder resolves: {'on' if who.notify_resolved else 'off'}")


@person_app.command("delete")
@handle_errors
def person_delete(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    yes: bool = typer.Option(False, "--yes", help="Confirm: delete without asking."),
) -> None:
    """Forget a person: delete every row and file of theirs (embeddings, thumbnails, headshot files,
    check-ins, reminders, messages, channels, tokens, inbox photos), then scrub the database
    files. Also `freshness person forget`; withdrawing consent is this. Recorded in the audit
    log (ids and counts only).

    \b
    Example:
      freshness person delete "Ada Lovelace" --yes
    """
    from freshness.people import resolve_person
    from freshness.privacy import forget

    with _session() as session:
        who = resolve_person(session, person)
        if not yes:
            what = f"{who.name} (#{who.id}) and all their data (headshots, check-ins, reminders)"
            if not _interactive():
                raise UsageError(f"this deletes {what}; run again with --yes to confirm")
            if not typer.confirm(f"Delete {what}? This cannot be undone.", default=False):
                typer.echo("nothing deleted")
                raise typer.Exit(1)
        name, pid = who.name, who.id
        done = forget(session, who, get_settings(), get_context().blobs, actor="cli", now=utcnow())
    counts = done.counts()
    typer.echo(f"deleted {name} (#{pid}): {counts['headshots']} headshot(s), "
               f"{counts['checkins']} check-in(s), {counts['files']} stored file(s)")
    if done.scrub.get("database") == "sqlite" and not done.scrub.get("complete"):
        typer.echo("warning: another process kept the database busy, so its write-ahead log still holds deleted "
                   "rows until the next checkpoint (the daily maintenance job makes one)", err=True)
    elif done.scrub.get("database") not in (None, "sqlite"):
        typer.echo(f"note: {done.scrub['database']} keeps deleted rows until VACUUM, and in its WAL and backups "
                   "(README, \"Privacy\")", err=True)


person_app.command("forget", help="Forget a person (the same as `freshness person delete`).\n\n"
                   "\b\nExample:\n  freshness person forget \"Ada Lovelace\" --yes")(person_delete)


@person_app.command("link")
@handle_errors
def person_link(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    as_json: bool = JsonOpt,
) -> None:
    """Print a one-time sign-in link to the web app (valid FRESHNESS_SIGNIN_LINK_MINUTES, default 60).

    The link opens one browser session, once; only its sha256 is stored. Give it to the
    person (it is as good as their password until it is used or expires).

    \b
    Example:
      freshness person link "Ada Lovelace"
    """
    from freshness.links import signin_page
    from freshness.people import create_signin_link, resolve_person
    from freshness.words import signin_link_text

    settings = get_settings()
    now = utcnow()
    valid_for = timedelta(minutes=settings.signin_link_minutes)
    with _session() as session:
        who = resolve_person(session, person)
        token = create_signin_link(session, who, now, valid_for)
    url = signin_page(settings, token)
    if as_json:
        _emit_json({"person": {"id": who.id, "name": who.name}, "url": url,
                    "expires_at": (now + valid_for).isoformat()})
        return
    typer.echo(signin_link_text(who.name, who.id, now + valid_for, who.timezone, settings.signin_link_minutes))
    typer.echo(url)


# ---------------------------------------------------------------- headshots


@headshot_app.command("add")
@handle_errors
def headshot_add(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    image: Path = typer.Argument(..., help="The published headshot (JPEG, PNG, WebP, HEIC).", metavar="IMAGE", exists=True, dir_okay=False),
    platform: str = typer.Option(..., help="Where it is published: linkedin, resume, portfolio, website, github, x, company, other.", metavar="PLATFORM"),
    published: Optional[str] = typer.Option(None, help="Publication date YYYY-MM-DD (default today).", metavar="YYYY-MM-DD"),
    ai: Optional[bool] = typer.Option(None, "--ai/--not-ai", help="Whether the headshot is AI-generated (default: AI-generated; a file labelled as AI-generated is recorded so unless --not-ai)."),
    disclosed: bool = typer.Option(False, "--disclosed", help="The headshot is labelled as AI-generated where published."),
    published_with_label: bool = typer.Option(False, "--published-with-label", help="This very file is published with its embedded AI label (counts as disclosed while the label is intact; platforms often strip metadata)."),
    as_json: bool = JsonOpt,
) -> None:
    """Register a published headshot; what the file says of its origin (C2PA, IPTC) is read and shown.

    \b
    Example:
      freshness headshot add "Ada Lovelace" ada-ai.jpg --platform linkedin --published 2025-03-01 --ai
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
            published_with_label=published_with_label,
        )
        h = result.headshot
        if as_json:
            _emit_json({**headshot_dict(h), "warnings": result.warnings, "backfilled_checkins": result.backfilled})
            return
        shown = headshot_dict(h)
        typer.echo(f"added headshot #{h.id} for {who.name}: {h.platform}, published {h.published_on}, "
                   f"{'AI-generated' if h.ai_generated else 'not AI-generated'}"
                   f"{', disclosed' if h.disclosed else ''}"
                   f"{', disclosed by its embedded label' if shown['disclosed_by'] == 'embedded_label' else ''}")
        typer.echo(f"  {shown['provenance_text']}")
        for warning in result.warnings:
            typer.echo(f"  warning: {warning}")
        if result.backfilled:
            typer.echo(f"  compared with {result.backfilled} earlier check-in(s)")


@headshot_app.command("list")
@handle_errors
def headshot_list(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    as_json: bool = JsonOpt,
) -> None:
    """List a person's headshots, retired ones included.

    \b
    Example:
      freshness headshot list "Ada Lovelace"
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
        shown = [headshot_dict(h) for h in heads]
        rows = [
            [h.id, h.platform, h.published_on, "yes" if h.ai_generated else "no",
             {"person": "yes", "embedded_label": "by label"}.get(d["disclosed_by"], "no"),
             h.retired_at.date() if h.retired_at else "active", _provenance_cell(d["provenance"])]
            for h, d in zip(heads, shown)
        ]
        typer.echo(_table(["id", "platform", "published", "ai", "disclosed", "status", "provenance"], rows))
        for d in shown:
            if d["provenance"]["status"] in ("found", "unreadable"):
                typer.echo(f"#{d['id']} {d['provenance_text']}")


def _provenance_cell(prov: dict) -> str:
    """The provenance column of `headshot list`: none, not read, unreadable, or source: type."""
    if prov["status"] != "found":
        return prov["status"].replace("_", " ")
    cell = f"{prov['source']}: {prov['digital_source_type'] or 'no type'}"
    if prov["validation"] == "invalid":
        cell += " (invalid)"
    return cell


@headshot_app.command("set")
@handle_errors
def headshot_set(
    headshot_id: int = typer.Argument(..., metavar="ID", help="Headshot id (see `freshness headshot list`)."),
    disclosed: Optional[bool] = typer.Option(None, "--disclosed/--not-disclosed", help="It is (not) labelled as AI-generated where it is published."),
    published: Optional[str] = typer.Option(None, help="Publication date YYYY-MM-DD.", metavar="YYYY-MM-DD"),
    platform: Optional[str] = typer.Option(None, help="Where it is published: linkedin, resume, portfolio, website, github, x, company, other.", metavar="PLATFORM"),
    ai: Optional[bool] = typer.Option(None, "--ai/--not-ai", help="Whether it is AI-generated."),
    published_with_label: Optional[bool] = typer.Option(None, "--published-with-label/--not-published-with-label", help="This very file is (not) published with its embedded AI label."),
    as_json: bool = JsonOpt,
) -> None:
    """Change what is known about a headshot: disclosure, publication date, platform, AI or not.

    \b
    Examples:
      freshness headshot set 1 --disclosed
      freshness headshot set 1 --published 2025-03-01 --platform linkedin
    """
    from freshness.checkins import update_headshot
    from freshness.reports import headshot_dict

    published_on = _parse_date(published, "--published") if published else None
    with _session() as session:
        h, changed = update_headshot(session, headshot_id, now=utcnow(), platform=platform, published_on=published_on,
                                     ai_generated=ai, disclosed=disclosed, published_with_label=published_with_label)
    if published_with_label and not (h.provenance or {}).get("label_intact"):
        from freshness.words import provenance_warning

        typer.echo(f"warning: {provenance_warning('label_missing', h.provenance or {})}", err=True)
    if as_json:
        _emit_json({**headshot_dict(h), "changed": changed})
        return
    if not changed:
        typer.echo(f"headshot #{h.id} ({h.platform}) already had these values: nothing changed")
        return
    typer.echo(f"updated headshot #{h.id}: {h.platform}, published {h.published_on}, "
               f"{'AI-generated' if h.ai_generated else 'not AI-generated'}, "
               f"{'disclosed' if h.disclosed else 'not disclosed'} (changed: {', '.join(changed)})")


@headshot_app.command("export")
@handle_errors
def headshot_export(
    headshot_id: int = typer.Argument(..., metavar="ID", help="Headshot id (see `freshness headshot list`)."),
    file: Path = typer.Argument(..., metavar="FILE", help="Where to write it: FILE.jpg or FILE.png (the format follows the name).", dir_okay=False),
    label: bool = typer.Option(False, "--label", help="Also draw a visible \"AI-generated\" caption on it, for platforms that strip metadata."),
    as_json: bool = JsonOpt,
) -> None:
    """Write a stored AI-generated headshot as a file to publish: re-encoded from the original,
    with the IPTC digital source type in its XMP and no EXIF or GPS of the original.

    \b
    Examples:
      freshness headshot export 1 ada-labelled.jpg
      freshness headshot export 1 ada-captioned.png --label
    """
    from freshness.errors import NotFound
    from freshness.models import Headshot
    from freshness.provenance import export_code, export_format, export_headshot
    from freshness.words import export_written

    fmt = export_format(file.name)
    with _session() as session:
        h = session.get(Headshot, headshot_id)
        if h is None:
            raise NotFound(f"no headshot with id {headshot_id}")
        data = export_headshot(get_context(), h, fmt=fmt, caption=label)
        code = export_code(h)
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {exc.strerror or exc}") from None
    if as_json:
        _emit_json({"headshot_id": headshot_id, "file": str(file), "format": fmt.lower(), "bytes": len(data),
                    "digital_source_type": code, "caption": label})
        return
    typer.echo(export_written(headshot_id, str(file), code, label))


@headshot_app.command("retire")
@handle_errors
def headshot_retire(headshot_id: int = typer.Argument(..., metavar="ID", help="Headshot id.")) -> None:
    """Retire a headshot (it raises no reminders any more; its history is kept).

    \b
    Example:
      freshness headshot retire 1
    """
    from freshness.checkins import retire_headshot

    with _session() as session:
        h = retire_headshot(session, headshot_id, utcnow())
        typer.echo(f"retired headshot #{h.id} ({h.platform})")


@headshot_app.command("rank")
@handle_errors
def headshot_rank(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    candidates: list[Path] = typer.Argument(..., help="Candidate headshots (not stored).", metavar="CANDIDATE...", exists=True, dir_okay=False),
    selfies: int = typer.Option(5, "--selfies", help="Compare with this many most recent selfies (at least 3).", metavar="N"),
    as_json: bool = JsonOpt,
) -> None:
    """Rank candidate headshots by how much they look like you now, best first.

    Each candidate's distance to your most recent check-in selfies (median) decides;
    candidates at or above the divergence threshold are flagged. Nothing is stored.

    \b
    Example:
      freshness headshot rank "Ada Lovelace" option1.png option2.png option3.png
    """
    from freshness.checkins import rank_report
    from freshness.people import resolve_person
    from freshness import words

    now = utcnow()
    with _session() as session:
        who = resolve_person(session, person)
        data = rank_report(session, get_context(), who, [(str(p), _read_image(p)) for p in candidates],
                           now=now, recent=selfies)
    items, compare, used = data["candidates"], data["current"], data["selfies"]
    stale = data["selfies_warning"]
    refused = sum(1 for i in items if i.get("error"))
    if as_json:
        _emit_json(data)
    else:
        typer.echo(f"compared with the {len(used)} most recent selfie(s) of {who.name} "
                   f"(taken {words.local_date(used[-1]['taken_at'], who.timezone)} to "
                   f"{words.local_date(used[0]['taken_at'], who.timezone)})")
        if stale:
            typer.echo(f"warning: {stale}")
        rows = [[i["rank"], i["file"], words.distance_text(i["median_distance"], i["band"]),
                 words.RANK_FLAG if i["warning"] else ""]
                for i in items if not i.get("error")]
        rows += [["now", f"current headshot #{c['headshot_id']} ({c['platform']})",
                  words.distance_text(c["median_distance"], c["band"]), ""] for c in compare]
        typer.echo(_table(["rank", "candidate", "median distance", "warning"], rows))
        for i in items:
            if i.get("warning"):
                typer.echo(f"warning: {i['file']}: {i['warning']}")
            if i.get("error"):
                typer.echo(f"refused: {i['file']}: {i['error']['message']}")
    if refused:
        raise typer.Exit(3)


# ---------------------------------------------------------------- check-ins and reports


def _checkin_files(paths: list[Path]) -> list[Path]:
    """The files a check-in takes: each file given, and for each folder the files directly
    inside it sorted by name (hidden files and subfolders skipped; a file that is no image is
    taken, and refused with the reason)."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        try:
            inside = sorted((e for e in path.iterdir() if not e.name.startswith(".") and e.is_file()),
                            key=lambda e: e.name)
        except OSError as exc:
            raise UsageError(f"cannot read the folder {path}: {exc.strerror or exc}") from None
        if not inside:
            raise UsageError(f"the folder {path} has no files to check in")
        files.extend(inside)
    return files


class _CheckinProgress:
    """Check-in progress on stderr: a bar on a terminal (rich, which Typer brings), else one
    plain line per selfie ("3/10 done"). Called with (done, total) after each selfie."""

    def __init__(self, total: int) -> None:
        self._bar: Any = None
        if sys.stderr.isatty():
            try:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            except ImportError:  # pragma: no cover - Typer depends on rich
                pass
            else:
                self._bar = Progress(TextColumn("checking in"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), console=Console(stderr=True), transient=True)
                self._task = self._bar.add_task("checkin", total=total)
                self._bar.start()

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done)
        else:
            sys.stderr.write(f"{done}/{total} done\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@app.command()
@handle_errors
def checkin(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    images: list[Path] = typer.Argument(..., help="One or more selfies, or folders of them (the files directly inside, by name).", metavar="IMAGE_OR_FOLDER...", exists=True),
    taken: Optional[str] = typer.Option(None, help="When the selfies were taken, in the person's time zone (default: EXIF date, else now).", metavar="YYYY-MM-DD[THH:MM]"),
    confirm_identity: bool = typer.Option(False, "--confirm-identity", help="It is me: accept selfies that do not look like my earlier ones (new glasses, a beard…) instead of refusing them as not_you."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes analysing the selfies (default: one per CPU, at most one per selfie; 1: no extra process).", metavar="N"),
    as_json: bool = JsonOpt,
) -> None:
    """Check in with one or more selfies; each is accepted (distances, quality) or refused (reason).

    A folder stands for the files directly inside it, by name (hidden files and subfolders
    are skipped; a file that is no image is refused). Several selfies are analysed in
    parallel (--workers) and stored one after the other, in order. A selfie that does not
    look like the person's own recent selfies is refused (not_you) unless
    --confirm-identity. Exit status 0 when all were accepted, 3 when any was refused.

    \b
    Example:
      freshness checkin "Ada Lovelace" selfie1.jpg selfie2.jpg --taken 2025-06-01
      freshness checkin "Ada Lovelace" selfies/ --workers 2
    """
    import contextlib
    import os

    from freshness.files import open_regular
    from freshness.parallel import worker_count

    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1 (1 analyses the selfies in this process), not {workers}")
    files = _checkin_files(images)
    for path in files:  # a path that is no readable image file stops the command before any is stored
        os.close(open_regular(path))
    with contextlib.ExitStack() as stack:
        count = worker_count(workers, len(files))
        pool = None
        if count > 1:  # started first: the workers load the face models while this process opens the database
            from freshness.parallel import SelfiePool

            ctx = get_context()
            pool = stack.enter_context(SelfiePool(count, ctx.decode_limits, ctx.quality_limits))
        from freshness.checkins import check_in, parse_taken
        from freshness.people import resolve_person

        with _session() as session:
            who = resolve_person(session, person)
            taken_at = parse_taken(taken, who) if taken else None
            progress = None if as_json or len(files) < 2 else _CheckinProgress(len(files))
            try:
                data = check_in(session, get_context(), who,
                                [(str(p), functools.partial(_read_image, p)) for p in files],
                                clock=utcnow, taken_at=taken_at, confirm_identity=confirm_identity,
                                workers=count, progress=progress, pool=pool)
            finally:
                if progress is not None:
                    progress.close()
    results, verdicts = data["results"], data["verdicts"]
    refused = data["refused"]
    if as_json:
        _emit_json(data)
    else:
        from freshness.words import distance_line, local_time

        for v in verdicts:
            typer.echo(v["verdict"])
        if verdicts:
            typer.echo("")
        for r in results:
            if r["accepted"]:
                typer.echo(f"{r['file']}: accepted as check-in #{r['checkin_id']} "
                           f"(taken {local_time(r['taken_at'], who.timezone)}, from {r['taken_at_source']})")
                for d in r["distances"]:
                    typer.echo(f"  {distance_line(d)}")
                if not r["distances"]:
                    typer.echo("  no active headshot yet: kept for later comparison")
                if r["note"]:
                    typer.echo(f"  note: {r['note']}")
                if r["identity"]["note"]:
                    typer.echo(f"  {r['identity']['note']}")
            else:
                typer.echo(f"{r['file']}: refused: {r['error']['message']}")
    if refused:
        raise typer.Exit(3)


@app.command()
@handle_errors
def status(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this date (default now).", metavar="DATE"),
    as_json: bool = JsonOpt,
) -> None:
    """Per active headshot: age, refresh dates, distances, baseline, level, band, trend,
    projected divergence, self drift and the reminders that should be open. Read-only.

    \b
    Example:
      freshness status "Ada Lovelace" --as-of 2026-01-01
    """
    from freshness.people import resolve_person
    from freshness.reports import status as build_status

    with _session() as session:
        who = resolve_person(session, person)
        data = build_status(session, who, _as_of(as_of, who.timezone))
    if as_json:
        _emit_json(data)
        return
    _print_status(data, who.timezone)


def _print_status(data: dict, tz: str) -> None:
    from freshness.words import distance_text, local_time, trend_text

    for h in data["headshots"]:
        typer.echo(h["verdict"])
    if not data["headshots"]:
        typer.echo("No active headshot yet: add the one you publish with `freshness headshot add`.")
    person = data["person"]
    typer.echo("")
    typer.echo(f"{person['name']} (#{person['id']}) as of {local_time(data['as_of'], tz)}: "
               f"{data['checkins']} check-in(s), last {local_time(data['last_checkin_at'], tz)}")
    for h in data["headshots"]:
        typer.echo("")
        typer.echo(f"headshot #{h['id']} ({h['platform']}), published {h['published_on']} "
                   f"({h['age_days']} days ago), {'AI-generated' if h['ai_generated'] else 'photo'}"
                   f"{', disclosed' if h['disclosed'] else ''}"
                   f"{', disclosed by its embedded label' if h['disclosed_by'] == 'embedded_label' else ''}")
        typer.echo(f"  {h['provenance_text']}")
        typer.echo(f"  refresh due {h['refresh_due_on']}, overdue from {h['refresh_overdue_on']}")
        if h["checkins"] == 0:
            typer.echo("  no check-in yet")
        else:
            typer.echo(f"  distance: latest {distance_text(h['latest_distance'], h['latest_band'])} "
                       f"({local_time(h['latest_taken_at'], tz)}), median "
                       f"{distance_text(h['median_distance'], h['median_band'])} over {h['checkins']} selfie(s) "
                       f"on {h['points']} day(s)")
            if h["baseline"] is None:
                typer.echo(f"  baseline: not yet ({h['baseline_points']} of {h['baseline_needed']} check-ins after "
                           f"publication); only the absolute threshold {h['threshold']:.2f} applies")
            else:
                typer.echo(f"  baseline {distance_text(h['baseline'], h['baseline_band'])}; "
                           f"divergence threshold {h['threshold']:.2f}")
            typer.echo(f"  level (median of the last 3 check-in days) {distance_text(h['level'], h['band'])}")
            pol = data["policy"]
            typer.echo("  " + trend_text(h["trend"], threshold=h["threshold"], projected_on=h["projected_divergence_on"],
                                         confidence=pol["drift_confidence"], min_points=pol["drift_min_points"],
                                         min_span_days=pol["drift_min_span_days"],
                                         window_days=pol["drift_window_days"]))
            if h["self_drift"] is not None:
                typer.echo(f"  self drift (your face now vs your first check-ins): {h['self_drift']:.2f}")
        for r in h["reminders"]:
            typer.echo(f"  ! {r['title']}{_state_note(r)}: {r['message']}")
    for r in data["reminders"]:
        typer.echo("")
        typer.echo(f"! {r['title']}{_state_note(r)}: {r['message']}")


def _state_note(r: dict) -> str:
    return f" [#{r['id']} {r['state']}]" if r.get("id") else ""


@app.command()
@handle_errors
def history(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    headshot: Optional[int] = typer.Option(None, "--headshot", help="Only this headshot.", metavar="ID"),
    as_json: bool = JsonOpt,
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the history to FILE.png or FILE.svg.", metavar="FILE"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Trend and projection of the plot as of this date (default now).", metavar="DATE"),
) -> None:
    """One row per check-in with its distance, level and band for each headshot.

    \b
    Examples:
      freshness history "Ada Lovelace" --csv > drift.csv
      freshness history "Ada Lovelace" --plot drift.png
    """
    from freshness.checkins import get_headshot
    from freshness.people import resolve_person
    from freshness.reports import history as build_history

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    if plot is not None:
        from freshness.plot import check_plot_path

        check_plot_path(plot)
    with _session() as session:
        who = resolve_person(session, person)
        if headshot is not None:
            get_headshot(session, who, headshot)
        data = build_history(session, who, headshot)
        if plot is not None:
            from freshness import plot as plotting
            from freshness.reminders import policy_for
            from freshness.reports import plot_series

            when = _as_of(as_of, who.timezone)
            plotting.draw(plot, f"{who.name}: headshot likeness over time", plot_series(session, who, when, headshot),
                          when, policy_for(who).drift_horizon_days)
    heads = data["headshots"]
    if as_json:
        _emit_json(data)
        return
    if plot is not None and not as_csv:
        typer.echo(f"wrote {plot}", err=True)
    if as_csv:
        from freshness.reports import history_csv

        sys.stdout.write(history_csv(data))
        return
    from freshness.words import distance_text, local_time

    human = ["check-in", f"taken ({who.timezone})"]
    for h in heads:
        human += [f"#{h['id']} {h['platform']}", f"level #{h['id']}"]
    pretty = []
    for r in data["rows"]:
        row = [r["checkin_id"], local_time(r["taken_at"], who.timezone)]
        for d in r["distances"]:
            row += [distance_text(d["distance"], d["distance_band"]), distance_text(d["level"], d["band"])]
        pretty.append(row)
    typer.echo(_table(human, pretty))


# ---------------------------------------------------------------- reminders


class _DefaultList(typer.core.TyperGroup):
    """`freshness reminders [PERSON]` lists; `ack` and `snooze` are subcommands."""

    def parse_args(self, ctx, args):  # type: ignore[override]
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


reminders_app = typer.Typer(
    cls=_DefaultList,
    help="Evaluate and list reminders; acknowledge or snooze one. `freshness reminders [PERSON]` = `reminders list`.",
)
app.add_typer(reminders_app, name="reminders")


@reminders_app.command("list")
@handle_errors
def reminders_list(
    person: Optional[str] = typer.Argument(None, help="The person's id or name (default: everyone).", metavar="PERSON"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this date (default now).", metavar="DATE"),
    as_json: bool = JsonOpt,
) -> None:
    """Evaluate reminders, record their changes and list the unresolved ones.

    As of now, or of a past date: state changes are recorded once. A future date
    is a preview: it shows what would be open then and records nothing.

    \b
    Example:
      freshness reminders "Ada Lovelace" --as-of 2026-03-01 --json
    """
    from freshness.people import list_people, resolve_person
    from freshness.reminders import evaluate_person, preview_dict, preview_person, reminder_dict, unresolved

    now = utcnow()
    with _session() as session:
        people = [resolve_person(session, person)] if person else list_people(session)
        transitions = []
        items = []
        previews: set[int] = set()
        # every person's --as-of is read before anyone is evaluated: a date that leaves the
        # calendar in one time zone refuses the command, not the people after the first
        whens = {who.id: _as_of(as_of, who.timezone, now) for who in people}
        for who in people:
            when = whens[who.id]
            if when > now:  # the record follows the real clock: a look ahead records nothing
                previews.add(who.id)  # type: ignore[arg-type]
                items += [preview_dict(p, who, when) for p in preview_person(session, who, when)]
                continue
            transitions += evaluate_person(session, who, when, now=now)
            items += [reminder_dict(r, who) for r in unresolved(session, who)]
    if as_json:
        _emit_json(items)
        return
    if previews:
        typer.echo(f"preview as of {as_of}, a day still to come: these reminders would be open then if nothing "
                   f"changes; nothing is recorded until that time comes", err=True)
    for t in transitions:
        typer.echo(f"{'opened' if t.old_state is None else t.new_state if t.new_state != 'open' else 're-opened'}: "
                   f"#{t.reminder_id} {t.kind}" + (f" (headshot #{t.headshot_id})" if t.headshot_id else ""), err=True)
    if not items:
        typer.echo("no open reminders")
        return
    zones = {p.id: p.timezone for p in people}
    for r in items:
        _print_reminder(r, zones.get(r["person"]["id"], "UTC"))


def _print_reminder(r: dict, tz: str) -> None:
    from freshness.words import local_date

    where = f" headshot #{r['headshot']}" if r["headshot"] else ""
    state = "would be open" if r.get("preview") and r["id"] is None else r["state"]
    if r["state"] == "snoozed" and r.get("snoozed_until"):
        state += f" until {local_date(r['snoozed_until'], tz)}"
    ident = f"#{r['id']} " if r["id"] is not None else ""
    typer.echo(f"{ident}{r['person']['name']}{where}: {r['title']} ({r['kind']}) [{state}] "
               f"since {local_date(r['since'], tz)}")
    typer.echo(f"    {r['message']}")


@reminders_app.command("ack")
@handle_errors
def reminders_ack(reminder_id: int = typer.Argument(..., metavar="ID", help="Reminder id.")) -> None:
    """Acknowledge a reminder: it stays until its condition clears but is not notified again.

    \b
    Example:
      freshness reminders ack 1
    """
    from freshness.reminders import acknowledge

    with _session() as session:
        r, changed = acknowledge(session, reminder_id, utcnow())
    typer.echo(f"reminder #{r.id} ({r.kind}) {'acknowledged' if changed else 'was already acknowledged'}")


@reminders_app.command("snooze")
@handle_errors
def reminders_snooze(
    reminder_id: int = typer.Argument(..., metavar="ID", help="Reminder id."),
    until: str = typer.Option(..., "--until", help="Snooze until this date (start of the day, person's time zone).", metavar="YYYY-MM-DD"),
) -> None:
    """Snooze a reminder until a date; it re-opens then if its condition still holds.

    \b
    Example:
      freshness reminders snooze 1 --until 2027-02-01
    """
    from freshness.models import Person, Reminder
    from freshness.reminders import snooze

    with _session() as session:
        found = session.get(Reminder, reminder_id)
        tz = session.get(Person, found.person_id).timezone if found else "UTC"
        day = _parse_date(until, "--until")
        when = datetime.combine(day, time(0, 0), ZoneInfo(tz)).astimezone(timezone.utc)
        r = snooze(session, reminder_id, when, utcnow())
    typer.echo(f"reminder #{r.id} ({r.kind}) snoozed until {day.isoformat()}")


# ---------------------------------------------------------------- channels and the delivery log


channel_app = typer.Typer(
    help="""Where a person's reminders and check-in prompts go: add, list, test, enable and remove channels.

    \b
    Examples:
      freshness channel add "Ada Lovelace" --webhook https://hooks.example.org/freshness
      freshness channel test 1
    """,
    no_args_is_help=True,
)
app.add_typer(channel_app, name="channel")


def _channel_id_arg() -> Any:
    return typer.Argument(..., metavar="ID", help="The channel's id (see `freshness channel list PERSON`).")


def _channel_state(channel: Any, tz: str) -> str:
    from freshness.words import local_date

    if channel.enabled:
        return "enabled"
    since = f" since {local_date(channel.disabled_at, tz)}" if channel.disabled_at else ""
    return f"disabled{since}" + (f": {channel.disabled_reason}" if channel.disabled_reason else "")


@channel_app.command("add")
@handle_errors
def channel_add(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    email: Optional[str] = typer.Option(None, "--email", help="An e-mail address (sent over SMTP, see FRESHNESS_SMTP_*).", metavar="ADDRESS"),
    apprise: Optional[str] = typer.Option(None, "--apprise", help="An Apprise URL: ntfy://, tgram://, slack://, discord://, matrix://, json://, ...", metavar="URL"),
    webhook: Optional[str] = typer.Option(None, "--webhook", help="An http(s) URL that receives signed JSON POSTs.", metavar="URL"),
    as_json: bool = JsonOpt,
) -> None:
    """Add a notification channel: exactly one of --email, --apprise or --webhook.

    A webhook gets a signing secret, printed once: give it to the receiver, which
    checks every request's signature with it (README, "Webhooks").

    \b
    Examples:
      freshness channel add "Ada Lovelace" --email ada@example.org
      freshness channel add "Ada Lovelace" --apprise ntfy://ntfy.sh/ada-headshots
      freshness channel add "Ada Lovelace" --webhook https://hooks.example.org/freshness
    """
    from freshness.channels import add_channel, channel_dict, mask_target
    from freshness.people import resolve_person

    given = [(kind, value) for kind, value in (("email", email), ("apprise", apprise), ("webhook", webhook))
             if value is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --email ADDRESS, --apprise URL or --webhook URL"
                         + (f" (got {' and '.join('--' + kind for kind, _ in given)})" if given else ""))
    kind, target = given[0]
    with _session() as session:
        who = resolve_person(session, person)
        added = add_channel(session, who, kind, target, utcnow())
    channel = added.channel
    if as_json:
        _emit_json({**channel_dict(channel), "secret": added.secret, "warnings": added.warnings})
        return
    for warning in added.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"added {kind} channel #{channel.id} for {who.name}: {mask_target(kind, channel.target)}")
    if added.secret:
        from freshness.words import webhook_secret_help

        typer.echo(f"signing secret (shown once, store it now): {added.secret}")
        typer.echo(webhook_secret_help())
    typer.echo(f"send a test message: freshness channel test {channel.id}")


@channel_app.command("list")
@handle_errors
def channel_list(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    as_json: bool = JsonOpt,
) -> None:
    """A person's channels: kind, target (credentials masked), enabled or disabled and why.

    \b
    Example:
      freshness channel list "Ada Lovelace"
    """
    from freshness.channels import channel_dict, list_channels, mask_target
    from freshness.people import resolve_person
    from freshness.words import local_date

    with _session() as session:
        who = resolve_person(session, person)
        channels = list_channels(session, who)
    if as_json:
        _emit_json([channel_dict(c) for c in channels])
        return
    if not channels:
        typer.echo(f"{who.name} has no channel: add one with `freshness channel add`")
        return
    rows = [[c.id, c.kind, mask_target(c.kind, c.target), _channel_state(c, who.timezone),
             local_date(c.created_at, who.timezone)] for c in channels]
    typer.echo(_table(["id", "kind", "target", "state", "added"], rows))


@channel_app.command("test")
@handle_errors
def channel_test(channel_id: int = _channel_id_arg(), as_json: bool = JsonOpt) -> None:
    """Send a test message to a channel now and report the result.

    Exit status 0 when it was delivered, 1 when not (with the error). A permanent
    error (a webhook answering 4xx, an address the mail server rejects) disables
    the channel, as it would for a reminder.

    \b
    Example:
      freshness channel test 1
    """
    from freshness.channels import get_channel, mask_target, send_test
    from freshness.models import Person
    from freshness.words import channel_test_failed, local_time

    with _session() as session:
        channel = get_channel(session, channel_id)
        tz = session.get(Person, channel.person_id).timezone  # type: ignore[union-attr]
        result = send_test(session, channel, get_settings(), utcnow)
    if as_json:
        _emit_json(result.as_dict())
    elif result.sent:
        typer.echo(f"test message delivered to {channel.kind} channel #{channel.id} "
                   f"({mask_target(channel.kind, channel.target)}) at {local_time(result.delivery.sent_at, tz)}")
    if not result.sent:
        if not as_json:
            error = (result.delivery.last_error or "unknown error").removeprefix("attempt 1: ")
            _error(channel_test_failed(channel.id, error, disabled=result.disabled))  # type: ignore[arg-type]
        raise typer.Exit(1)


@channel_app.command("enable")
@handle_errors
def channel_enable(channel_id: int = _channel_id_arg()) -> None:
    """Enable a channel again after fixing what disabled it.

    Messages cancelled while it was disabled are not sent; new ones are.

    \b
    Example:
      freshness channel enable 2
    """
    from freshness.channels import enable_channel, get_channel, mask_target
    from freshness.models import Person

    with _session() as session:
        channel = get_channel(session, channel_id)
        tz = session.get(Person, channel.person_id).timezone  # type: ignore[union-attr]
        was = _channel_state(channel, tz)
        changed = enable_channel(session, channel)
    what = f"{channel.kind} channel #{channel.id} ({mask_target(channel.kind, channel.target)})"
    if not changed:
        typer.echo(f"{what} is already enabled")
        return
    typer.echo(f"enabled {what}; it had been {was}")
    typer.echo(f"send a test message: freshness channel test {channel.id}")


@channel_app.command("remove")
@handle_errors
def channel_remove(channel_id: int = _channel_id_arg()) -> None:
    """Remove a channel: its pending messages are cancelled first, so it is sent nothing more.

    Its delivery history goes with it.

    \b
    Example:
      freshness channel remove 1
    """
    from freshness.channels import get_channel, mask_target, remove_channel
    from freshness.models import Person

    with _session() as session:
        channel = get_channel(session, channel_id)
        who = session.get(Person, channel.person_id)
        cancelled = remove_channel(session, channel, utcnow())
    typer.echo(f"removed {channel.kind} channel #{channel.id} of {who.name} "  # type: ignore[union-attr]
               f"({mask_target(channel.kind, channel.target)}); "
               f"{cancelled} pending message{'' if cancelled == 1 else 's'} cancelled")


@app.command()
@handle_errors
def notifications(
    person: Optional[str] = typer.Argument(None, help="The person's id or name (default: everyone).", metavar="PERSON"),
    limit: int = typer.Option(50, "--limit", help="Show at most N notifications (1-1000).", metavar="N"),
    before: Optional[int] = typer.Option(None, "--before", help="Only those older than notification ID (the next page).", metavar="ID"),
    as_json: bool = JsonOpt,
) -> None:
    """The delivery log, newest first: each message (reminder, check-in prompt, test)
    and, per channel, its state, attempts, last error and next attempt.

    \b
    Example:
      freshness notifications "Ada Lovelace" --limit 20
    """
    from freshness.channels import delivery_log
    from freshness.people import resolve_person
    from freshness.words import local_time

    with _session() as session:
        who = resolve_person(session, person) if person else None
        entries, more = delivery_log(session, who, limit=limit, before=before)
    if as_json:
        _emit_json([e.as_dict() for e in entries])
    elif not entries:
        typer.echo("no notifications" + (" before #" + str(before) if before is not None else "")
                   + (f" for {who.name}" if who else ""))
    else:
        rows = []
        for e in entries:
            tz = e.person.timezone
            head = [local_time(e.notification.created_at, tz)] + ([] if who else [e.person.name]) + [
                f"#{e.notification.id} {e.notification.kind}", e.notification.subject]
            if not e.deliveries:
                rows.append(head + ["-", "no channel", "", "", ""])
            for d, c in e.deliveries:
                nxt = local_time(d.next_attempt_at, tz) if d.next_attempt_at and d.status == "pending" else ""
                rows.append(head + [f"#{c.id} {c.kind}", d.status, d.attempts, nxt, d.last_error or ""])
        headers = ["when"] + ([] if who else ["person"]) + ["notification", "subject", "channel", "state",
                                                              "attempts", "next attempt", "last error"]
        typer.echo(_table(headers, rows))
    if more and not as_json:
        page = ["freshness notifications"] + ([f'"{who.name}"'] if who else []) + [
            f"--limit {limit}", f"--before {entries[-1].notification.id}"]
        typer.echo(f"older notifications: {' '.join(page)}", err=True)


@person_app.command("calendar")
@handle_errors
def person_calendar(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    rotate: bool = typer.Option(False, "--rotate", help="Make a new address; the old one stops working."),
    revoke: bool = typer.Option(False, "--revoke", help="Stop the feed: its address stops working."),
    as_json: bool = JsonOpt,
) -> None:
    """The person's calendar subscription address (refresh dates, next check-in).

    The address holds a secret: it is shown once, when it is made (only a hash is
    stored). Showing it again means making a new one with --rotate.

    \b
    Examples:
      freshness person calendar "Ada Lovelace"
      freshness person calendar "Ada Lovelace" --rotate
      freshness person calendar "Ada Lovelace" --revoke
    """
    from freshness.links import calendar_feed
    from freshness.people import new_calendar_token, resolve_person, revoke_calendar_token

    if rotate and revoke:
        raise UsageError("choose one of --rotate and --revoke")
    with _session() as session:
        who = resolve_person(session, person)
        if revoke:
            revoked = revoke_calendar_token(session, who)
        elif who.calendar_token_sha256 is not None and not rotate:
            raise UsageError(f"{who.name} already has a calendar feed; its address was shown once, when it was "
                             f"made, and is not stored. For a new address (the old one stops working) run: "
                             f"freshness person calendar {who.id} --rotate")
        else:
            token, revoked = new_calendar_token(session, who)
    person_ref = {"id": who.id, "name": who.name}
    if revoke:
        if as_json:
            _emit_json({"person": person_ref, "url": None, "revoked": revoked})
        else:
            typer.echo(f"calendar feed of {who.name} (#{who.id}) revoked: its address answers 404 now"
                       if revoked else f"{who.name} (#{who.id}) has no calendar feed: nothing to revoke")
        return
    url = calendar_feed(get_settings(), token)
    if as_json:
        _emit_json({"person": person_ref, "url": url, "revoked": revoked})
        return
    typer.echo(f"calendar feed of {who.name} (#{who.id}), shown once (anyone with this address can read "
               f"the dates in it; --rotate makes a new one):")
    typer.echo(url)
    if revoked:
        typer.echo("the previous address no longer works: subscribe to this one instead")
    typer.echo("subscribe to it in your calendar app (\"add calendar from URL\"); it updates itself")


# ---------------------------------------------------------------- API tokens


token_app = typer.Typer(
    help="""A person's API tokens (for the JSON API and the web sign-in): create, list, revoke.

    \b
    Examples:
      freshness token create "Ada Lovelace" --label phone
      freshness token list "Ada Lovelace"
      freshness token revoke 2
    """,
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


@token_app.command("create")
@handle_errors
def token_create(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    label: Optional[str] = typer.Option(None, "--label", help="What the person calls it, e.g. phone (at most 100 characters).", metavar="LABEL"),
    as_json: bool = JsonOpt,
) -> None:
    """Make a new API token for a person; it is shown once (only its sha256 is stored).

    \b
    Example:
      freshness token create "Ada Lovelace" --label phone
    """
    from freshness.people import create_token, resolve_person, token_dict

    with _session() as session:
        who = resolve_person(session, person)
        row, token = create_token(session, who, utcnow(), label=label)
    if as_json:
        _emit_json({**token_dict(row), "person": {"id": who.id, "name": who.name}, "token": token})
        return
    typer.echo(f"API token #{row.id} for {who.name}" + (f" ({row.label})" if row.label else "")
               + ", shown once (store it now):")
    typer.echo(token)
    typer.echo("use it as 'Authorization: Bearer <token>' (README, \"API\"); revoke it with "
               f"`freshness token revoke {row.id}`")


@token_app.command("list")
@handle_errors
def token_list(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    as_json: bool = JsonOpt,
) -> None:
    """A person's API tokens: label, when made, last used, revoked (never the tokens themselves).

    \b
    Example:
      freshness token list "Ada Lovelace"
    """
    from freshness.people import list_tokens, resolve_person, token_dict
    from freshness.words import local_time

    with _session() as session:
        who = resolve_person(session, person)
        tokens = list_tokens(session, who)
    if as_json:
        _emit_json([token_dict(t) for t in tokens])
        return
    if not tokens:
        typer.echo(f"{who.name} has no API token: make one with `freshness token create`")
        return
    tz = who.timezone
    rows = [[t.id, t.label or "", local_time(t.created_at, tz),
             local_time(t.last_used_at, tz) if t.last_used_at else "never",
             f"revoked {local_time(t.revoked_at, tz)}" if t.revoked_at else "active"] for t in tokens]
    typer.echo(_table(["id", "label", "created", "last used", "state"], rows))


@token_app.command("revoke")
@handle_errors
def token_revoke(token_id: int = typer.Argument(..., metavar="ID", help="The token's id (see `freshness token list PERSON`).")) -> None:
    """Revoke an API token: it opens nothing from now on (its row stays, marked revoked).

    \b
    Example:
      freshness token revoke 2
    """
    from freshness.errors import NotFound
    from freshness.models import ApiToken, Person
    from freshness.people import revoke_token

    with _session() as session:
        found = session.get(ApiToken, token_id)
        who = session.get(Person, found.person_id) if found is not None else None
        if who is None:
            raise NotFound(f"no API token with id {token_id} (see `freshness token list PERSON`)")
        was_revoked = found.revoked_at is not None  # type: ignore[union-attr]
        row = revoke_token(session, who, token_id, utcnow())
    label = f" ({row.label})" if row.label else ""
    if was_revoked:
        typer.echo(f"API token #{row.id}{label} of {who.name} was already revoked")
    else:
        typer.echo(f"revoked API token #{row.id}{label} of {who.name}: it opens nothing from now on")


# ---------------------------------------------------------------- export and import (README, "Export")


@app.command("export")
@handle_errors
def export_command(
    person: str = typer.Argument(..., help=PERSON_HELP, metavar="PERSON"),
    file: Path = typer.Argument(..., help="The zip file to write (it must not exist).", metavar="FILE.zip",
                                dir_okay=False),
    as_json: bool = JsonOpt,
) -> None:
    """Export everything of a person into a zip file: freshness.json (the person, consent,
    headshots, check-ins, measurements, reminders, events, channels, notifications,
    deliveries) and the stored images. `freshness import` on another installation reads it.

    The file holds biometric data and the person's channel secrets: give it only to them.

    \b
    Example:
      freshness export "Ada Lovelace" ada.zip
    """
    import os

    from freshness.export import export_person
    from freshness.people import resolve_person

    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{file} exists already: give a new file name") from None
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out, _session() as session:
            who = resolve_person(session, person)
            counts = export_person(session, who, get_settings(), out, utcnow(), actor="cli")
    except BaseException:
        file.unlink(missing_ok=True)
        raise
    if as_json:
        _emit_json({"person": {"id": who.id, "name": who.name}, "file": str(file), **counts})
        return
    typer.echo(f"exported {who.name} (#{who.id}) to {file}: {counts['headshots']} headshot(s), "
               f"{counts['checkins']} check-in(s), {counts['reminders']} reminder(s), {counts['images']} image(s)")
    if counts["missing_files"]:
        typer.echo(f"warning: {counts['missing_files']} stored file(s) are missing from the file store and are not "
                   "in the export (it cannot be imported as it is)", err=True)


@app.command("import")
@handle_errors
def import_command(
    file: Path = typer.Argument(..., help="A zip file written by `freshness export`.", metavar="FILE.zip"),
    name: Optional[str] = typer.Option(None, "--name", help="Import the person under this name instead.",
                                       metavar="NAME"),
    as_json: bool = JsonOpt,
) -> None:
    """Import a person exported from another installation (a person moving servers). The file is
    checked completely first (its structure, every field, every image's sha256); nothing is
    written unless all of it is right. A person with the same name here is refused (see --name).
    Prints their new id and a new API token (tokens do not move).

    \b
    Example:
      freshness import ada.zip
    """
    from freshness.export import import_export, read_export

    settings = get_settings()
    parsed = read_export(file, settings)
    with _session() as session:
        who, token, counts = import_export(session, get_context(), parsed, utcnow(), actor="cli", name=name)
    if as_json:
        _emit_json({"person": {"id": who.id, "name": who.name}, "token": token, **counts})
        return
    typer.echo(f"imported {who.name} as person #{who.id}: {counts['headshots']} headshot(s), "
               f"{counts['checkins']} check-in(s), {counts['reminders']} reminder(s), {counts['channels']} channel(s)")
    typer.echo(f"API token (shown once, store it now): {token}")


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()
