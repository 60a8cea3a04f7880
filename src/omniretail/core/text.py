"""Text folding shared by search, matching and slugs."""

from __future__ import annotations

import re
import unicodedata


def normalise(text: str) -> str:
    """Lower-case, strip accents (é→e, ß→ss) and fold compatibility forms."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def slug(text: str, *, max_length: int = 56, fallback: str = "item") -> str:
    return re.sub(r"[^a-z0-9]+", "-", normalise(text)).strip("-")[:max_length] or fallback
