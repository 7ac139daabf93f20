"""Stats' national-season report and the audit's path of a national entry, without I/O.

A national season receives national entries from two provinces (one through the platform, one by feed); the
report counts per province what was sent, accepted by formal review and graded, against the quota, the same
in any order the events are folded; the layout carries Chinese headers. The audit links a national entry to
the provincial entry it came from.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope
from services.stats.audit.history import entry_ids_of, provincial_entry_of
from services.stats.domain.records import Header, StatsState
from services.stats.domain.reports import reports_for
from services.stats.domain.tables import LAYOUTS

NATIONAL = "CAQ-2026-qc_group"
OPENED = {"season_id": NATIONAL, "organizer": "CAQ", "organizer_name": "中国质量协会", "year": 2026, "kind": "qc_group",
          "title": "2026年全国优秀质量管理小组推荐", "quota": None, "province_quota": {"per_province": 2, "provinces": {"310000": 3}},
          "grade_bands": [{"code": "national_excellent", "label": "全国优秀质量管理小组", "min_score": "85"}]}


def arrival(entry_id: str, province: str, via: str) -> dict[str, Any]:
    return {"season_id": NATIONAL, "entry_id": entry_id, "credit_code": "91310000MA1K0000X0", "unit_name": "某公司",
            "entry_name": "某QC小组", "kind": "qc_group", "qc_type": "problem_solving", "team_type": None, "team_size": 3,
            "province": province, "provincial_season_id": f"{province}-2026-qc_group",
            "provincial_entry_id": f"p-{entry_id}", "via": via}


def events() -> list[tuple[Header, dict[str, Any]]]:
    """(header, payload) per event; each national entry is its own aggregate, its events in version order."""
    items = [(Header("season", 1, "SeasonOpened", 2, NATIONAL, "CAQ"), OPENED)]
    story = {
        "n1": ("310000", "platform", ["FormalReviewPassed", ("EntryGraded", "national_excellent")]),
        "n2": ("310000", "platform", ["FormalReviewPassed", ("EntryGraded", None)]),
        "n3": ("540000", "feed", ["FormalReviewPassed", ("EntryGraded", "national_excellent")]),
        "n4": ("540000", "feed", ["FormalReviewFailed"]),
    }
    for entry_id, (province, via, steps) in story.items():
        source = "feed" if via == "feed" else None
        items.append((Header(entry_id, 1, "NationalEntryReceived", 1, NATIONAL, "CAQ", source, province),
                      arrival(entry_id, province, via)))
        for version, step in enumerate(steps, start=2):
            if isinstance(step, tuple):
                payload = {"season_id": NATIONAL, "entry_id": entry_id, "grade": step[1], "combined_score": "88.00",
                           "grade_label": "全国优秀质量管理小组" if step[1] else None}
                items.append((Header(entry_id, version, step[0], 1, NATIONAL, "CAQ"), payload))
            else:
                items.append((Header(entry_id, version, step, 1, NATIONAL, "CAQ"), {"season_id": NATIONAL,
                                                                                    "entry_id": entry_id}))
    return items


def report_of(ordered: list[tuple[Header, dict[str, Any]]]) -> dict[str, Any]:
    state = StatsState()
    for header, payload in ordered:
        state.apply(header, payload)
    return reports_for(state.seasons)[f"season/{NATIONAL}/provinces"]


def test_the_national_season_counts_per_province_what_was_sent_accepted_and_graded() -> None:
    report = report_of(events())
    rows = {row["province"]: row for row in report["provinces"]}
    assert {key: rows["310000"][key] for key in ("sent", "via_platform", "via_feed", "accepted", "graded", "quota",
                                                 "remaining")} == {
        "sent": 2, "via_platform": 2, "via_feed": 0, "accepted": 2, "graded": 2, "quota": 3, "remaining": 1}
    assert {key: rows["540000"][key] for key in ("sent", "via_feed", "accepted", "graded", "quota", "remaining")} == {
        "sent": 2, "via_feed": 2, "accepted": 1, "graded": 1, "quota": 2, "remaining": 0}
    assert [(grade["code"], grade["label"], grade["count"]) for grade in rows["310000"]["grades"]] == [
        ("national_excellent", "全国优秀质量管理小组", 1), ("none", "未达等级", 1)]
    assert report["total"] == {"provinces": 2, "sent": 4, "via_platform": 2, "via_feed": 2, "accepted": 3, "graded": 3}


def test_any_interleaving_of_the_entries_folds_to_the_same_report() -> None:
    items = events()
    expected = report_of(items)
    by_aggregate: dict[str, list[tuple[Header, dict[str, Any]]]] = {}
    for item in items:
        by_aggregate.setdefault(item[0].aggregate_id, []).append(item)
    for order in itertools.islice(itertools.permutations(sorted(by_aggregate)), 24):
        assert report_of([item for key in order for item in by_aggregate[key]]) == expected


def test_a_provincial_season_has_no_national_intake_report() -> None:
    state = StatsState()
    state.apply(Header("season", 1, "SeasonOpened", 2, "310000-2026-qc_group", "310000"),
                OPENED | {"season_id": "310000-2026-qc_group", "organizer": "310000", "province_quota": None})
    assert "season/310000-2026-qc_group/provinces" not in reports_for(state.seasons)


def test_the_layout_has_the_chinese_headers() -> None:
    (sheet,) = LAYOUTS["provinces"](report_of(events()))
    assert sheet.columns[:3] == ["省份代码", "全国推荐名额", "报送数"] and sheet.rows[-1][0] == "合计"


def envelope(type_: str, payload: dict[str, Any]) -> Envelope:
    now = datetime(2026, 8, 20, tzinfo=UTC)
    return Envelope.model_validate({
        "event_id": str(uuid.uuid4()), "type": type_, "schema_version": 1, "aggregate_id": str(uuid.uuid4()),
        "aggregate_version": 1, "season_id": payload["season_id"], "organizer": "CAQ", "occurred_at": now,
        "recorded_at": now, "actor": {"id": "staff", "role": "organizer", "org": "310000"}, "channel": "organizer",
        "source": {"province": "310000"}, "trace_id": "t",
        "payload": payload})


def test_the_audit_links_a_national_entry_to_the_provincial_entry_it_came_from() -> None:
    received = envelope("NationalEntryReceived", arrival("n1", "310000", "platform"))
    made = envelope("NationalRecommendationMade", {"season_id": "310000-2026-qc_group", "entry_id": "p-n1",
                                                   "national_entry_id": "n1"})
    assert entry_ids_of(received) == ["n1", "p-n1"] and entry_ids_of(made) == ["n1", "p-n1"]
    assert provincial_entry_of("n1", [made, received]) == "p-n1"
    assert provincial_entry_of("p-n1", [made, received]) is None, "a provincial entry's history stays its own"


def test_the_national_view_shows_per_province_what_went_to_the_national_season() -> None:
    state = StatsState()
    for header, payload in events():
        state.apply(header, payload)
    for province, season_id in (("310000", "310000-2026-qc_group"), ("540000", "540000-2026-qc_group")):
        state.apply(Header(f"season-{province}", 1, "SeasonOpened", 2, season_id, province),
                    OPENED | {"season_id": season_id, "organizer": province, "province_quota": None})
    reports = reports_for(state.seasons)
    overview = reports["national/2026/overview"]
    assert [row["organizer"] for row in overview["provinces"]] == ["310000", "540000"], "the national season is no row"
    rows = {row["organizer"]: [row[key] for key in ("national_sent", "national_accepted", "national_graded")]
            for row in overview["provinces"]}
    assert rows == {"310000": [2, 2, 2], "540000": [2, 1, 1]}
    assert [overview["total"][key] for key in ("national_sent", "national_accepted", "national_graded")] == [4, 3, 3]
    assert reports_for(state.seasons, [NATIONAL])["national/2026/overview"] == overview, \
        "a change in the national season alone recomputes the national view"
    sheets = LAYOUTS["national-overview"](overview)
    assert sheets[-1].title == "推荐全国" and sheets[-1].rows[0][4:] == [2, 2, 2]
