"""Review rounds (评审轮次): which rounds an entry takes part in, their windows, gates and the grade's weights.

- review_round.unknown: a round is one the season declares (a season opened before rounds has 文审 and 发表赛);
- season.window.round / season.window.review: a score is recorded only while its round's window is open (its
  own window, or the season's 评审 window when the round has none);
- review_round.not_taken: an entry takes part in the rounds up to the first gate that has not advanced it;
- gate.*: a gate round advances entries by top N (ties at the N-th place all go on), by a score threshold,
  or by the organizer's choice; the others are recorded as not advanced, with the reason;
- grade.*: the grade comes from the rounds the entry took part in, weighted as the season says (equal
  weights for the rounds scored when no round has a weight).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.codes import Stage
from contracts.identity import stable_uuid
from contracts.review_rounds import GateRule, ReviewRound
from contracts.scored import GateMethod
from infra.errors import Conflict, RuleViolation, Unknown
from infra.windows import check_labelled_window_open
from services.review.domain.inbound import SeasonView


def review_round(season: SeasonView, code: str, field: str = "stage") -> ReviewRound:
    """The season's round of this code, or a refusal listing the season's rounds."""
    found = next((item for item in season.review_rounds if item.code == code), None)
    if found is None:
        known = ", ".join(f"{item.code} ({item.label})" for item in season.review_rounds)
        raise (Unknown if field == "round_code" else RuleViolation)(
            field, "review_round.unknown",
            f"season {season.season_id} has no review round {code}; its rounds are {known}",
        )
    return found


def next_round(season: SeasonView, code: str) -> ReviewRound | None:
    rounds = list(season.review_rounds)
    position = next(index for index, item in enumerate(rounds) if item.code == code)
    return rounds[position + 1] if position + 1 < len(rounds) else None


def rounds_taken(season: SeasonView, advanced_through: Iterable[str]) -> list[ReviewRound]:
    """The rounds an entry past formal review takes part in: up to and including the first gate it has not passed."""
    passed = set(advanced_through)
    taken: list[ReviewRound] = []
    for item in season.review_rounds:
        taken.append(item)
        if item.gate is not None and item.code not in passed:
            break
    return taken


def rounds_entered(season: SeasonView, through_gate: str | None) -> list[ReviewRound]:
    """The rounds an entry enters at once: after formal review (through_gate None) or after passing a gate,
    up to and including the next gate. Their judges are assigned then where the round says so."""
    rounds = list(season.review_rounds)
    start = 0 if through_gate is None else next(i for i, item in enumerate(rounds) if item.code == through_gate) + 1
    entered: list[ReviewRound] = []
    for item in rounds[start:]:
        entered.append(item)
        if item.gate is not None:
            break
    return entered


def check_round_open(season: SeasonView, item: ReviewRound, now: datetime) -> None:
    """A round's own window, or the season's 评审 window when it has none (as every round had before rounds)."""
    if item.window is None:
        season.check_window_open(Stage.REVIEW, now)
        return
    check_labelled_window_open(item.window, now, code=item.code, label=item.label, season_id=season.season_id,
                               time_zone=season.time_zone)


def check_assignment_period(season: SeasonView, item: ReviewRound, now: datetime) -> None:
    """Judges are assigned by hand until the round's window closes; a season without rounds' or 形式审查's own
    windows keeps its period: from the first recommendations to the end of the 评审 window."""
    if item.window is None and season.formal_review is None:
        season.check_formal_review_period(now)
        return
    window = item.window or season.windows.get(Stage.REVIEW.value)
    if window is not None and now > window.closes_at:
        check_labelled_window_open(window, now, code=item.code, label=item.label, season_id=season.season_id,
                                   time_zone=season.time_zone)


def check_taken(season: SeasonView, item: ReviewRound, entry_id: str, advanced_through: Iterable[str],
                stopped_at: str | None) -> None:
    """An entry is scored or assigned only in a round it takes part in."""
    taken = rounds_taken(season, advanced_through)
    if any(other.code == item.code for other in taken):
        return
    gate = taken[-1]
    why = (f"it did not advance from {gate.label} ({gate.code})" if stopped_at == gate.code
           else f"{gate.label} ({gate.code}) has not advanced it yet")
    raise Conflict(
        "stage", "review_round.not_taken",
        f"entry {entry_id} does not take part in {item.label} ({item.code}): {why}",
    )


# ---------------------------------------------------------------- gates (晋级)


def gate_id(season_id: str, code: str) -> UUID:
    return stable_uuid("round-gate", season_id, code)


class RoundGate(Aggregate):
    """Bookkeeping (not published): a gate is decided once; each entry's outcome is an event of its EntryReview."""

    @staticmethod
    def create_id(season_id: str, code: str, method: str, advanced: list[str], not_advanced: list[str]) -> UUID:  # noqa: ARG004
        return gate_id(season_id, code)

    @event("Decided")
    def __init__(self, season_id: str, code: str, method: str, advanced: list[str], not_advanced: list[str]) -> None:
        self.season_id = season_id
        self.code = code
        self.method = method
        self.advanced = list(advanced)
        self.not_advanced = list(not_advanced)


@dataclass(frozen=True)
class Candidate:
    """An entry in the gate round: its round score (None when not all its judges scored) and rank by score."""

    entry_id: str
    score: Decimal | None
    rank: int | None = None


@dataclass(frozen=True)
class Outcome:
    candidate: Candidate
    advanced: bool
    reason: str = ""
    message: str = ""


def gate_rule(item: ReviewRound, asked: GateRule, chosen: list[str] | None) -> GateRule:
    """The rule the gate applies: the season's, completed by the organizer's request and never contradicting it."""
    fixed = item.gate or GateRule()
    method = asked.method or fixed.method
    if method is None:
        method = GateMethod.ORGANIZER_CHOICE if chosen is not None else None
    if method is None:
        raise RuleViolation("method", "gate.method.required",
                            f"{item.label} ({item.code}) advances by top_n, threshold or organizer_choice: choose one")
    if fixed.method is not None and method is not fixed.method:
        raise RuleViolation("method", "gate.method.season",
                            f"the season advances entries from {item.label} by {fixed.method.label} ({fixed.method.value})")
    top_n = asked.top_n if asked.top_n is not None else fixed.top_n
    threshold = asked.threshold if asked.threshold is not None else fixed.threshold
    if fixed.top_n is not None and asked.top_n not in (None, fixed.top_n):
        raise RuleViolation("top_n", "gate.top_n.season", f"the season lets the top {fixed.top_n} of {item.label} go on")
    if fixed.threshold is not None and asked.threshold not in (None, fixed.threshold):
        raise RuleViolation("threshold", "gate.threshold.season",
                            f"the season's threshold for {item.label} is {fixed.threshold}")
    if method is GateMethod.TOP_N and top_n is None:
        raise RuleViolation("top_n", "gate.top_n.required", "按名次: say how many entries go on (top_n)")
    if method is GateMethod.THRESHOLD and threshold is None:
        raise RuleViolation("threshold", "gate.threshold.required", "按分数线: give the minimum score (threshold)")
    if method is GateMethod.ORGANIZER_CHOICE and chosen is None:
        raise RuleViolation("entry_ids", "gate.choice.required", "由组织方选定: list the entries that go on (entry_ids)")
    if method is not GateMethod.ORGANIZER_CHOICE and chosen is not None:
        raise RuleViolation("entry_ids", "gate.choice.with_method",
                            f"entries are listed for organizer_choice only; {method.value} decides them by score")
    return GateRule(method=method, top_n=top_n if method is GateMethod.TOP_N else None,
                    threshold=threshold if method is GateMethod.THRESHOLD else None)


def ranked(scores: Mapping[str, Decimal | None]) -> list[Candidate]:
    """Entries by score, highest first (equal scores share a rank); unscored entries last, unranked."""
    scored = sorted(((entry_id, score) for entry_id, score in scores.items() if score is not None),
                    key=lambda item: (-item[1], item[0]))
    candidates: list[Candidate] = []
    for position, (entry_id, score) in enumerate(scored):
        rank = candidates[-1].rank if candidates and candidates[-1].score == score else position + 1
        candidates.append(Candidate(entry_id, score, rank))
    candidates += [Candidate(entry_id, None) for entry_id, score in sorted(scores.items()) if score is None]
    return candidates


def decide_gate(item: ReviewRound, rule: GateRule, candidates: list[Candidate], chosen: list[str] | None,
                reason: str | None) -> list[Outcome]:
    """Who goes on from the gate round, and why each of the others does not."""
    if rule.method is GateMethod.ORGANIZER_CHOICE:
        known = {candidate.entry_id for candidate in candidates}
        for position, entry_id in enumerate(chosen or []):
            if entry_id not in known:
                raise Conflict(
                    f"entry_ids.{position}", "gate.entry.not_in_round",
                    f"entry {entry_id} is not in {item.label} ({item.code}) awaiting this gate",
                )
        picked = set(chosen or [])
        why = reason or f"not chosen by the organizer to go on from {item.label}"
        return [Outcome(candidate, candidate.entry_id in picked, "" if candidate.entry_id in picked
                        else "gate.organizer_choice.not_chosen", "" if candidate.entry_id in picked else why)
                for candidate in candidates]
    unscored = [candidate.entry_id for candidate in candidates if candidate.score is None]
    if unscored:
        raise Conflict(
            "method", "gate.scores.incomplete",
            f"{item.label} ({item.code}) decides by score, and entries {', '.join(unscored)} do not have all their "
            "judges' scores yet",
        )
    outcomes = []
    for candidate in candidates:
        assert candidate.score is not None and candidate.rank is not None
        if rule.method is GateMethod.TOP_N:
            assert rule.top_n is not None
            advanced = candidate.rank <= rule.top_n
            message = "" if advanced else (
                f"ranked {candidate.rank} in {item.label} with {candidate.score}; the top {rule.top_n} go on"
                + (f" ({reason})" if reason else ""))
            outcomes.append(Outcome(candidate, advanced, "" if advanced else "gate.top_n.below", message))
        else:
            assert rule.threshold is not None
            advanced = candidate.score >= rule.threshold
            message = "" if advanced else (
                f"scored {candidate.score} in {item.label}, below the threshold {rule.threshold}"
                + (f" ({reason})" if reason else ""))
            outcomes.append(Outcome(candidate, advanced, "" if advanced else "gate.threshold.below", message))
    return outcomes


# ---------------------------------------------------------------- the grade's weights


def round_weights(season: SeasonView, taken: list[ReviewRound], scored: list[str]) -> dict[str, Decimal]:
    """The weights of the rounds that count: the season's for the rounds taken, or equal for the rounds scored."""
    declared = {item.code: item.weight for item in season.review_rounds if item.weight is not None}
    if not declared:
        return {code: Decimal(1) for code in scored}
    weights = {item.code: item.weight for item in taken if item.weight is not None and item.weight > 0}
    if not weights:
        raise Conflict(
            "season_id", "grade.weights.zero",
            f"season {season.season_id} weighs every round the entry took part in 0; the combined score needs a "
            "positive weight",
        )
    return weights
