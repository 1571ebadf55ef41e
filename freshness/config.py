"""Settings, read from the environment (prefix ``FRESHNESS_``).

Every setting has a documented default; see README.md, section "Settings".
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from platformdirs import user_data_dir
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from freshness.errors import SettingsError
from freshness.faces.limits import QualityLimits
from freshness.identity import DEFAULT_MIN_REFERENCES, DEFAULT_RADIUS
from freshness.identity import REFERENCES as IDENTITY_REFERENCES

MB = 1024 * 1024
MAX_INTERVAL = 7 * 86400  # the longest interval a scheduled job may have (a week)
_GATE = QualityLimits()


def default_home() -> Path:
    return Path(user_data_dir("freshness", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRESHNESS_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    # SQLite: how long a write waits for another process's write lock before failing with
    # "the database stayed locked" (exit 2); a transaction is never retried past this.
    sqlite_busy_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)

    # Upload limits: checked before anything is decoded.
    max_upload_bytes: int = Field(default=25 * MB, ge=1024, le=1024 * MB)
    max_pixels: int = Field(default=50_000_000, ge=10_000, le=500_000_000)

    # Working resolution: every image (headshot or selfie) is normalised to at most
    # this many pixels on its long side before landmarks and the embedding are
    # computed, so distances between any two images are comparable.
    work_max_side: int = Field(default=1024, ge=64, le=8192)
    # Faces are first searched on a further reduced copy (long side at most this).
    detect_max_side: int = _GATE.detect_max_side
    # Only when HOG finds no face: dlib's CNN detector on a copy this size (0: off).
    cnn_max_side: int = _GATE.cnn_max_side

    # Quality gate (limits chosen from ../shared/faces, see README "Quality gate").
    min_eye_distance_px: float = _GATE.min_eye_distance_px
    min_sharpness: float = _GATE.min_sharpness
    min_brightness: float = _GATE.min_brightness
    max_brightness: float = _GATE.max_brightness
    max_roll_degrees: float = _GATE.max_roll_degrees
    max_yaw: float = _GATE.max_yaw
    background_face_ratio: float = _GATE.background_face_ratio

    keep_selfie_originals: bool = False
    default_checkin_every_days: int = 30
    # Identity guard (README, "freshness checkin"): a selfie farther than this (median
    # distance) from the person's own nearest-in-time accepted selfies is refused as
    # not_you unless confirmed; it is checked once the person has this many selfies.
    identity_radius: float = DEFAULT_RADIUS
    identity_min_references: int = DEFAULT_MIN_REFERENCES
    # Global likeness-rule overrides: a JSON object using the rule policy's field
    # names, e.g. FRESHNESS_POLICY='{"abs_threshold": 0.58}'.
    policy: Annotated[dict[str, Any], NoDecode] = Field(default_factory=dict)

    # Links in messages point here (the address people open freshness at).
    base_url: str = "http://127.0.0.1:8000"
    # Check-in prompts go out at this local hour unless a person chose another.
    default_prompt_hour: int = Field(default=9, ge=0, le=23)
    # Delivery (README, "Notifications"): a failed send is retried after backoff seconds,
    # doubling each time up to the cap, at most this many attempts; a delivery being
    # sent is owned by one dispatcher for the lease, then retried (same idempotency key).
    delivery_max_attempts: int = Field(default=8, ge=1, le=100)
    delivery_backoff_seconds: float = Field(default=60.0, gt=0, le=86400)
    delivery_backoff_max_seconds: float = Field(default=21600.0, gt=0, le=7 * 86400)
    delivery_lease_seconds: float = Field(default=300.0, gt=0, le=86400)
    # Reminder changes recorded for an evaluation time older than this (a look back with
    # `reminders --as-of`) are history, not news: they are not sent.
    notify_max_age_hours: float = Field(default=24.0, ge=0)
    # E-mail over SMTP (a channel of kind email needs FRESHNESS_SMTP_HOST).
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: str = Field(default="starttls", pattern="^(none|starttls|tls)$")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "freshness <freshness@localhost>"
    smtp_timeout_seconds: float = Field(default=20.0, gt=0)
    # Webhooks and Apprise: seconds to wait for the other end.
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    # The web app and the API (README, "Web app and API"). The secret signs session cookies
    # and CSRF tokens; left unset, one is generated at first use and kept (mode 0600) in
    # <FRESHNESS_HOME>/secret_key. The admin token manages persons over the API (unset: no
    # admin API).
    secret_key: str | None = Field(default=None, min_length=32)
    admin_token: str | None = Field(default=None, min_length=24)
    session_days: float = Field(default=30.0, gt=0, le=365)
    signin_link_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)
    # A check-in prompt carries its own one-time sign-in link (straight to the check-in page),
    # valid this many hours; 0 sends prompts without one.
    prompt_link_hours: float = Field(default=72.0, ge=0, le=14 * 24)

    # The scheduler (README, "The scheduler"): seconds between two runs of each job; 0 turns
    # a job off. The sweep also runs at start-up.
    sweep_interval_seconds: int = Field(default=3600, ge=0, le=MAX_INTERVAL)
    prompts_interval_seconds: int = Field(default=900, ge=0, le=MAX_INTERVAL)
    dispatch_interval_seconds: int = Field(default=60, ge=0, le=MAX_INTERVAL)
    inbox_interval_seconds: int = Field(default=300, ge=0, le=MAX_INTERVAL)
    maintenance_interval_seconds: int = Field(default=86400, ge=0, le=MAX_INTERVAL)
    # Inbox import (README, "The inbox folder"): a file is taken once it has not changed for
    # this many seconds (a photo still being copied or synced is left for the next run).
    inbox_settle_seconds: int = Field(default=30, ge=0, le=86400)
    # Processes analysing the photos when several are waiting (0: one per CPU; 1: no extra process).
    inbox_workers: int = Field(default=0, ge=0, le=256)

    # Privacy (README, "Privacy"): everything of a person is purged by the daily maintenance job
    # once they have not been active (check-in, sign-in, API use) for this many days (0: never).
    retention_inactive_days: int = Field(default=1095, ge=0, le=36500)
    # Photos the inbox import moved to done/ and refused/ (originals, metadata included) are
    # removed after this many days (0: at the next maintenance run).
    inbox_keep_days: int = Field(default=7, ge=0, le=3650)
    # `freshness import`: the largest export file taken (its images and JSON are checked too).
    max_import_bytes: int = Field(default=2 * 1024 * MB, ge=MB)

    # Security (README, "Security"): webhook and Apprise targets on private, loopback, link-local
    # or other non-public addresses are refused unless allowed here: "true" (all of them) or a
    # comma-separated list of networks, e.g. "127.0.0.1/32,10.0.0.0/8".
    allow_private_targets: str = ""
    # Sign-in attempts: this many failures from one address (or naming one person) within the
    # window lock that address (or person's failed credentials) out for the lockout.
    signin_max_failures: int = Field(default=10, ge=1, le=10000)
    signin_failure_window_seconds: int = Field(default=600, ge=1, le=86400)
    signin_lockout_seconds: int = Field(default=900, ge=1, le=86400)

    @field_validator("policy", mode="before")
    @classmethod
    def _parse_policy(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return {}
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON object, e.g. '{{\"abs_threshold\": 0.58}}': {exc}") from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object, e.g. '{\"abs_threshold\": 0.58}'")
        if value:  # checked now, not at the first evaluation (where every person would fail)
            from freshness.rules import Policy

            Policy().with_overrides(value)  # a ValueError names the key and what it accepts
        return value

    @field_validator("home")
    @classmethod
    def _check_home(cls, value: Path) -> Path:
        value = Path(value).expanduser()
        if value.exists() and not value.is_dir():
            raise ValueError("is not a directory (the data directory holds the database and the stored photos)")
        for parent in value.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ValueError(f"{parent} is not a directory")
                break
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from sqlalchemy.engine import make_url

        try:
            url = make_url(value.strip())
        except Exception:
            raise ValueError("is not a database URL: use e.g. sqlite:////path/to/freshness.db or "
                             "postgresql+psycopg://user@host/dbname") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"{url.get_backend_name()!r} databases are not supported: use sqlite or postgresql")
        return value.strip()

    @field_validator("identity_radius")
    @classmethod
    def _check_identity_radius(cls, value: float) -> float:
        if not 0 < value <= 2:
            raise ValueError(f"must be a distance above 0 and at most 2 (default {DEFAULT_RADIUS}; "
                             "two photos of the same person are usually below 0.6)")
        return value

    @field_validator("identity_min_references")
    @classmethod
    def _check_identity_min_references(cls, value: int) -> int:
        if not 1 <= value <= IDENTITY_REFERENCES:
            raise ValueError(f"must be a whole number from 1 to {IDENTITY_REFERENCES} (default "
                             f"{DEFAULT_MIN_REFERENCES}): how many earlier selfies a new one needs to be compared with")
        return value

    @field_validator("allow_private_targets")
    @classmethod
    def _check_allow_private_targets(cls, value: str) -> str:
        from freshness.netguard import parse_allow_list

        parse_allow_list(value)  # raises ValueError with the entry that is not a network
        return value.strip()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'freshness.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def inbox_dir(self) -> Path:
        """Holds one optional folder per person (named by their id) for photos to check in."""
        return self.home / "inbox"


def _setting_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = "FRESHNESS_" + "_".join(str(p) for p in err["loc"][:1]).upper()
        msg = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        shown = f"={value}" if isinstance(value, (str, int, float)) else ""
        if any(word in name for word in ("SECRET", "TOKEN", "PASSWORD", "DATABASE_URL")):
            shown = ""  # never echo a credential (a database URL may carry a password) to a terminal or log
        lines.append(f"{name}{shown}: {msg}")
    return "invalid setting: " + "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_setting_errors(exc)) from None
    except SourceError as exc:  # a value the environment source could not even parse
        raise SettingsError(f"invalid setting: {exc}") from None


def reset_settings_cache() -> None:
    get_settings.cache_clear()
