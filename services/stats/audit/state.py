"""An entry as the platform knew it at an instant, folded from its events across submission and review.

Pure: the events in, the state out. Only events recorded at or before the instant count; payloads
are read as recorded (every field the fold uses exists in every version of its event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from contracts import Envelope
from services.stats.audit.history import entry_ids_of, instant, recorded_order

State = dict[str, Any]
Fold = Callable[[State, Envelope], None]


def new_state() -> State:
    return {
        "form": None,
        "status": None,
        "withdrawal": None,
        "confirmation": None,
        "recommendation": None,
        "formal_review": None,
        "judges": {},
        "scores": {},
        "grade": None,
        "rounds": {},
        "approval": None,
        "notice": None,
        "objections": {},
        "result_withdrawn": None,
        "publication": None,
        "national_recommendation": None,
        "provincial_recommendation": None,
        "provincial_result": None,
    }


def _form(form: dict[str, Any]) -> dict[str, Any]:
    """What identifies the entry on its form: kind, type, title, unit, group or team."""
    qc_group = form.get("kind") == "qc_group"
    return {
        "kind": form.get("kind"),
        "type": form.get("qc_type") if qc_group else form.get("team_type"),
        "title": form.get("topic") if qc_group else form.get("team_name"),
        "unit": {"credit_code": form.get("credit_code"), "unit_name": form.get("unit_name")},
        "group_or_team": form.get("group_name") if qc_group else form.get("team_name"),
        "recommender_id": form.get("recommender_id"),
        "fields": form,
    }


def _by(envelope: Envelope) -> dict[str, Any]:
    return {"actor": envelope.actor.model_dump(mode="json"), "at": instant(envelope.occurred_at)}


def _submitted(state: State, event: Envelope) -> None:
    state["form"] = _form(event.payload["form"])
    state["status"] = "submitted"


def _amended(state: State, event: Envelope) -> None:
    state["form"] = _form(event.payload["form"]) | {"changed": event.payload.get("changed", [])}
    state["status"] = "amended"


def _withdrawn(state: State, event: Envelope) -> None:
    state["status"] = "withdrawn"
    state["withdrawal"] = {"reason": event.payload.get("reason")} | _by(event)


def _confirmed(state: State, event: Envelope) -> None:
    state["status"] = "confirmed"
    keep = ("self_evaluation", "self_score", "opinion", "sealed_on")
    state["confirmation"] = {key: event.payload.get(key) for key in keep} | _by(event)


def _recommended(state: State, event: Envelope) -> None:
    keep = ("recommender_id", "rank", "score", "opinion", "conformance", "features", "shortcomings")
    state["recommendation"] = {"channel": "recommended", "revoked": None} | {
        key: event.payload.get(key) for key in keep
    } | _by(event)


def _accepted_directly(state: State, event: Envelope) -> None:
    state["recommendation"] = {
        "channel": "direct",
        "revoked": None,
        "recommender_id": event.payload.get("recommender_id"),
        "opinion": event.payload.get("opinion"),
    } | _by(event)


def _revoked(state: State, event: Envelope) -> None:
    revocation = {"reason": event.payload.get("reason")} | _by(event)
    state["recommendation"] = (state["recommendation"] or {}) | {"revoked": revocation}


def _formal_review(outcome: str) -> Fold:
    def fold(state: State, event: Envelope) -> None:
        previous = state["formal_review"] or {"rounds": []}
        decision = {"outcome": outcome, "reasons": event.payload.get("reasons", [])} | _by(event)
        if "entry_version" in event.payload:
            decision["entry_version"] = event.payload["entry_version"]
        state["formal_review"] = {"outcome": outcome, "rounds": [*previous["rounds"], decision]}

    return fold


def _resubmitted(state: State, event: Envelope) -> None:
    _formal_review("resubmitted")(state, event)
    state["formal_review"]["rounds"][-1]["note"] = event.payload.get("note")


def _judges_assigned(state: State, event: Envelope) -> None:
    state["judges"][event.payload["stage"]] = {
        "judge_ids": event.payload["judge_ids"],
        "assigned_by": event.payload.get("assigned_by"),
        "blocked": None,
    }


def _assignment_blocked(state: State, event: Envelope) -> None:
    stage = state["judges"].setdefault(event.payload["stage"], {"judge_ids": [], "assigned_by": None})
    keep = ("reason", "message", "judges_required", "judges_eligible", "judges_conflicted")
    stage["blocked"] = {key: event.payload.get(key) for key in keep}


def _score(state: State, event: Envelope) -> None:
    stage = state["scores"].setdefault(event.payload["stage"], {})
    previous = stage.get(event.payload["judge_id"])
    score = {
        "total": event.payload["total"],
        "criteria": event.payload.get("criteria"),
        "comment": event.payload.get("comment"),
        "revisions": (previous or {}).get("revisions", []),
    } | _by(event)
    if event.type == "ScoreRevised":
        revision = {"previous_total": event.payload.get("previous_total"), "reason": event.payload.get("reason")}
        score["revisions"] = [*score["revisions"], revision]
    stage[event.payload["judge_id"]] = score


def _graded(state: State, event: Envelope) -> None:
    keep = ("combined_score", "grade", "grade_label", "stages", "weights")
    state["grade"] = {key: event.payload.get(key) for key in keep} | {"regraded": None} | _by(event)


def _gate(state: State, event: Envelope) -> None:
    """A gate round's outcome for the entry (晋级 / 未晋级, with the reason), under the round's code."""
    keep = ("stage_label", "method", "score", "rank", "next_stage", "next_stage_label", "reason", "message")
    outcome = "advanced" if event.type == "EntryAdvanced" else "not_advanced"
    state.setdefault("rounds", {})[event.payload["stage"]] = {"outcome": outcome} | {
        key: event.payload[key] for key in keep if key in event.payload} | _by(event)


def _regraded(state: State, event: Envelope) -> None:
    keep = ("combined_score", "grade", "grade_label")
    regrade = {key: event.payload.get(key) for key in ("objection_id", "previous_grade", "reason")}
    state["grade"] = (state["grade"] or {}) | {key: event.payload.get(key) for key in keep} | {"regraded": regrade}


def _approved(state: State, event: Envelope) -> None:
    keep = ("guiding_units", "approved_on", "grade", "note")
    state["approval"] = {key: event.payload.get(key) for key in keep} | _by(event)


def _notice(state: State, event: Envelope) -> None:
    state["notice"] = {"opens_at": event.payload.get("opens_at"), "closes_at": event.payload.get("closes_at")}


def _objection_filed(state: State, event: Envelope) -> None:
    keep = ("objector", "contact", "grounds")
    state["objections"][event.payload["objection_id"]] = {key: event.payload.get(key) for key in keep} | {
        "resolution": None
    } | _by(event)


def _objection_resolved(state: State, event: Envelope) -> None:
    objection = state["objections"].setdefault(event.payload["objection_id"], {})
    keep = ("outcome", "finding", "remedy")
    objection["resolution"] = {key: event.payload.get(key) for key in keep} | _by(event)


def _result_withdrawn(state: State, event: Envelope) -> None:
    keep = ("objection_id", "reason")
    state["result_withdrawn"] = {key: event.payload.get(key) for key in keep} | _by(event)


def _published(state: State, event: Envelope) -> None:
    keep = ("certificate_no", "grade", "grade_label", "combined_score", "unit_name", "entry_name")
    state["publication"] = {key: event.payload.get(key) for key in keep} | _by(event)


def _national(state: State, event: Envelope) -> None:
    keep = ("national_season_id", "certificate_no", "grade", "note")
    state["national_recommendation"] = {key: event.payload.get(key) for key in keep} | _by(event)


def _provincial(key: str, keep: tuple[str, ...]) -> Fold:
    """A province's fact received through its feed: the latest version replaces the earlier one."""

    def fold(state: State, event: Envelope) -> None:
        state[key] = {name: event.payload.get(name) for name in keep} | {
            "source": event.source.model_dump(mode="json")
        } | _by(event)

    return fold


def _withdrawn_for_cancellation(state: State, event: Envelope) -> None:
    keep = ("recommender_id", "reason", "previous_progress", "cause_event_id")
    withdrawal = {key: event.payload.get(key) for key in keep} | _by(event)
    state["recommendation"] = (state["recommendation"] or {}) | {"withdrawn": withdrawal}


_provincial_recommendation = _provincial(
    "provincial_recommendation", ("province", "recommender_name", "rank", "opinion", "recommended_on")
)
_provincial_result = _provincial(
    "provincial_result", ("province", "grade", "grade_label", "score", "certificate_no", "published_on")
)

def _national_entry(state: State, event: Envelope) -> None:
    """National flow (issue 10): a national entry, received from its province, with where it came from."""
    keep = ("province", "provincial_season_id", "provincial_entry_id", "via", "provincial_grade",
            "provincial_grade_label", "provincial_score", "provincial_certificate_no", "recommended_on", "note")
    state["national_entry"] = {key: event.payload.get(key) for key in keep} | {
        "source": event.source.model_dump(mode="json")} | _by(event)
    state["form"] = state["form"] or {
        "kind": event.payload.get("kind"), "type": event.payload.get("qc_type") or event.payload.get("team_type"),
        "title": event.payload.get("entry_name"),
        "unit": {"credit_code": event.payload.get("credit_code"), "unit_name": event.payload.get("unit_name")},
        "group_or_team": None, "recommender_id": event.payload.get("province"), "fields": None,
    }


FOLDS: dict[str, Fold] = {
    "NationalEntryReceived": _national_entry,
    "EntrySubmitted": _submitted,
    "EntryAmended": _amended,
    "EntryWithdrawn": _withdrawn,
    "UnitConfirmed": _confirmed,
    "EntryRecommended": _recommended,
    "EntryAcceptedDirectly": _accepted_directly,
    "RecommendationRevoked": _revoked,
    "RecommendationWithdrawn": _withdrawn_for_cancellation,
    "FormalReviewPassed": _formal_review("passed"),
    "FormalReviewFailed": _formal_review("failed"),
    "FormalReviewResubmitted": _resubmitted,
    "JudgesAssigned": _judges_assigned,
    "AssignmentBlocked": _assignment_blocked,
    "ScoreRecorded": _score,
    "ScoreRevised": _score,
    "EntryGraded": _graded,
    "EntryRegraded": _regraded,
    "EntryAdvanced": _gate,
    "EntryNotAdvanced": _gate,
    "GuidingUnitsApproved": _approved,
    "NoticeOpened": _notice,
    "ObjectionFiled": _objection_filed,
    "ObjectionResolved": _objection_resolved,
    "EntryResultWithdrawn": _result_withdrawn,
    "EntryPublished": _published,
    "NationalRecommendationMade": _national,
    "ProvincialRecommendationRecorded": _provincial_recommendation,
    "ProvincialRecommendationAmended": _provincial_recommendation,
    "ProvincialResultRecorded": _provincial_result,
    "ProvincialResultAmended": _provincial_result,
}


def _event_ref(envelope: Envelope) -> dict[str, Any]:
    return {
        "event_id": str(envelope.event_id),
        "type": envelope.type,
        "recorded_at": instant(envelope.recorded_at),
    }


def entry_state(entry_id: str, envelopes: Sequence[Envelope], as_of: datetime) -> dict[str, Any]:
    """The entry's state from its events recorded at or before `as_of`, and which events it was folded from.

    Before its first event the entry did not exist yet: no state, and a message saying when it began.
    """
    concerning = sorted((item for item in envelopes if entry_id in entry_ids_of(item)), key=recorded_order)
    known = [item for item in concerning if item.recorded_at <= as_of]
    answer: dict[str, Any] = {"entry_id": entry_id, "as_of": instant(as_of)}
    if not known:
        first = concerning[0] if concerning else None
        began = f"; its first event was recorded at {instant(first.recorded_at)['utc']}" if first else ""
        return answer | {
            "exists": False,
            "state": None,
            "message": f"entry {entry_id} did not exist yet at {instant(as_of)['utc']}{began}",
            "first_event": _event_ref(first) if first else None,
            "folded_from": {"events": 0, "last_event": None},
        }
    state = new_state()
    for envelope in known:
        fold = FOLDS.get(envelope.type)
        if fold is not None:
            fold(state, envelope)
    return answer | {
        "exists": True,
        "state": state,
        "folded_from": {"events": len(known), "last_event": _event_ref(known[-1])},
    }
