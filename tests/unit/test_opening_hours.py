from datetime import UTC, datetime

import pytest

from omniretail.locations import geo
from omniretail.locations.hours import DAYS, HoursError, closes_today_after, format_hours, is_open, parse_hours


def test_text_and_object_forms_give_the_same_hours():
    text = parse_hours("mon-fri 09:00-18:00; sat 10:00-14:00; sun closed")
    obj = parse_hours({d: [["09:00", "18:00"]] for d in DAYS[:5]} | {"sat": [["10:00", "14:00"]]})
    assert text == obj
    assert text["sun"] == [] and text["mon"] == [["09:00", "18:00"]]


def test_split_days_and_midnight_close_are_accepted():
    hours = parse_hours("mon 08:00-12:00,13:00-24:00")
    assert hours["mon"] == [["08:00", "12:00"], ["13:00", "24:00"]]


def test_format_round_trips():
    hours = parse_hours("mon-fri 09:00-18:00; sat 10:00-14:00")
    assert parse_hours(format_hours(hours)) == hours


@pytest.mark.parametrize("value, message", [
    ("mon 18:00-09:00", "closes before it opens"),
    ("funday 09:00-10:00", "not a day"),
    ("mon 09:00-12:00,11:00-13:00", "overlaps"),
    ("mon 9-17", "not a time of day"),
    ({"mon": [["09:00"]]}, "pair"),
    ({"holiday": []}, "unknown day"),
    ("mon 09:00-10:00; mon 11:00-12:00", "given twice"),
    ("fri-mon 09:00-10:00", "backwards"),
])
def test_bad_hours_are_refused_with_a_reason(value, message):
    with pytest.raises(HoursError, match=message):
        parse_hours(value)


def test_open_and_closed_are_judged_in_the_location_s_time_zone():
    hours = parse_hours("mon-fri 09:00-18:00")
    # Monday 2026-11-23 08:30 UTC is 09:30 in Berlin (UTC+1) and 03:30 in New York.
    at = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    assert is_open(hours, "Europe/Berlin", at)
    assert not is_open(hours, "America/New_York", at)
    assert closes_today_after(hours, "Europe/Berlin", at) == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def test_haversine_gives_one_degree_of_a_meridian_and_the_berlin_to_munich_distance():
    assert round(geo.haversine_km(10.0, 5.0, 11.0, 5.0), 3) == 111.195
    assert round(geo.haversine_km(52.52437, 13.41053, 48.13743, 11.57549)) == 505


def test_a_box_across_the_180th_meridian_splits_into_two_longitude_ranges():
    _, _, ranges = geo.bounding_box(0.0, 179.99, 10)
    assert len(ranges) == 2 and ranges[0][1] == 180.0 and ranges[1][0] == -180.0
    assert any(low <= -179.99 <= high for low, high in ranges)


def test_a_box_reaching_a_pole_covers_every_longitude():
    assert geo.bounding_box(89.95, 10.0, 20)[2] == [(-180.0, 180.0)]
