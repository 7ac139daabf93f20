"""Coded values with the Chinese labels printed on the associations' forms."""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A code whose Chinese label comes from the source documents."""

    label: str

    def __new__(cls, value: str, label: str) -> "LabelledEnum":
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {member.value: member.label for member in cls}


class ActivityKind(LabelledEnum):
    QC_GROUP = "qc_group", "质量管理小组成果"
    TEAM = "team", "质量信得过班组建设经验"


class Role(LabelledEnum):
    ORGANIZER = "organizer", "质协（组织方）"
    UNIT = "unit", "申报单位"
    RECOMMENDER = "recommender", "推荐单位"
    JUDGE = "judge", "评委"
    NATIONAL = "national", "中国质量协会"
    FEED = "feed", "省级平台数据接口"
    AUDITOR = "auditor", "审计"
    SYSTEM = "system", "系统"


class Channel(LabelledEnum):
    GROUP = "group", "班组通道"
    UNIT = "unit", "单位通道"
    RECOMMENDER = "recommender", "推荐通道"
    DIRECT = "direct", "其他-市质协会员与质量推进部"
    ORGANIZER = "organizer", "组织方"
    FEED = "feed", "省级平台数据接口"
    SYSTEM = "system", "系统"


class UnitNature(LabelledEnum):
    STATE_OWNED = "state_owned", "国有"
    PRIVATE = "private", "民营"
    FOREIGN = "foreign", "外资"
    JOINT_VENTURE = "joint_venture", "合资"
    PUBLIC_INSTITUTION = "public_institution", "事业单位"
    OTHER = "other", "其他"


class KeyDomain(LabelledEnum):
    MANUFACTURING = "manufacturing", "制造"
    MARKET_SERVICES = "market_services", "市场服务"
    NONPROFIT_SERVICES = "nonprofit_services", "非营利性服务"
    CONSTRUCTION = "construction", "建设工程"
    SPECIALIZED_SME = "specialized_sme", "“专精特新”中小企业"


class RegistrationIntent(LabelledEnum):
    FIRST_TIME_NO_SUBMISSION = "first_time_no_submission", "首次参加，本年度暂不申报"
    CONTINUING_NO_SUBMISSION = "continuing_no_submission", "继续参加，本年度暂不申报"
    SUBMITTING = "submitting", "本年度申报"


class QcAchievementType(LabelledEnum):
    PROBLEM_SOLVING = "problem_solving", "问题解决型"
    INNOVATION = "innovation", "创新型"


class Stage(LabelledEnum):
    REGISTRATION = "registration", "报名"
    SUBMISSION = "submission", "申报"
    RECOMMENDATION = "recommendation", "推荐"
    REVIEW = "review", "评审"
    NOTICE = "notice", "公示"
    PUBLICATION = "publication", "发布"
