"""People's names: what is accepted, and the key two names must not share.

Two names are the same person's name when they are equal after Unicode NFKC normalisation,
removing invisible format characters (zero-width spaces and joiners, bidirectional marks),
collapsing whitespace and case folding: "Straße" and "STRASSE", "Ada" and "A\u200bda", an NFC
and an NFD "José". The key is stored with a unique index, so two concurrent `person add`
of the same name cannot both succeed.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 200


def name_key(name: str) -> str:
    """The normalised form two names are compared by (unique per installation)."""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")  # zero-width, bidi marks
    text = " ".join(text.split())
    return unicodedata.normalize("NFKC", text.casefold())


def clean_name(name: str) -> str:
    """The name as stored and shown: NFC, invisible format characters removed, whitespace
    collapsed. Raises ValueError with the reason when it cannot be a person's name (empty,
    too long, control characters such as newlines or terminal escape codes, only digits)."""
    if not isinstance(name, str):
        raise ValueError("a person's name must be text")
    if any(unicodedata.category(c) == "Cc" and c not in " " for c in name):
        raise ValueError("a person's name cannot contain control characters (newlines, tabs, escape codes)")
    text = unicodedata.normalize("NFC", name)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = " ".join(text.split())
    if not text:
        raise ValueError("a person's name must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"a person's name must be at most {MAX_NAME_LENGTH} characters, got {len(text)}")
    if text.isdigit():
        raise ValueError("a person's name cannot be only digits (digits refer to a person's id)")
    return text
