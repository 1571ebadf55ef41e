"""Request and response bodies of the JSON API (``freshness.web.api``).

The responses are the shapes the CLI prints with ``--json`` (README, "JSON output"): the
service functions build the dicts and these models only describe them, so the OpenAPI
schema says exactly what comes back (schemathesis checks every response against it).
Times are ISO 8601 strings in UTC, as in the CLI's JSON. A field that the CLI leaves out
when it has nothing to say (a measure's ``hint``, a quality ``note``, a preview's
``as_of``) is left out here too: those routes answer with ``response_model_exclude_unset``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class In(BaseModel):
    # strict: a JSON body says true/false for a boolean and a number for a number (0 is not false)
    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------- errors


class ErrorOut(Out):
    code: str = Field(description="What went wrong, the same code as in the CLI's JSON: usage, not_found, "
                                  "unauthorized, forbidden, too_large, invalid_request, consent, or an image "
                                  "refusal (unsupported_format, too_large, too_many_pixels, corrupt, animated, "
                                  "no_face, several_faces, quality, duplicate, not_you).")
    message: str = Field(description="A complete sentence meant for people.")
    details: Optional[dict[str, Any]] = None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The request is wrong (code usage, consent)."},
    401: {"model": ErrorOut, "description": "No token, or one that opens nothing."},
    404: {"model": ErrorOut, "description": "No such thing among yours (another person's ids answer the same)."},
    413: {"model": ErrorOut, "description": "The request body is larger than the upload limit (code too_large)."},
    422: {"model": ErrorOut, "description": "The request does not fit the schema (code invalid_request), or "
                                            "an image was refused (its code)."},
    429: {"model": ErrorOut, "description": "Too many failed sign-in attempts from this address lately (code "
                                            "too_many_requests): wait the Retry-After seconds.",
          "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}},
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorOut, "description": "The admin API is off: FRESHNESS_ADMIN_TOKEN is not set."},
}


# ---------------------------------------------------------------- people


class PersonRef(Out):
    id: int
    name: Optional[str] = None


class Consent(Out):
    version: str
    at: Optional[DateTime] = None


class PersonOut(Out):
    id: int
    name: str
    email: Optional[str]
    sector: Optional[str]
    timezone: str
    checkin_every_days: int
    next_checkin_due: Optional[DateTime]
    prompt_hour: int
    next_prompt_at: Optional[DateTime]
    notify_resolved: bool
    policy_overrides: dict[str, Any]
    consent: Consent
    created_at: Optional[DateTime]


class PersonCreated(PersonOut):
    token: str = Field(description="The person's first API token, shown once (only its sha256 is stored).")


class PersonIn(In):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "Ada Lovelace", "consent": True, "email": "ada@example.org", "sector": "finance",
         "timezone": "Europe/London"}]})

    name: str = Field(description="Unique (case-insensitive), 1 to 200 characters, not only digits.")
    consent: bool = Field(False, description="The person agrees to biometric processing (required: true).")
    email: Optional[str] = Field(None, description="For reminders: becomes their first channel.")
    sector: Optional[str] = Field(None, description="healthcare, legal, government, finance, education, "
                                                    "technology, media or other.")
    timezone: str = Field("UTC", description="An IANA time zone, e.g. Europe/Berlin.")
    checkin_every_days: Optional[int] = Field(None, description="Days between check-ins, 1-365 "
                                                                "(default FRESHNESS_DEFAULT_CHECKIN_EVERY_DAYS).")
    prompt_hour: Optional[int] = Field(None, description="Local hour 0-23 of check-in prompts "
                                                         "(default FRESHNESS_DEFAULT_PROMPT_HOUR).")


class PersonPatch(In):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"checkin_every_days": 14, "prompt_hour": 8, "timezone": "Europe/Berlin", "sector": "healthcare",
         "policy": {"refresh_due_months": 18}, "notify_resolved": True}]})

    email: Optional[str] = None
    sector: Optional[str] = None
    timezone: Optional[str] = None
    checkin_every_days: Optional[int] = Field(None, description="1-365")
    prompt_hour: Optional[int] = Field(None, description="0-23, local time")
    policy: Optional[dict[str, Any]] = Field(
        None, description="Rule settings to override for this person, e.g. {\"refresh_due_months\": 18} "
                          "(names in docs/rules.md); merged into the existing overrides.")
    reset_policy: bool = Field(False, description="Drop the existing overrides first.")
    notify_resolved: Optional[bool] = Field(None, description="Also send a message when a reminder resolves.")


class DeleteMe(In):
    confirm: str = Field(description="Your name exactly as stored: deleting everything cannot be undone.")


class Deleted(Out):
    person: PersonRef
    headshots: int
    checkins: int
    files: int


class CalendarOut(Out):
    person: PersonRef
    url: Optional[str] = Field(description="The feed's address, shown once; null after a revoke.")
    revoked: bool = Field(description="An earlier address stopped working.")


# ---------------------------------------------------------------- tokens


class TokenOut(Out):
    id: int
    label: Optional[str]
    created_at: Optional[DateTime]
    last_used_at: Optional[DateTime]
    revoked_at: Optional[DateTime]


class TokenCreated(TokenOut):
    token: str = Field(description="The token, shown once (only its sha256 is stored).")


class TokenIn(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"label": "phone"}]})

    label: Optional[str] = Field(None, description="What you call it (\"phone\"), at most 100 characters.")


# ---------------------------------------------------------------- headshots and images


class Measure(Out):
    name: str
    value: float
    limit: str
    ok: bool
    unit: Optional[str] = None
    hint: Optional[str] = None


class Quality(Out):
    passed: Optional[bool] = None
    faces_found: Optional[int] = None
    detector: Optional[str] = None
    work_size: Optional[list[int]] = None
    measures: Optional[list[Measure]] = None
    note: Optional[str] = None


class ProvenanceOut(Out):
    """What the headshot's file says of its origin (README, "Headshot provenance")."""

    version: Optional[int] = None
    status: Literal["not_read", "none", "found", "unreadable"] = Field(
        description="not_read: registered before files were read; none: no C2PA manifest and no IPTC digital "
                    "source type (absence proves nothing); found; unreadable: see problems.")
    source: Optional[Literal["c2pa", "xmp"]] = Field(None, description="Where digital_source_type comes from.")
    digital_source_type: Optional[str] = Field(None, description="The IPTC code, e.g. trainedAlgorithmicMedia.")
    ai_generated: Optional[bool] = Field(None, description="What the file says; null when it does not say.")
    generator: Optional[str] = None
    signed: bool = Field(False, description="A C2PA manifest (a signed claim) is embedded.")
    valid: Optional[bool] = Field(None, description="Its signature and hashes check out; null: not verified.")
    validation: Optional[Literal["trusted", "valid", "invalid", "not_verified"]] = None
    signer: Optional[str] = None
    label_intact: bool = Field(False, description="An AI label is embedded, readable and not broken.")
    problems: list[str] = []
    published_with_label: bool = Field(False, description="The person says this file is published with its label.")


class HeadshotOut(Out):
    id: int
    person_id: int
    platform: str
    published_on: Day
    ai_generated: bool
    disclosed: bool
    image_sha256: str
    retired_at: Optional[DateTime]
    quality: Quality
    disclosed_by: Optional[Literal["person", "embedded_label"]] = Field(
        description="How it counts as disclosed: the person marked it, or its intact embedded label with "
                    "the person's word that it is published with it; null: not disclosed.")
    provenance: ProvenanceOut
    provenance_text: str


class HeadshotAdded(HeadshotOut):
    warnings: list[str]
    backfilled_checkins: int


class HeadshotChanged(HeadshotOut):
    changed: list[str] = Field(description="The fields whose value changed.")


class HeadshotPatch(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"disclosed": True},
                                                              {"platform": "linkedin", "published_on": "2025-03-01"}]})

    platform: Optional[str] = Field(None, description="linkedin, resume, portfolio, website, github, x, "
                                                      "company or other.")
    published_on: Optional[Day] = Field(None, description="YYYY-MM-DD, not in the future.")
    ai_generated: Optional[bool] = None
    disclosed: Optional[bool] = Field(None, description="Labelled as AI-generated where it is published.")
    published_with_label: Optional[bool] = Field(None, description="This very file is published with its "
                                                                   "embedded AI label.")


# ---------------------------------------------------------------- check-ins


class DistanceOut(Out):
    headshot_id: int
    platform: str
    distance: float
    band: Optional[str]


class IdentityOut(Out):
    checked: bool
    distance: Optional[float]
    compared_with: list[int]
    radius: float
    confirmed: bool
    note: Optional[str]


class CheckinResultOut(Out):
    file: str = Field(description="The uploaded file's name.")
    accepted: bool
    checkin_id: Optional[int] = None
    taken_at: Optional[DateTime] = None
    taken_at_source: Optional[Literal["given", "exif", "received"]] = None
    distances: Optional[list[DistanceOut]] = None
    quality: Optional[Quality] = None
    note: Optional[str] = None
    identity: Optional[IdentityOut] = None
    error: Optional[ErrorOut] = Field(None, description="Why a refused image was refused.")


class VerdictOut(Out):
    headshot_id: int
    platform: str
    state: str
    level: Optional[float]
    band: Optional[str]
    verdict: str


class CheckinReport(Out):
    person: PersonRef
    accepted: int
    refused: int
    verdicts: list[VerdictOut] = Field(description="Each active headshot once these selfies count.")
    results: list[CheckinResultOut] = Field(description="One per image, in the order sent.")


# ---------------------------------------------------------------- ranking


class RankSelfie(Out):
    checkin_id: int
    taken_at: DateTime


class RankCurrent(Out):
    headshot_id: int
    platform: str
    median_distance: float
    band: Optional[str]


class RankCandidate(Out):
    rank: Optional[int]
    file: str
    median_distance: Optional[float] = None
    distances: Optional[list[float]] = None
    band: Optional[str] = None
    warning: Optional[str] = None
    quality: Optional[Quality] = None
    error: Optional[ErrorOut] = None


class RankReport(Out):
    person: PersonRef
    selfies: list[RankSelfie]
    selfies_warning: Optional[str]
    threshold: float
    current: list[RankCurrent]
    candidates: list[RankCandidate]


# ---------------------------------------------------------------- status and history


class TrendOut(Out):
    slope_per_year: Optional[float]
    low_per_year: Optional[float]
    high_per_year: Optional[float]
    n: int
    span_days: float


class StatusReminder(Out):
    id: Optional[int]
    state: Optional[str]
    kind: str
    title: str
    headshot: Optional[int]
    since: DateTime
    message: str
    details: dict[str, Any]


class HeadshotStatus(Out):
    id: int
    platform: str
    published_on: Day
    age_days: int
    ai_generated: bool
    disclosed: bool
    disclosed_by: Optional[Literal["person", "embedded_label"]]
    provenance: ProvenanceOut
    provenance_text: str
    refresh_due_on: Day
    refresh_overdue_on: Day
    checkins: int
    points: int
    state: str
    verdict: str
    latest_distance: Optional[float]
    latest_band: Optional[str]
    latest_taken_at: Optional[DateTime]
    median_distance: Optional[float]
    median_band: Optional[str]
    baseline: Optional[float]
    baseline_band: Optional[str]
    baseline_points: int
    baseline_needed: int
    level: Optional[float]
    band: Optional[str]
    threshold: Optional[float]
    trend: Optional[TrendOut]
    projected_divergence_on: Optional[Day]
    self_drift: Optional[float]
    reminders: list[StatusReminder]


class StatusPerson(Out):
    id: int
    name: str
    timezone: str


class StatusOut(Out):
    person: StatusPerson
    as_of: DateTime
    checkins: int
    last_checkin_at: Optional[DateTime]
    next_checkin_due: Optional[DateTime]
    policy: dict[str, Any]
    headshots: list[HeadshotStatus]
    reminders: list[StatusReminder]


class HistoryHeadshot(Out):
    id: int
    platform: str
    published_on: Day
    retired_at: Optional[DateTime]


class HistoryCell(Out):
    headshot_id: int
    distance: Optional[float]
    distance_band: Optional[str]
    level: Optional[float]
    band: Optional[str]


class HistoryRow(Out):
    checkin_id: int
    taken_at: DateTime
    taken_at_source: str
    distances: list[HistoryCell]


class HistoryOut(Out):
    person: PersonRef
    headshots: list[HistoryHeadshot]
    rows: list[HistoryRow]


# ---------------------------------------------------------------- reminders


class ReminderOut(Out):
    id: Optional[int] = Field(description="null in a preview, for a reminder not recorded yet.")
    person: PersonRef
    headshot: Optional[int]
    kind: str
    title: str
    state: str
    since: Optional[DateTime]
    opened_at: Optional[DateTime]
    acknowledged_at: Optional[DateTime]
    snoozed_until: Optional[DateTime]
    resolved_at: Optional[DateTime]
    message: str
    details: dict[str, Any]
    preview: Optional[bool] = Field(None, description="Present (true) when as_of is a day still to come.")
    as_of: Optional[DateTime] = None


class AckOut(ReminderOut):
    changed: bool = Field(description="false when it was already acknowledged.")


class SnoozeIn(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"until": "2027-02-01"}]})

    until: Day = Field(description="YYYY-MM-DD: snoozed until the start of that day in your time zone.")


# ---------------------------------------------------------------- channels and notifications


class ChannelOut(Out):
    id: int
    person_id: int
    kind: str
    target: str = Field(description="With its credentials masked.")
    enabled: bool
    disabled_reason: Optional[str]
    disabled_at: Optional[DateTime]
    created_at: Optional[DateTime]


class ChannelAdded(ChannelOut):
    secret: Optional[str] = Field(description="A webhook's signing secret, shown once; null for other kinds.")
    warnings: list[str]


class ChannelEnabled(ChannelOut):
    changed: bool = Field(description="false when it was enabled already.")


class ChannelRemoved(Out):
    id: int
    kind: str
    target: str
    cancelled: int = Field(description="Pending messages cancelled.")


class ChannelIn(In):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "email", "target": "ada@example.org"},
        {"kind": "webhook", "target": "https://hooks.example.org/freshness"},
        {"kind": "apprise", "target": "ntfy://ntfy.sh/ada-headshots"}]})

    kind: Literal["email", "apprise", "webhook"]
    target: str = Field(description="An e-mail address, an Apprise URL or an http(s) webhook URL.")


class DeliveryChannel(Out):
    id: int
    kind: str
    target: str


class DeliveryOut(Out):
    id: int
    channel: Optional[DeliveryChannel] = None
    status: str
    attempts: int
    next_attempt_at: Optional[DateTime]
    last_error: Optional[str]
    sent_at: Optional[DateTime]
    idempotency_key: str
    created_at: Optional[DateTime]


class ChannelTestOut(Out):
    sent: bool
    channel: ChannelOut
    delivery: DeliveryOut
    channel_disabled: bool


class NotificationOut(Out):
    id: int
    person: PersonRef
    kind: str
    subject: str
    text: str
    event_id: Optional[int]
    created_at: Optional[DateTime]
    deliveries: list[DeliveryOut]
