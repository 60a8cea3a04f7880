"""The matcher's decision thresholds, overridable by settings."""

from __future__ import annotations

from omniretail.core.config import get_settings
from omniretail.customers.matching import Thresholds


def thresholds() -> Thresholds:
    """Automatic-merge and review thresholds in force (settings override the tuned defaults)."""
    settings, tuned = get_settings(), Thresholds()
    auto = settings.match_auto_threshold if settings.match_auto_threshold is not None else tuned.auto
    review = settings.match_review_threshold if settings.match_review_threshold is not None else tuned.review
    return Thresholds(auto=auto, review=min(review, auto))
