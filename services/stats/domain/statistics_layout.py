"""The 统计表 as the season's own form prints it: which items, their labels and units, typed or derived rates.

A season's form profile (contracts.profiles) says what its 统计表 asks for: Shandong's QC table counts groups
in 万个 and has 普及率 and 成果率 typed in, its team table has six items; Shanghai's tables are the platform's
default. The reports keep every figure as filed (in the form's unit) and render the season's layout; the
national roll-up counts groups in 个 and re-derives a rate only from the provinces that filed both its figures.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.codes import ActivityKind
from contracts.profiles import FormName, FormProfile, Presence, RateMode, Unit
from contracts.season_profile import profile_of_document
from contracts.rates import RATE_FIGURES, RATE_FORMULAS, rate

# 统计表 items (Shandong 附件2 for QC groups, Shanghai 附件6 for teams): key, 统计项目, 单位, in the order printed.
QC_ITEMS = [
    ("registered_groups_cumulative", "历年来已登记注册QC小组累计数", "个"),
    ("registered_groups", "本年度已登记注册QC小组数", "个"),
    ("participants", "参加QC小组人数", "人"),
    ("total_staff", "职工总数", "人"),
    ("participation_rate", "本年度QC小组普及率=参加QC小组人数/职工总数×100%", "百分数"),
    ("active_groups", "本年度坚持活动的QC小组数", "个"),
    ("economic_benefit_cumulative", "历年来累计QC小组创可计算的经济效益", "万元"),
    ("economic_benefit", "本年度QC小组创可计算的经济效益", "万元"),
    ("groups_with_results", "取得成果小组数", "个"),
    ("achievement_rate", "本年度QC小组成果率=取得成果小组数/QC小组注册数×100%", "百分数"),
    ("funding", "本年度企业对QC小组活动经费投入（培训、交流、书籍等费用）", "万元"),
    ("rewards", "本年度企业对QC小组活动奖励费用", "万元"),
    ("training_sessions", "参加省、市、行业质协组织的培训/交流次数", "次"),
    ("training_participants", "参加省、市、行业质协组织的培训/交流人数", "个"),
]
TEAM_ITEMS = [
    ("enterprises", "本年度开展质量信得过班组企业数", "个"),
    ("teams", "本年度开展质量信得过班组数", "个"),
    ("teams_cumulative", "历年质量信得过班组累计数", "个"),
    ("participating_staff", "本年度参与质量信得过班组活动员工数", "人次"),
    ("teams_recommended", "本年度推荐质量信得过班组数", "个"),
    ("funding", "本年度对质量信得过班组活动经费投入（培训、交流、规范化等）", "万元"),
    ("rewards", "本年度对质量信得过班组活动奖励费用", "万元"),
    ("caq_certified_judges", "取得中国质协评委证书人数", "人"),
    ("meetings", "组织发表会的推荐单位数", "个"),
    ("meeting_registered_teams", "发表会报名班组数", "个"),
    ("meeting_presented_teams", "发表班组数", "个"),
    ("meeting_attendees", "发表会参会人数", "人"),
]
ITEMS = {ActivityKind.QC_GROUP.value: QC_ITEMS, ActivityKind.TEAM.value: TEAM_ITEMS}
STATISTICS_FORMS = {ActivityKind.QC_GROUP.value: FormName.QC_STATISTICS, ActivityKind.TEAM.value: FormName.TEAM_STATISTICS}
MEETING_ITEMS = frozenset({"meetings", "meeting_registered_teams", "meeting_presented_teams", "meeting_attendees"})
TYPED_RATES = frozenset(RATE_FIGURES)
TEN_THOUSAND = Decimal(10_000)


def season_profile_of(season: dict[str, Any]) -> FormProfile | None:
    """The season record's form profile; None for a season stats has not seen opened."""
    if not season.get("kind"):
        return None
    return profile_of_document(season)


def items_of(kind: str | None, profile: FormProfile | None) -> list[dict[str, Any]]:
    """The 统计表's items in the season's layout: what its form leaves out is not shown, labels and units as printed."""
    items = []
    form = STATISTICS_FORMS.get(kind or "")
    for key, label, unit in ITEMS.get(kind or "", []):
        item: dict[str, Any] = {"key": key, "label": label, "unit": unit}
        if profile is not None and form is not None:
            rule = profile.rule(form, "presentation_meeting" if key in MEETING_ITEMS else key)
            if rule is not None:
                if rule.presence is Presence.ABSENT and rule.rate is not RateMode.DERIVED:
                    continue
                if key not in MEETING_ITEMS:
                    item["label"] = (rule.formula if rule.rate and rule.formula else rule.label)
                    item["unit"] = rule.unit.label if rule.unit else unit
                if rule.rate is not None:
                    item["rate"] = rule.rate.value
        items.append(item)
    return items


def rates_of(figures: dict[str, Any], typed: dict[str, Any], kind: str | None,
             profile: FormProfile | None) -> dict[str, Any]:
    """A table's rates: derived ones from its figures (with formula and figures), typed ones as typed."""
    if kind != ActivityKind.QC_GROUP.value:
        return {}
    rates: dict[str, Any] = {}
    for name, (numerator, denominator) in RATE_FIGURES.items():
        rule = profile.rule(FormName.QC_STATISTICS, name) if profile else None
        if rule is not None and rule.rate is RateMode.TYPED:
            value = typed.get(name)
            rates[name] = {"value": None if value is None else str(value), "unit": "%", "typed": True,
                           "formula": rule.formula or RATE_FORMULAS[name]}
            continue
        rates[name] = rate(_whole(figures.get(numerator)), _whole(figures.get(denominator)),
                           RATE_FORMULAS[name]).model_dump(mode="json")
    return rates


def _whole(value: Any) -> int:
    if value is None:
        return 0
    return int(Decimal(str(value)))


def in_pieces(figures: dict[str, Any], profile: FormProfile | None, kind: str | None) -> dict[str, Any]:
    """The figures with counts in 万个 turned into 个, so that provinces' tables add up."""
    form = STATISTICS_FORMS.get(kind or "")
    if profile is None or form is None:
        return dict(figures)
    converted = dict(figures)
    for key, value in figures.items():
        rule = profile.rule(form, key)
        if rule is not None and rule.unit is Unit.TEN_THOUSAND_PIECES and value is not None:
            pieces = Decimal(str(value)) * TEN_THOUSAND
            converted[key] = int(pieces) if pieces == pieces.to_integral_value() else str(pieces.normalize())
    return converted
