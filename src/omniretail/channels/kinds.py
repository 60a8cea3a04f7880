"""The kinds of channel a retailer runs, with the standard channel of each kind."""

from __future__ import annotations

# code: (name, sells, serves)
STANDARD_CHANNELS: dict[str, tuple[str, bool, bool]] = {
    "web": ("Web shop", True, True),
    "app": ("Mobile app", True, True),
    "pos": ("Store tills", True, False),
    "call_centre": ("Call centre", True, True),
    "chat": ("Web chat", False, True),
    "email": ("E-mail", False, True),
    "sms": ("SMS", False, True),
    "messenger": ("Messengers", True, True),
    "social": ("Social media", True, True),
    "marketplace": ("Marketplaces", True, False),
}

KINDS = tuple(STANDARD_CHANNELS)
