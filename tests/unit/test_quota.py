"""The per-organiser daily quota on creating events (backend/booking/quota.py)."""

from __future__ import annotations

import pytest

from backend.booking.quota import WINDOW_MS, CreationQuota
from backend.errors import InvalidInput, QuotaExceeded

NOW = 10 * WINDOW_MS  # any instant; creations are (at_ms, seats)
HOUR = 3600 * 1000


def test_within_both_limits_passes() -> None:
    quota = CreationQuota(events=3, seats=100)
    quota.check([], 100, NOW)
    quota.check([(NOW - HOUR, 40), (NOW - 1, 10)], 50, NOW)


def test_zero_is_no_limit() -> None:
    CreationQuota(events=0, seats=0).check([(NOW - 1, 10**6)] * 1000, 10**6, NOW)
    CreationQuota(events=2, seats=0).check([(NOW - 1, 10**6)], 10**6, NOW)
    CreationQuota(events=0, seats=10).check([(NOW - 1, 1)] * 9, 1, NOW)


def test_one_event_too_many_waits_for_the_oldest_to_leave_the_window() -> None:
    quota = CreationQuota(events=2, seats=0)
    oldest = NOW - 23 * HOUR
    with pytest.raises(QuotaExceeded) as refused:
        quota.check([(NOW - HOUR, 5), (oldest, 5)], 5, NOW)
    error = refused.value
    assert error.status_code == 429 and error.code == "quota_exceeded"
    assert error.retry_after == 3600  # the oldest creation leaves the window in an hour
    assert error.body()["retryAfter"] == 3600
    assert "2 events in the last 24 hours (the limit is 2)" in error.message
    assert "fits in 1 h" in error.message
    assert error.body()["quota"] == {
        "events": 2,
        "seats": 0,
        "eventsUsed": 2,
        "seatsUsed": 10,
        "windowSeconds": 86_400,
    }


def test_too_many_seats_waits_until_enough_seats_have_left() -> None:
    quota = CreationQuota(events=0, seats=100)
    recent = [(NOW - 20 * HOUR, 30), (NOW - 10 * HOUR, 30), (NOW - 90_500, 30)]
    with pytest.raises(QuotaExceeded) as refused:
        quota.check(recent, 50, NOW)  # 90 + 50 > 100: the two oldest must go (30 + 50 fits)
    assert refused.value.retry_after == 14 * 3600
    assert "90 seats in the last 24 hours" in refused.value.message
    assert "limit of 100" in refused.value.message
    quota.check(recent, 10, NOW)  # 90 + 10 fits


def test_the_wait_is_rounded_up_to_a_whole_second_and_at_least_one() -> None:
    quota = CreationQuota(events=1, seats=0)
    with pytest.raises(QuotaExceeded) as refused:
        quota.check([(NOW - WINDOW_MS + 1500, 1)], 1, NOW)
    assert refused.value.retry_after == 2
    with pytest.raises(QuotaExceeded) as refused:
        quota.check([(NOW - WINDOW_MS, 1)], 1, NOW)  # leaving this very millisecond
    assert refused.value.retry_after == 1


def test_an_event_larger_than_the_daily_seats_never_fits() -> None:
    with pytest.raises(InvalidInput, match="at most 100 seats on this server"):
        CreationQuota(events=0, seats=100).check([], 101, NOW)
