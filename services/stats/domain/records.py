"""Stats' reducer: one record per source aggregate, folded from that aggregate's events.

A record holds what the reports need of its aggregate and the aggregate's last applied version;
an event whose version is not newer changes nothing, so redelivery and replay are harmless.
Aggregates never share a record and Kafka keeps each aggregate's events in order, so any
interleaving of partitions and topics folds to the same records: a rebuild from offset 0 equals
the live state exactly. Reports join records only when they are computed (services/stats/domain/reports.py).

The reducer reads payloads as they travel (JSON values: decimals are strings), upcast to the
current schema version, and keeps only the fields a report shows.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from contracts.registry import EventContract, registered_types
from contracts.season_profile import adjusted_profile_fields

Record = dict[str, Any]
Payload = dict[str, Any]
Fold = Callable[[Record, Payload], None]

PROVINCE_SUFFIX = "0000"
FEED = "feed"


@dataclass(frozen=True, slots=True)
class Header:
    """What the reducer reads of an envelope besides its payload."""

    aggregate_id: str
    aggregate_version: int
    type: str
    schema_version: int
    season_id: str | None
    organizer: str | None
    # `source.system` and `source.province` of the envelope: a province's feed says "feed" and its code
    source_system: str | None = None
    source_province: str | None = None

    @classmethod
    def of(cls, envelope: dict[str, Any]) -> Header:
        """The header of an envelope as it travels (JSON); KeyError, TypeError or ValueError if it is not one."""
        source = envelope.get("source") or {}
        return cls(
            str(envelope["aggregate_id"]), int(envelope["aggregate_version"]), envelope["type"],
            int(envelope["schema_version"]), envelope.get("season_id"), envelope.get("organizer"),
            source.get("system"), source.get("province"),
        )


def _pick(payload: Payload, *names: str) -> dict[str, Any]:
    return {name: payload.get(name) for name in names}


# ---------------------------------------------------------------- registered


def _season_opened(record: Record, data: Payload) -> None:
    record["season"] = _pick(data, "season_id", "organizer", "organizer_name", "year", "kind", "title", "quota",
                             "province_quota", "profile") | {
        "grade_bands": [_pick(band, "code", "label", "min_score") for band in data.get("grade_bands") or []],
        # review rounds (a season opened before rounds: 文审 and 发表赛, from its upcaster)
        "rounds": [_pick(item, "code", "label") | {"gate": item.get("gate") is not None}
                   for item in data.get("rounds") or []],
    }


def _season_profile_adjusted(record: Record, data: Payload) -> None:
    record.setdefault("season", {}).update(adjusted_profile_fields(data))


def _unit_registered(record: Record, data: Payload) -> None:
    record["registration"] = _pick(
        data, "credit_code", "unit_name", "member", "unit_nature", "key_domain", "recommender_id"
    ) | {"key_industries": list(data.get("key_industries") or [])}


def _recommender_registered(record: Record, data: Payload) -> None:
    record["recommender"] = _pick(data, "recommender_id", "name", "category", "region_code")


def _quota_raised(record: Record, data: Payload) -> None:
    record.setdefault("quota_raised", {})[data["recommender_id"]] = data["quota"]


def _judge_registered(record: Record, data: Payload) -> None:
    record["judge"] = _pick(data, "judge_id", "name", "work_unit", "certificate_no", "recommender_id")


# ---------------------------------------------------------------- submitted


def _entry_form(record: Record, data: Payload) -> None:
    form = data["form"]
    qc = form["kind"] == "qc_group"
    record["entry"] = {
        "entry_id": data["entry_id"],
        "kind": form["kind"],
        "type": form.get("qc_type") if qc else form.get("team_type"),
        "credit_code": form["credit_code"],
        "unit_name": form["unit_name"],
        "recommender_id": form.get("recommender_id"),
        "name": f"{form['group_name']}《{form['topic']}》" if qc else form["team_name"],
        "size": len(form.get("members") or []) if qc else form.get("team_size"),
    }
    record.setdefault("entry_status", "submitted")


def _entry_withdrawn(record: Record, _: Payload) -> None:
    record["entry_status"] = "withdrawn"


def _unit_confirmed(record: Record, _: Payload) -> None:
    if record.get("entry_status") != "withdrawn":
        record["entry_status"] = "confirmed"


def _statistics_filed(record: Record, data: Payload) -> None:
    form = dict(data["form"])
    period = form.pop("period")
    meeting = form.pop("presentation_meeting", None)
    figures = {key: value for key, value in form.items() if isinstance(value, (int, str)) and key in FIGURES}
    record["statistics"] = {
        "recommender_id": data["recommender_id"],
        "kind": data["kind"],
        "period": period,
        "figures": figures,
        "meeting": _pick(meeting, "registered_teams", "presented_teams", "held_on", "place", "attendees")
        if meeting else None,
        "review_forms": list(form.get("review_forms") or []),
        "exchange": form.get("exchange"),
        "typed_rates": {key: form[key] for key in TYPED_RATES if form.get(key) is not None},
        "texts": {key: form[key] for key in TEXT_ITEMS if form.get(key)},
        "profile": data.get("profile"),
    }


def _work_summary_filed(record: Record, data: Payload) -> None:
    record["work_summary"] = {
        "recommender_id": data["recommender_id"],
        "kind": data["kind"],
        "period": data["form"]["period"],
        "characters": data.get("characters"),
        "activities": len(data["form"].get("activities") or []),
    }


# ---------------------------------------------------------------- a province's feed (the `fed` family)


PROVINCIAL_RECOMMENDATION_FIELDS = ("entry_id", "province", "recommender_id", "recommender_name", "rank", "recommended_on")
PROVINCIAL_RESULT_FIELDS = ("entry_id", "province", "grade", "grade_label", "score", "certificate_no", "published_on")
QUARANTINE_FIELDS = ("service", "province", "record_type", "external_id")


def _provincial(name: str, fields: tuple[str, ...]) -> Fold:
    """A province's recommendation or result of an entry (its own aggregate per entry); an amendment replaces it."""

    def fold(record: Record, data: Payload) -> None:
        record[name] = _pick(data, *fields) | {"external_id": data.get("entry")}

    return fold


def _quarantined(record: Record, data: Payload) -> None:
    record["quarantine"] = _pick(data, *QUARANTINE_FIELDS) | {"resolved": False}


def _quarantine_resolved(record: Record, data: Payload) -> None:
    record["quarantine"] = _pick(data, *QUARANTINE_FIELDS) | {"resolved": True}


# ---------------------------------------------------------------- recommended / scored / published


SUMMARY_FIELDS = ("entry_id", "credit_code", "unit_name", "entry_name", "kind", "qc_type", "team_type", "team_size")
FORM_FIELDS = ("conformance", "features", "shortcomings", "score", "rank", "opinion", "filled_by", "phone", "filled_on")
JUDGE_FIELDS = ("name", "work_unit", "certificate_no", "address", "email", "mobile")


def _review_of(record: Record, data: Payload) -> Record:
    review = record.setdefault("review", {"entry_id": data["entry_id"]})
    return review


def _recommended(record: Record, data: Payload) -> None:
    _review_of(record, data)["recommendation"] = {"channel": "recommended", "recommender_id": data["recommender_id"]} | (
        _pick(data, *SUMMARY_FIELDS, *FORM_FIELDS)
        | {
            "judges": [_pick(judge, *JUDGE_FIELDS) for judge in data.get("judges") or []],
            "declaration": _pick(data.get("declaration") or {}, "accepted", "signer", "signed_on"),
            "declaration_text": data.get("declaration_text"),
        }
    )


def _accepted_directly(record: Record, data: Payload) -> None:
    _review_of(record, data)["recommendation"] = {
        "channel": "direct", "recommender_id": data.get("recommender_id")
    } | _pick(data, *SUMMARY_FIELDS, "opinion")


def _revoked(record: Record, data: Payload) -> None:
    _review_of(record, data)["recommendation"] = None


def _withdrawn_for_cancellation(record: Record, data: Payload) -> None:
    """推荐无效: the recommending unit lost its right to recommend; like a revocation, its quota is freed."""
    review = _review_of(record, data)
    review["recommendation"] = None
    review["withdrawn"] = _pick(data, "recommender_id", "reason")


def _recommender_cancelled(record: Record, data: Payload) -> None:
    record["cancellation"] = _pick(data, "recommender_id", "reason")


def _formal_review(outcome: str) -> Fold:
    def fold(record: Record, data: Payload) -> None:
        _review_of(record, data)["formal_review"] = outcome

    return fold


def _graded(record: Record, data: Payload) -> None:
    _review_of(record, data)["grade"] = _pick(data, "grade", "grade_label", "combined_score")


def _regraded(record: Record, data: Payload) -> None:
    _review_of(record, data)["grade"] = _pick(data, "grade", "grade_label", "combined_score") | {"regraded": True}


def _gate(outcome: str) -> Fold:
    """A gate's outcome for the entry (晋级 / 未晋级), with its reason, under the gate round's code."""

    def fold(record: Record, data: Payload) -> None:
        rounds = _review_of(record, data).setdefault("rounds", {})
        rounds[data["stage"]] = {"outcome": outcome} | _pick(data, "score", "rank") | (
            {"reason": data["reason"]} if outcome == "not_advanced" else {"next_stage": data["next_stage"]})

    return fold


def _flag(name: str, value_of: Callable[[Payload], Any] = lambda _: True) -> Fold:
    def fold(record: Record, data: Payload) -> None:
        _review_of(record, data)[name] = value_of(data)

    return fold


def _objection(status_of: Callable[[Payload], str]) -> Fold:
    def fold(record: Record, data: Payload) -> None:
        _review_of(record, data).setdefault("objections", {})[data["objection_id"]] = status_of(data)

    return fold


def _judges_assigned(record: Record, data: Payload) -> None:
    record["assignment"] = _pick(data, "entry_id", "stage") | {"judge_ids": sorted(map(shared, data["judge_ids"])),
                                                               "blocked": None}


def _assignment_blocked(record: Record, data: Payload) -> None:
    assignment = record.setdefault("assignment", _pick(data, "entry_id", "stage") | {"judge_ids": []})
    assignment["blocked"] = data["reason"]


SCORE_FIELDS = ("entry_id", "stage", "judge_id", "total")


def _score(record: Record, data: Payload) -> None:
    revisions = (record.get("score") or {}).get("revisions", 0) + ("previous_total" in data)
    record["score"] = {name: shared(data.get(name)) for name in SCORE_FIELDS} | {"revisions": revisions}


def _national_entry_received(record: Record, data: Payload) -> None:
    """National flow (issue 10): a national season's entry, recommended by its province (through the platform or its feed)."""
    review = _review_of(record, data)
    review["recommendation"] = {"channel": "national", "recommender_id": data["province"]} | _pick(data, *SUMMARY_FIELDS)
    review["national_entry"] = _pick(data, "province", "provincial_season_id", "provincial_entry_id", "via",
                                     "provincial_grade", "provincial_grade_label")


def _notice_opened(record: Record, data: Payload) -> None:
    record["noticed"] = sorted(set(record.get("noticed") or []) | set(data["entry_ids"]))


def _results_published(record: Record, data: Payload) -> None:
    record["publications"] = record.get("publications", 0) + 1
    record["certificates"] = record.get("certificates", 0) + data["certificates"]


FOLDS: dict[str, Fold] = {
    "SeasonOpened": _season_opened,
    "SeasonProfileAdjusted": _season_profile_adjusted,
    "UnitRegistered": _unit_registered,
    "UnitRegistrationAmended": _unit_registered,
    "RecommenderRegistered": _recommender_registered,
    "RecommenderQuotaRaised": _quota_raised,
    "JudgeRegistered": _judge_registered,
    "EntrySubmitted": _entry_form,
    "EntryAmended": _entry_form,
    "EntryWithdrawn": _entry_withdrawn,
    "UnitConfirmed": _unit_confirmed,
    "StatisticsFiled": _statistics_filed,
    "StatisticsAmended": _statistics_filed,
    "WorkSummaryFiled": _work_summary_filed,
    "WorkSummaryAmended": _work_summary_filed,
    "EntryRecommended": _recommended,
    "EntryAcceptedDirectly": _accepted_directly,
    "RecommendationRevoked": _revoked,
    "RecommendationWithdrawn": _withdrawn_for_cancellation,
    "RecommenderCancelled": _recommender_cancelled,
    "FormalReviewPassed": _formal_review("passed"),
    "FormalReviewFailed": _formal_review("failed"),
    "FormalReviewResubmitted": _formal_review("resubmitted"),
    "EntryGraded": _graded,
    "EntryRegraded": _regraded,
    "EntryAdvanced": _gate("advanced"),
    "EntryNotAdvanced": _gate("not_advanced"),
    "GuidingUnitsApproved": _flag("approved"),
    "ObjectionFiled": _objection(lambda _: "filed"),
    "ObjectionResolved": _objection(lambda data: data["outcome"]),
    "EntryResultWithdrawn": _flag("result_withdrawn"),
    "EntryPublished": _flag("certificate_no", lambda data: data["certificate_no"]),
    "NationalRecommendationMade": _flag("national", lambda data: data["national_season_id"]),
    "NationalEntryReceived": _national_entry_received,
    "JudgesAssigned": _judges_assigned,
    "AssignmentBlocked": _assignment_blocked,
    "ScoreRecorded": _score,
    "ScoreRevised": _score,
    "NoticeOpened": _notice_opened,
    "ResultsPublished": _results_published,
    "ProvincialRecommendationRecorded": _provincial("provincial_recommendation", PROVINCIAL_RECOMMENDATION_FIELDS),
    "ProvincialRecommendationAmended": _provincial("provincial_recommendation", PROVINCIAL_RECOMMENDATION_FIELDS),
    "ProvincialResultRecorded": _provincial("provincial_result", PROVINCIAL_RESULT_FIELDS),
    "ProvincialResultAmended": _provincial("provincial_result", PROVINCIAL_RESULT_FIELDS),
    "FeedRecordQuarantined": _quarantined,
    "FeedQuarantineResolved": _quarantine_resolved,
}

# The statistics tables' figures: counts and amounts (万元) that sum up from recommending units to the nation.
FIGURES = frozenset({
    "registered_groups_cumulative", "registered_groups", "participants", "total_staff", "active_groups",
    "groups_with_results", "economic_benefit_cumulative", "economic_benefit", "funding", "rewards",
    "training_sessions", "training_participants",
    "enterprises", "teams", "teams_cumulative", "participating_staff", "teams_recommended", "caq_certified_judges",
})


# 统计表 rates a season's form may have typed in (Shandong 附件2), and the text items kept beside the figures:
# 主要特点与建议/问题, contacts (工作归口部门及负责人, 联系人…), who filled it in and when.
TYPED_RATES = frozenset({"participation_rate", "achievement_rate"})
TEXT_ITEMS = ("features_and_suggestions", "features_and_problems", "contact", "filled_by", "filled_on")


def relevant(event_type: str) -> bool:
    """Whether stats folds events of this type (others are skipped without decoding their payload)."""
    return event_type in FOLDS


@cache
def _contract(event_type: str) -> EventContract:
    return registered_types()[event_type]


def upcast(event_type: str, schema_version: int, payload: Payload) -> Payload:
    """A payload of an older schema version in the current version's shape, by the contracts' upcasters."""
    contract = _contract(event_type)
    if schema_version >= contract.version:
        return payload
    data = dict(payload)
    for step in range(schema_version, contract.version):
        data = contract.upcasters[step](data)
    return data


def fold(record: Record | None, header: Header, payload: Payload) -> Record | None:
    """The record after this event, changed in place (a new one for a first event); None if nothing changed."""
    apply = FOLDS.get(header.type)
    if apply is None:
        return None
    if record is None:
        record = {"_id": header.aggregate_id, "v": 0}
    elif record["v"] >= header.aggregate_version:
        return None
    apply(record, upcast(header.type, header.schema_version, payload))
    record["v"] = header.aggregate_version
    season_id = payload.get("season_id") or header.season_id
    if season_id:
        record["season_id"] = shared(season_id)
    if header.organizer:
        record["organizer"] = shared(header.organizer)
    if header.source_system == FEED:
        # which records came through a province's feed rather than directly (the national view counts both)
        record["fed"] = shared(header.source_province) or record.get("organizer")
    return record


def shared(value: Any) -> Any:
    """One string object for a value most records repeat (a season, an organizer, a stage, a judge): a state of
    a million records holds each once instead of once per record."""
    return sys.intern(value) if type(value) is str else value


def shared_record(record: Record) -> Record:
    """A record read back (a snapshot, a fold process's share) with the values `fold` shares, shared again."""
    for name in ("season_id", "organizer", "fed"):
        if name in record:
            record[name] = shared(record[name])
    score = record.get("score")
    if isinstance(score, dict):
        for name in SCORE_FIELDS:
            if name in score:
                score[name] = shared(score[name])
    assignment = record.get("assignment")
    if isinstance(assignment, dict) and isinstance(assignment.get("judge_ids"), list):
        assignment["judge_ids"] = [shared(judge_id) for judge_id in assignment["judge_ids"]]
    return record


@dataclass
class StatsState:
    """Every record, by aggregate id and by season, with the seasons changed since last asked."""

    records: dict[str, Record] = field(default_factory=dict)
    seasons: dict[str, dict[str, Record]] = field(default_factory=dict)
    changed_seasons: set[str] = field(default_factory=set)

    def __repr__(self) -> str:
        # short: a state holds every record, which a default repr would print in a log line or a traceback
        return f"StatsState(records={len(self.records)}, seasons={len(self.seasons)})"

    def put(self, record: Record) -> None:
        self.records[record["_id"]] = record
        season_id = record.get("season_id")
        if season_id:
            self.seasons.setdefault(season_id, {})[record["_id"]] = record
            self.changed_seasons.add(season_id)

    def apply(self, header: Header, payload: Payload) -> Record | None:
        """Fold one event in place; the changed record, or None."""
        record = fold(self.records.get(header.aggregate_id), header, payload)
        if record is not None:
            self.put(record)
        return record

    def take_changed_seasons(self) -> set[str]:
        changed, self.changed_seasons = self.changed_seasons, set()
        return changed

    @classmethod
    def of(cls, records: list[Record]) -> StatsState:
        state = cls()
        for record in records:
            state.put(shared_record(record))
        state.changed_seasons.clear()
        return state


def is_province(organizer: str | None) -> bool:
    """A provincial association's seasons (GB/T 2260 code ending in 0000) roll up into the national view."""
    return bool(organizer) and len(organizer) == 6 and organizer.isdigit() and organizer.endswith(PROVINCE_SUFFIX)
