"""Coded values with the Chinese labels printed on the associations' forms.

Codes are stable (they are stored in events and read models); labels are what users see.
Where a form prints an enumeration, the label is the form's text (seeds: the 2024 Shanghai
报名表/申报表, the 2020 Shanghai QC notice, the 2024 Shandong notice).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


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

    @classmethod
    def listing(cls) -> list[dict[str, Any]]:
        """Every code with its label, in the order the form prints them."""
        return [{"code": member.value, "label": member.label} for member in cls]

    @classmethod
    def from_label(cls, text: str) -> "LabelledEnum | None":
        """The member whose code or printed label is `text` (punctuation of the label ignored)."""
        wanted = _plain(text)
        for member in cls:
            if wanted in (member.value, _plain(member.label)):
                return member
        return None


def _plain(text: str) -> str:
    return "".join(char for char in text.strip() if char not in "、，,·“”\"' ")


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
    OPS = "ops", "平台运维"
    SYSTEM = "system", "系统"


class Channel(LabelledEnum):
    GROUP = "group", "班组通道"
    UNIT = "unit", "单位通道"
    RECOMMENDER = "recommender", "推荐通道"
    DIRECT = "direct", "其他-市质协会员与质量推进部"
    ORGANIZER = "organizer", "组织方"
    FEED = "feed", "省级平台数据接口"
    SYSTEM = "system", "系统"


# The channels through which a season takes part (Shanghai 2020 QC notice, 2024 team notice);
# the others name who acted for the platform itself.
PARTICIPATION_CHANNELS = frozenset({Channel.GROUP, Channel.UNIT, Channel.RECOMMENDER, Channel.DIRECT})


class UnitNature(LabelledEnum):
    """单位性质 (报名表): one box, 其他 with a text."""

    STATE_OWNED = "state_owned", "国有"
    PRIVATE = "private", "民营"
    FOREIGN = "foreign", "外资"
    JOINT_VENTURE = "joint_venture", "合资"
    PUBLIC_INSTITUTION = "public_institution", "事业单位"
    OTHER = "other", "其他"


class IndustryGroup(LabelledEnum):
    """The three groups the 报名表 prints its key industries under, and 其他."""

    LEADING = "leading", "先导产业"
    KEY = "key", "重点产业"
    MODERN_SERVICES = "modern_services", "现代服务业"
    OTHER = "other", "其他"


class KeyIndustry(LabelledEnum):
    """重点产业 (可多选), as printed on the 2024 Shanghai 报名表 and 申报表, each in its group."""

    group: IndustryGroup

    def __new__(cls, value: str, label: str, group: IndustryGroup = IndustryGroup.OTHER) -> "KeyIndustry":
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.group = group
        return member

    # 先导产业
    INTEGRATED_CIRCUITS = "integrated_circuits", "集成电路", IndustryGroup.LEADING
    BIOMEDICINE = "biomedicine", "生物医药", IndustryGroup.LEADING
    ARTIFICIAL_INTELLIGENCE = "artificial_intelligence", "人工智能", IndustryGroup.LEADING
    # 重点产业
    ELECTRONIC_INFORMATION = "electronic_information", "电子信息", IndustryGroup.KEY
    LIFE_HEALTH = "life_health", "生命健康", IndustryGroup.KEY
    AUTOMOTIVE = "automotive", "汽车", IndustryGroup.KEY
    HIGH_END_EQUIPMENT = "high_end_equipment", "高端装备", IndustryGroup.KEY
    ADVANCED_MATERIALS = "advanced_materials", "先进材料", IndustryGroup.KEY
    FASHION_CONSUMER_GOODS = "fashion_consumer_goods", "时尚消费品", IndustryGroup.KEY
    # 现代服务业
    FINANCE = "finance", "金融", IndustryGroup.MODERN_SERVICES
    TRADE = "trade", "贸易", IndustryGroup.MODERN_SERVICES
    SHIPPING = "shipping", "航运", IndustryGroup.MODERN_SERVICES
    SCI_TECH_INNOVATION_SERVICES = "sci_tech_innovation_services", "科技创新服务", IndustryGroup.MODERN_SERVICES
    DIGITAL_INFORMATION_SERVICES = "digital_information_services", "创新数字赋能信息服务", IndustryGroup.MODERN_SERVICES
    MODERN_DESIGN = "modern_design", "现代设计", IndustryGroup.MODERN_SERVICES
    HEALTH_ELDERLY_CARE = "health_elderly_care", "健康养老服务", IndustryGroup.MODERN_SERVICES
    CULTURE_TOURISM = "culture_tourism", "文化旅游", IndustryGroup.MODERN_SERVICES
    EDUCATION = "education", "教育", IndustryGroup.MODERN_SERVICES
    STANDARDS_METROLOGY_TESTING = "standards_metrology_testing", "标准、计量、检测", IndustryGroup.MODERN_SERVICES
    COMMUNITY_SERVICES = "community_services", "社区服务", IndustryGroup.MODERN_SERVICES
    # 其他: ____
    OTHER = "other", "其他", IndustryGroup.OTHER

    @classmethod
    def listing(cls) -> list[dict[str, Any]]:
        return [
            {"code": item.value, "label": item.label, "group": item.group.value, "group_label": item.group.label}
            for item in cls
        ]


class KeyDomain(LabelledEnum):
    """重点领域 (单选): the five domains of the Shanghai notices."""

    MANUFACTURING = "manufacturing", "制造"
    MARKET_SERVICES = "market_services", "市场服务"
    NONPROFIT_SERVICES = "nonprofit_services", "非营利性服务"
    CONSTRUCTION = "construction", "建设工程"
    SPECIALIZED_SME = "specialized_sme", "“专精特新”中小企业"


class RegistrationIntent(LabelledEnum):
    """申报意向 (可多选), as printed on the 2024 Shanghai team 报名表.

    The QC 报名表 is named in the 2024 QC notice but not reproduced in the sources; its boxes
    are taken to be the same three, with 成果 in place of 建设经验.
    """

    FIRST_TIME_NO_SUBMISSION = "first_time_no_submission", "首次参加活动，暂无建设经验申报"
    CONTINUING_NO_SUBMISSION = "continuing_no_submission", "持续参加活动，暂无建设经验申报"
    SUBMITTING = "submitting", "参加活动申报质量信得过班组建设经验"

    def label_for(self, kind: "ActivityKind | str") -> str:
        """The box's text on the given activity's form."""
        if ActivityKind(kind) is ActivityKind.TEAM:
            return self.label
        return {
            RegistrationIntent.FIRST_TIME_NO_SUBMISSION: "首次参加活动，暂无成果申报",
            RegistrationIntent.CONTINUING_NO_SUBMISSION: "持续参加活动，暂无成果申报",
            RegistrationIntent.SUBMITTING: "参加活动申报质量管理小组成果",
        }[self]


class QcAchievementType(LabelledEnum):
    """课题类型 of a QC group achievement (T/CAQ10201-2020)."""

    PROBLEM_SOLVING = "problem_solving", "问题解决型"
    INNOVATION = "innovation", "创新型"


class Stage(LabelledEnum):
    """The stages of a season, in calendar order."""

    REGISTRATION = "registration", "报名"
    SUBMISSION = "submission", "申报"
    RECOMMENDATION = "recommendation", "推荐"
    REVIEW = "review", "评审"
    NOTICE = "notice", "公示"
    PUBLICATION = "publication", "发布"


class RecommenderCategory(LabelledEnum):
    """推荐单位: 各区/行业/集团 (Shanghai), 各市/行业 (Shandong), and the direct channel."""

    DISTRICT = "district", "区"
    CITY = "city", "市"
    INDUSTRY = "industry", "行业"
    GROUP_COMPANY = "group_company", "集团公司"
    DIRECT = "direct", "其他-市质协会员与质量推进部"


class ReviewForm(LabelledEnum):
    """评审形式 (the statistics forms): how entries are scored."""

    PRESENTATION = "presentation", "发表评审"
    MATERIAL = "material", "资料评审"
    ON_SITE = "on_site", "现场评审"
