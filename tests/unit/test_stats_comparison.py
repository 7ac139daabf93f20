"""A rebuild's comparison: equal states compare by digests (and equal records) without walking any report for
differences; unequal ones still list where they differ (report, path, both values)."""

from __future__ import annotations

import copy

import pytest

from services.stats.adapters.store import packed, unpacked
from services.stats.domain import comparison
from services.stats.domain.comparison import compare_states, differences, report_digest
from services.stats.domain.reports import reports_for
from tests.unit.test_stats_reports import PLAN, SHANDONG, events, fold_all, interleaved


def _refuse(*_: object, **__: object) -> None:
    raise AssertionError("equal states must not be walked for differences")


def test_equal_reports_compare_by_digest_without_walking_them(monkeypatch: pytest.MonkeyPatch) -> None:
    envelopes = events(PLAN, SHANDONG)
    live = reports_for(fold_all(envelopes).seasons)
    rebuilt = reports_for(fold_all(interleaved(envelopes, seed=1)).seasons)
    monkeypatch.setattr(comparison, "_normalised", _refuse)
    assert differences(live, rebuilt) == []


def test_equal_states_are_compared_without_computing_the_live_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    envelopes = events(PLAN, SHANDONG)
    live, rebuilt = fold_all(envelopes), fold_all(interleaved(envelopes, seed=2))
    monkeypatch.setattr(comparison, "reports_for", _refuse)
    monkeypatch.setattr(comparison, "differences", _refuse)
    outcome = compare_states(live.seasons, _streamed(rebuilt.seasons), pack=packed)
    assert (outcome.differences, outcome.live_computed) == ([], False)
    assert {key: unpacked(value) for key, value in outcome.rebuilt.items()} == _plain(rebuilt.seasons), \
        "the rebuilt reports are handed on as the store writes them"


def test_unequal_states_list_their_differences() -> None:
    envelopes = events(PLAN)
    rebuilt = fold_all(envelopes)
    live = fold_all(envelopes)
    registration = next(record for record in live.records.values() if "registration" in record)
    changed = copy.deepcopy(registration)
    changed["registration"]["unit_nature"] = "foreign_owned"
    live.put(changed)
    outcome = compare_states(live.seasons, _streamed(rebuilt.seasons), pack=packed)
    assert outcome.live_computed is True
    assert outcome.differences and {item["report"] for item in outcome.differences} <= {
        key for key in outcome.rebuilt if key.startswith(f"season/{PLAN.season_id}/")}
    assert all(set(item) == {"report", "path", "live", "rebuilt"} for item in outcome.differences)
    overview = [item for item in outcome.differences if item["report"] == f"season/{PLAN.season_id}/overview"]
    assert overview, "the overview counts registrations by unit nature"


def test_only_the_reports_whose_digests_differ_are_walked() -> None:
    live = reports_for(fold_all(events(PLAN)).seasons)
    rebuilt = copy.deepcopy(live)
    key = f"season/{PLAN.season_id}/overview"
    rebuilt[key]["registrations"] += 1
    assert report_digest(live[key]) != report_digest(rebuilt[key])
    assert differences(live, rebuilt) == [{"report": key, "path": "/registrations",
                                           "live": live[key]["registrations"], "rebuilt": live[key]["registrations"] + 1}]


def test_a_report_one_side_lacks_is_a_difference() -> None:
    live = reports_for(fold_all(events(PLAN)).seasons)
    rebuilt = {key: value for key, value in live.items() if not key.endswith("/judge-workload")}
    found = differences(live, rebuilt)
    assert [(item["report"], item["path"], item["rebuilt"]) for item in found] == [
        (f"season/{PLAN.season_id}/judge-workload", "/", None)]


def test_the_digest_does_not_depend_on_the_order_of_keys() -> None:
    assert report_digest({"a": 1, "b": {"c": 2, "d": 3}}) == report_digest({"b": {"d": 3, "c": 2}, "a": 1})
    assert report_digest({"a": 1}) != report_digest({"a": 2})


def _streamed(seasons: dict) -> list:
    """Each season's records as a rebuild gives them: read afresh at each call."""
    return [(season_id, lambda records=records: iter(list(records.values()))) for season_id, records in seasons.items()]


def _plain(seasons: dict) -> dict:
    return {key: unpacked(packed(value)) for key, value in reports_for(seasons).items()}
