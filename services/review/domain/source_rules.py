"""Rules of the source documents on who may recommend and through which channel.

- 取消推荐资格 (2020 Shanghai QC notice, 推荐要求 4; CAQ 2024 notice, 其他要求 (一)): a recommending unit
  whose right to recommend was cancelled recommends nothing more.
- 基础性条件 (2020 Shanghai QC notice, 推荐要求 2: 各推荐单位提交的活动总结、活动统计结果将作为成果推荐工作的
  基础性条件): where the season says so, the 统计表 and the 工作总结 are filed before recommending.
- The direct channel (2024 Shanghai team notice, 成果推荐: 本会会员单位属外商企业与“专精特新”类、高新技术类的
  民营企业，其活动成果选择推荐单位为“其他-市质协会员与质量推进部”在线直接受理成果).
"""

from __future__ import annotations

from contracts.codes import KeyDomain, UnitNature
from contracts.recommended import DirectEligibility
from infra.errors import Conflict
from services.review.domain.inbound import EntryView, RecommenderView, SeasonView

FILINGS = {"statistics": "统计表", "work_summary": "工作总结"}
FOREIGN_INVESTED = {UnitNature.FOREIGN.value, UnitNature.JOINT_VENTURE.value}  # 外商投资企业 includes 中外合资


def check_not_cancelled(recommender: RecommenderView, closed_reason: str | None) -> None:
    """The recommender as review's projection knows it, or its slate closed by the cancellation's withdrawals."""
    reason = recommender.cancellation_reason or closed_reason
    if reason is not None:
        raise Conflict(
            "recommender_id",
            "recommendation.recommender.cancelled",
            f"{recommender.name} lost its right to recommend in this season (取消推荐资格: {reason}); "
            "its recommendations were withdrawn and it recommends no more",
        )


def check_filings(season: SeasonView, recommender: RecommenderView) -> None:
    if not season.filings_before_recommending:
        return
    missing = [label for kind, label in FILINGS.items() if kind not in recommender.filed]
    if missing:
        raise Conflict(
            "recommender_id",
            "recommendation.preconditions.filings",
            f"{recommender.name} has not filed its {' and '.join(missing)} for season {season.season_id}: the season "
            "takes recommendations only after both are filed (活动总结、活动统计结果是成果推荐工作的基础性条件)",
        )


def direct_eligibility(entry: EntryView, claimed: DirectEligibility | None) -> DirectEligibility:
    """Why the entry's unit may use the direct channel, from its 报名表 (and the secretariat's word on high-tech)."""
    if entry.unit_member is not True:
        raise Conflict(
            "entry_id",
            "recommendation.direct.member",
            f"unit {entry.credit_code} is not registered as a 会员单位 (member unit); the direct channel is for member "
            "units only",
        )
    nature, domain = entry.unit_nature, entry.unit_key_domain
    derived = {
        DirectEligibility.FOREIGN_INVESTED: nature in FOREIGN_INVESTED,
        DirectEligibility.SPECIALIZED_PRIVATE: nature == UnitNature.PRIVATE.value
        and domain == KeyDomain.SPECIALIZED_SME.value,
        DirectEligibility.HIGH_TECH_PRIVATE: nature == UnitNature.PRIVATE.value,  # the 报名表 has no high-tech box
    }
    if claimed is not None and derived[claimed]:
        return claimed
    if claimed is None:
        for basis in (DirectEligibility.FOREIGN_INVESTED, DirectEligibility.SPECIALIZED_PRIVATE):
            if derived[basis]:
                return basis
    nature_label = UnitNature(nature).label if nature in UnitNature._value2member_map_ else "unknown"
    domain_label = KeyDomain(domain).label if domain in KeyDomain._value2member_map_ else "unknown"
    said = f"; the secretariat named {claimed.label}, which the registration does not bear out" if claimed else ""
    raise Conflict(
        "eligibility" if claimed else "entry_id",
        "recommendation.direct.eligibility",
        f"the direct channel takes member units that are 外商投资企业, “专精特新”类民营企业 or 高新技术类民营企业; unit "
        f"{entry.credit_code} registered as 单位性质 {nature_label}, 重点领域 {domain_label}{said}. A private unit that is "
        "high-tech is accepted with eligibility high_tech_private; others go through their recommending unit",
    )
