"""The reminder ladder decision (clock injected, no sleeps) and what a message says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scim_server.notify.message import Notice, subject, text, webhook_body
from scim_server.notify.outbox import MAX_LISTED, _merge
from scim_server.notify.reminders import Ladder, passed

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DEFAULT = Ladder((timedelta(days=1), timedelta(days=3)), timedelta(days=7))
ladders = st.builds(
    lambda rungs, every: Ladder(tuple(sorted(timedelta(hours=h) for h in set(rungs))), timedelta(hours=every)),
    st.lists(st.integers(1, 24 * 30), max_size=4), st.integers(1, 24 * 14),
)  # fmt: skip
ages = st.integers(0, 24 * 3600 * 120).map(lambda s: timedelta(seconds=s))


def test_default_ladder_one_day_three_days_then_weekly() -> None:
    at = [START + timedelta(hours=h) for h in (23, 24, 71, 72, 239, 240, 407, 408)]
    assert [passed(t, START, DEFAULT) for t in at] == [0, 1, 1, 2, 2, 3, 3, 4]


@given(ladders, ages, ages)
def test_rungs_passed_never_go_back_and_each_is_one_time(ladder: Ladder, a: timedelta, b: timedelta) -> None:
    early, late = sorted((a, b))
    assert passed(START + early, START, ladder) <= passed(START + late, START, ladder)
    times = [*ladder.after]
    last = ladder.after[-1] if ladder.after else timedelta(0)
    k = 1
    while last + ladder.every * k <= late:
        times.append(last + ladder.every * k)
        k += 1
    assert passed(START + late, START, ladder) == sum(1 for t in times if t <= late)


def test_message_names_people_app_and_link_and_says_how_many_more() -> None:
    people = [{"email": f"p{i}@example.com", "display_name": f"P {i}", "reason": "deactivated"} for i in range(3)]
    data = {"report_id": "r-1", "app_id": "a-1", "app_label": "Ads", "app_kind": "tiktok", "opened": True,
            "people": people}  # fmt: skip
    for i in range(MAX_LISTED + 5):
        data = _merge(data, {"people": [{"email": f"q{i}@example.com"}]}, ("people",))
    assert len(data["people"]) == MAX_LISTED and data["people_total"] == MAX_LISTED + 8
    notice = Notice("n-1", 7, "report.opened", data, START)
    assert subject(notice) == f"[scim-bridge] New deprovision report in Ads: {MAX_LISTED + 8} people"
    body = text(notice, "https://bridge.example.com/")
    assert "P 1 <p1@example.com> (deactivated)" in body and "... and 8 more" in body
    assert "https://bridge.example.com/console/reports#report-r-1" in body
    assert b'"link":"https://bridge.example.com/console/reports#report-r-1"' in webhook_body(notice, "https://bridge.example.com")


def test_merge_keeps_opened_and_drops_repeats() -> None:
    one = {"email": "a@example.com"}
    merged = _merge({"people": [one], "opened": True}, {"people": [one], "opened": False, "held_reason": "x"}, ("people",))
    assert merged["people"] == [one] and merged["opened"] is True and merged["held_reason"] == "x"
