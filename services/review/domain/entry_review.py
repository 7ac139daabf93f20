"""An entry's review at the organizer: from its recommendation to its publication, as one aggregate.

Every step is an event of the entry's `EntryReview`, so an auditor reads the entry's whole review in
one history: recommended (推荐通道) or accepted by the secretariat (direct channel), revoked, formal
review (passed, failed with reasons, resubmitted after correction), graded, approved by the guiding
units, objections during the notice and their resolution (a regrade or the result withdrawn),
published with its certificate number, recommended to the national level.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.codes import LabelledEnum, Role
from contracts.identity import stable_uuid
from infra.errors import Conflict, NotFound, NotPermitted


class ReviewProgress(LabelledEnum):
    """Where an entry stands in the organizer's review."""

    RECOMMENDED = "recommended", "已推荐"
    REVOKED = "revoked", "已撤销推荐"
    FORMAL_REVIEW_FAILED = "formal_review_failed", "形式审查未通过"
    RESUBMITTED = "resubmitted", "已更正，待形式审查"
    IN_REVIEW = "in_review", "评审中"
    NOT_ADVANCED = "not_advanced", "未晋级"
    GRADED = "graded", "已评定等级"
    APPROVED = "approved", "指导单位已审定"
    RESULT_WITHDRAWN = "result_withdrawn", "成果已撤销"
    PUBLISHED = "published", "已发布"
    WITHDRAWN = "withdrawn", "推荐无效（推荐单位被取消推荐资格）"


AWAITING_FORMAL_REVIEW = (ReviewProgress.RECOMMENDED, ReviewProgress.RESUBMITTED)
REVOCABLE = (ReviewProgress.RECOMMENDED, ReviewProgress.FORMAL_REVIEW_FAILED, ReviewProgress.RESUBMITTED)
# 好中选优: the organizer chooses among the entries its review graded whose result stands (national.not_graded)
NATIONALLY_RECOMMENDABLE = (ReviewProgress.GRADED, ReviewProgress.APPROVED, ReviewProgress.PUBLISHED)
PAST_FORMAL_REVIEW = (
    ReviewProgress.IN_REVIEW, ReviewProgress.NOT_ADVANCED, ReviewProgress.GRADED, ReviewProgress.APPROVED, ReviewProgress.RESULT_WITHDRAWN,
    ReviewProgress.PUBLISHED,
)


def entry_review_id(season_id: str, entry_id: str) -> UUID:
    return stable_uuid("entry-review", season_id, entry_id)


class EntryReview(Aggregate):
    """Opened (bookkeeping, not published) the first time an entry is recommended; every step after is an event."""

    @staticmethod
    def create_id(season_id: str, entry_id: str) -> UUID:
        return entry_review_id(season_id, entry_id)

    @event("ReviewOpened")
    def __init__(self, season_id: str, entry_id: str) -> None:
        self.season_id = season_id
        self.entry_id = entry_id
        self.progress: ReviewProgress | None = None
        self.credit_code = ""
        self.unit_name = ""
        self.entry_name = ""
        self.kind = ""
        self.recommender_id: str | None = None
        self.accepted_directly = False
        self.slate_key = ""
        self.recommendation_certificates: list[str] = []
        self.failed_version: int | None = None
        self.combined_score: str | None = None
        self.grade: str | None = None
        self.grade_label: str | None = None
        self.objections: dict[str, dict[str, Any]] = {}
        self.certificate_no: str | None = None
        self.national_season_id: str | None = None
        self.advanced_through: list[str] = []  # the gate rounds that advanced the entry
        self.stopped_at: str | None = None  # the gate round that did not
        self.national_entry_id: str | None = None
        self.provenance: dict[str, Any] | None = None  # a national entry: the province, its season and entry

    # ------------------------------------------------------------ recommendation

    def _recommended(self, payload: dict[str, Any]) -> None:
        self.progress = ReviewProgress.RECOMMENDED
        self.credit_code = payload["credit_code"]
        self.unit_name = payload["unit_name"]
        self.entry_name = payload["entry_name"]
        self.kind = payload["kind"]
        self.recommender_id = payload.get("recommender_id")
        self.slate_key = self.recommender_id or "direct"  # quota.DIRECT_SLATE
        self.failed_version = None

    def check_recommendable_again(self) -> None:
        """An entry is recommended once; revoked, it may be recommended again."""
        if self.progress is not ReviewProgress.REVOKED:
            raise Conflict(
                "entry_id",
                "recommendation.duplicate",
                f"entry {self.entry_id} is already {self.progress.label if self.progress else 'recommended'}"
                + (f" by {self.recommender_id}" if self.recommender_id else "")
                + "; an entry is recommended once (revoke it first to change the recommendation)",
            )

    @event("EntryRecommended")
    def recommend(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self._recommended(payload)
        self.accepted_directly = False
        self.recommendation_certificates = [judge["certificate_no"] for judge in payload["judges"]]

    @event("EntryAcceptedDirectly")
    def accept_directly(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self._recommended(payload)
        self.accepted_directly = True
        self.recommendation_certificates = []

    def revoke(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        """Revoked while not yet with the expert panel: its quota is freed."""
        if self.progress in PAST_FORMAL_REVIEW:
            raise Conflict(
                "entry_id",
                "recommendation.revoke.reviewed",
                f"entry {self.entry_id} passed formal review and is with the expert panel ({self.progress.label}); "
                "its recommendation is no longer revoked",
            )
        self.check_progress(REVOCABLE, "entry_id", "recommendation.revoke.not_recommended",
                            f"entry {self.entry_id} is not recommended at the moment")
        self._revoke(payload=payload, meta=meta)

    @event("RecommendationRevoked")
    def _revoke(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.REVOKED

    @event("RecommendationWithdrawn")
    def withdraw_recommendation(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.WITHDRAWN

    # ------------------------------------------------------------ formal review

    def pass_formal_review(self, payload: dict[str, Any], meta: dict[str, Any], entry_withdrawn: bool) -> None:
        """Passed: judges are assigned from it."""
        self.check_up_for_formal_review(entry_withdrawn)
        self._pass_formal_review(payload=payload, meta=meta)

    def fail_formal_review(self, payload: dict[str, Any], meta: dict[str, Any], entry_withdrawn: bool) -> None:
        """Failed with its reasons: the unit corrects the entry, which is then resubmitted."""
        self.check_up_for_formal_review(entry_withdrawn)
        self._fail_formal_review(payload=payload, meta=meta)

    def check_up_for_formal_review(self, entry_withdrawn: bool) -> None:
        """Up for formal review: recommended or resubmitted, not decided, not withdrawn by its unit."""
        if self.progress is ReviewProgress.FORMAL_REVIEW_FAILED:
            raise Conflict(
                "entry_id",
                "formal_review.awaiting_correction",
                f"entry {self.entry_id} failed formal review; it is reviewed again once corrected and resubmitted",
            )
        if self.progress in PAST_FORMAL_REVIEW:
            raise Conflict(
                "entry_id",
                "formal_review.decided",
                f"entry {self.entry_id} already passed formal review ({self.progress.label if self.progress else ''})",
            )
        self.check_progress(AWAITING_FORMAL_REVIEW, "entry_id", "formal_review.not_recommended",
                            f"entry {self.entry_id} is not recommended, so it is not up for formal review")
        if entry_withdrawn:
            raise Conflict("entry_id", "formal_review.entry.withdrawn", f"entry {self.entry_id} was withdrawn by its unit")

    @event("FormalReviewPassed")
    def _pass_formal_review(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.IN_REVIEW

    @event("FormalReviewFailed")
    def _fail_formal_review(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.FORMAL_REVIEW_FAILED
        self.failed_version = payload["entry_version"]

    def resubmit(self, payload: dict[str, Any], meta: dict[str, Any], entry_withdrawn: bool) -> None:
        """A failed entry, corrected by its unit (a later version), goes back to formal review."""
        self.check_progress((ReviewProgress.FORMAL_REVIEW_FAILED,), "entry_id", "formal_review.resubmit.not_failed",
                            "only an entry that failed formal review is resubmitted")
        if self.failed_version is not None and payload["entry_version"] <= self.failed_version:
            raise Conflict(
                "entry_id",
                "formal_review.resubmit.not_corrected",
                f"entry {self.entry_id} has not been corrected since it failed formal review (version "
                f"{self.failed_version}); its unit amends it (EntryAmended) first",
            )
        if entry_withdrawn:
            raise Conflict("entry_id", "formal_review.entry.withdrawn", f"entry {self.entry_id} was withdrawn by its unit")
        self._resubmit(payload=payload, meta=meta)

    @event("FormalReviewResubmitted")
    def _resubmit(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.RESUBMITTED

    # ------------------------------------------------------------ review rounds: gates (晋级)

    @event("EntryAdvanced")
    def advance(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.advanced_through = [*getattr(self, "advanced_through", []), payload["stage"]]

    @event("EntryNotAdvanced")
    def stop(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.NOT_ADVANCED
        self.stopped_at = payload["stage"]

    # ------------------------------------------------------------ grade and results

    @event("EntryGraded")
    def record_grade(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.GRADED
        self.combined_score = payload["combined_score"]
        self.grade = payload.get("grade")
        self.grade_label = payload.get("grade_label")

    @event("GuidingUnitsApproved")
    def approve(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.APPROVED

    def file_objection(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        """异议: against a result on notice (not one withdrawn)."""
        self.check_progress((ReviewProgress.APPROVED,), "entry_id", "objection.result_withdrawn",
                            "objections are filed against results on notice")
        self._file_objection(payload=payload, meta=meta)

    @event("ObjectionFiled")
    def _file_objection(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.objections[payload["objection_id"]] = {"status": "open"}

    def check_objection_open(self, objection_id: str) -> None:
        """An objection is resolved once, before the results are published."""
        if objection_id not in self.objections:
            raise NotFound(f"objection {objection_id} of entry {self.entry_id}")
        if self.objections[objection_id]["status"] != "open":
            raise Conflict("objection_id", "objection.resolved",
                           f"objection {objection_id} is already resolved ({self.objections[objection_id]['status']})")
        self.check_progress((ReviewProgress.APPROVED, ReviewProgress.RESULT_WITHDRAWN), "entry_id",
                            "objection.published", "objections are resolved before the results are published")

    @event("ObjectionResolved")
    def resolve_objection(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.objections[payload["objection_id"]] = {"status": payload["outcome"], "remedy": payload.get("remedy")}

    @event("EntryRegraded")
    def regrade(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.combined_score = payload["combined_score"]
        self.grade = payload["grade"]
        self.grade_label = payload["grade_label"]

    @event("EntryResultWithdrawn")
    def withdraw_result(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.RESULT_WITHDRAWN

    @event("EntryPublished")
    def publish(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.progress = ReviewProgress.PUBLISHED
        self.certificate_no = payload["certificate_no"]

    def recommend_nationally(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        """推荐全国 once, among the entries the province's review graded (好中选优)."""
        self.check_nationally_recommendable()
        self._recommend_nationally(payload=payload, meta=meta)

    def check_nationally_recommendable(self) -> None:
        if self.national_season_id:
            raise Conflict("entry_id", "national.duplicate",
                           f"entry {self.entry_id} is already recommended to {self.national_season_id}")
        self.check_progress(NATIONALLY_RECOMMENDABLE, "entry_id", "national.not_graded",
                            "an entry goes to the national level once the province's review graded it")
        if not self.grade:
            raise Conflict(
                "entry_id", "national.not_graded",
                f"entry {self.entry_id} scored {self.combined_score}, below every grade band of season "
                f"{self.season_id}; the organizer chooses among graded entries (好中选优)",
            )

    @event("NationalRecommendationMade")
    def _recommend_nationally(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.national_season_id = payload["national_season_id"]
        self.national_entry_id = payload.get("national_entry_id")

    # ------------------------------------------------------------ national flow (issue 10): a national entry

    @event("NationalEntryReceived")
    def receive_nationally(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        """A national season's entry, received from a province: recommended (by the province) and up for formal review."""
        self._recommended(payload | {"recommender_id": payload["province"]})
        self.slate_key = f"province:{payload['province']}"
        self.provenance = {key: payload.get(key) for key in (
            "province", "provincial_season_id", "provincial_entry_id", "via")}

    # ------------------------------------------------------------ questions the rules ask

    @property
    def open_objections(self) -> list[str]:
        return [key for key, item in self.objections.items() if item["status"] == "open"]

    def next_objection_id(self) -> str:
        return f"o{len(self.objections) + 1}"

    def check_acted_on_by(self, role: Role, org: str) -> None:
        """A recommending unit acts on its own recommendations; the secretariat on the ones it accepted directly."""
        own = (
            (role is Role.RECOMMENDER and org == self.recommender_id and not self.accepted_directly)
            or (role is Role.ORGANIZER and self.accepted_directly)
        )
        if not own:
            by = "the secretariat (direct channel)" if self.accepted_directly else self.recommender_id
            raise NotPermitted(
                "entry_id",
                "recommendation.owner",
                f"entry {self.entry_id} was recommended by {by}; the {role.value} {org} does not act on it",
            )

    def check_progress(self, allowed: tuple[ReviewProgress, ...], field: str, rule: str, message: str) -> None:
        if self.progress not in allowed:
            label = self.progress.label if self.progress else "—"
            raise Conflict(field, rule, f"{message} (entry {self.entry_id} is {label})")
