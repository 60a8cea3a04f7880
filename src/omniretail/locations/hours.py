"""Weekly opening hours: parse, validate and ask whether a location is open. Pure module.

Accepted forms: a JSON object `{"mon": [["09:00", "20:00"]], ..., "sun": []}` (a missing
day is closed) or the compact text `"mon-fri 09:00-20:00; sat 10:00-16:00; sun closed"`,
several intervals of a day separated by commas (`"mon 08:00-12:00,13:00-18:00"`).
Intervals end on the day they start; `24:00` closes at midnight.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

Hours = dict[str, list[list[str]]]


class HoursError(ValueError):
    pass


def _minutes(value: str) -> int:
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise HoursError(f"{value!r} is not a time of day like 09:30")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise HoursError(f"{value!r} is past midnight")
    return minutes


def _check_day(day: str, intervals: Any) -> list[list[str]]:
    if not isinstance(intervals, list):
        raise HoursError(f"{day}: expected a list of [open, close] pairs")
    spans = []
    for interval in intervals:
        if not (isinstance(interval, (list, tuple)) and len(interval) == 2):
            raise HoursError(f"{day}: each interval is a pair [open, close]")
        start, end = _minutes(interval[0]), _minutes(interval[1])
        if end <= start:
            raise HoursError(f"{day}: {interval[0]}-{interval[1]} closes before it opens")
        spans.append((start, end, [interval[0].strip(), interval[1].strip()]))
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise HoursError(f"{day}: {a[0]}-{a[1]} overlaps {b[0]}-{b[1]}")
    return [s[2] for s in spans]


def _parse_text(text: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.lower().split(";"))):
        days_part, _, spans_part = part.partition(" ")
        days = _day_range(days_part)
        spans_part = spans_part.strip()
        intervals = [] if spans_part in ("closed", "") else [s.strip().split("-", 1) for s in spans_part.split(",")]
        for interval in intervals:
            if len(interval) != 2:
                raise HoursError(f"{part!r}: write intervals as 09:00-18:00")
        for day in days:
            if day in result:
                raise HoursError(f"{day} is given twice")
            result[day] = intervals
    return result


def _day_range(text: str) -> list[str]:
    start, _, end = text.partition("-")
    for day in (start, end or start):
        if day not in DAYS:
            raise HoursError(f"{day!r} is not a day; use mon, tue, wed, thu, fri, sat, sun")
    i, j = DAYS.index(start), DAYS.index(end or start)
    if j < i:
        raise HoursError(f"{text!r}: day range runs backwards")
    return list(DAYS[i:j + 1])


def parse_hours(value: Any) -> Hours:
    """Return normalised weekly hours (every day present, closed days empty)."""
    if value is None:
        return {day: [] for day in DAYS}
    if isinstance(value, str):
        value = _parse_text(value)
    if not isinstance(value, dict):
        raise HoursError("opening hours are an object by day or a text like 'mon-fri 09:00-18:00'")
    unknown = set(value) - set(DAYS)
    if unknown:
        raise HoursError(f"unknown day(s) {sorted(unknown)}; use {', '.join(DAYS)}")
    return {day: _check_day(day, value.get(day, [])) for day in DAYS}


def format_hours(hours: Hours) -> str:
    """The compact text form (used by CSV export)."""
    parts = []
    for day in DAYS:
        spans = hours.get(day, [])
        parts.append(f"{day} " + (",".join(f"{a}-{b}" for a, b in spans) if spans else "closed"))
    return "; ".join(parts)


def intervals_on(hours: Hours, tz: str, day: date) -> list[tuple[datetime, datetime]]:
    """Opening intervals of a local calendar day as aware datetimes."""
    zone = ZoneInfo(tz)
    result = []
    for start, end in hours.get(DAYS[day.weekday()], []):
        s, e = _minutes(start), _minutes(end)
        opens = datetime.combine(day, time(s // 60, s % 60), zone)
        closes = datetime.combine(day, time(0), zone) + timedelta(minutes=e)
        result.append((opens, closes))
    return result


def is_open(hours: Hours, tz: str, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(tz))
    return any(opens <= local < closes for opens, closes in intervals_on(hours, tz, local.date()))


def closes_today_after(hours: Hours, tz: str, at: datetime) -> datetime | None:
    """When the location next closes today (local), if it is open now or opens later today."""
    local = at.astimezone(ZoneInfo(tz))
    ends = [closes for _, closes in intervals_on(hours, tz, local.date()) if closes > local]
    return min(ends) if ends else None
