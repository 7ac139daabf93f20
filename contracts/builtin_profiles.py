"""The built-in form profiles, taken from the seeds: Shanghai 2024 QC and teams, Shanghai 2020 QC, Shandong
2024 QC and teams (鲁质协〔2024〕16号, 附件1–6), and the national association's (CAQ, 中质协字〔2024〕59号, as
Tibet forwards it).

The Shanghai profiles are exactly the forms the platform asked for before profiles existed: a season that
names no profile gets Shanghai's of its kind (`default_profile_ref`), so seasons, entries and filings stored
before profiles read and check as they did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from contracts.codes import ActivityKind
from contracts.profiles import (
    AttachmentNaming,
    FieldRule,
    FormName,
    FormProfile,
    FormSpec,
    Presence,
    ProfileRef,
    RateMode,
    Unit,
)
from contracts.profile_rules import catalogue

SHANGHAI_QC_2024 = ProfileRef(profile_id="shanghai-2024-qc", version=1)
SHANGHAI_TEAM_2024 = ProfileRef(profile_id="shanghai-2024-team", version=1)
SHANGHAI_QC_2020 = ProfileRef(profile_id="shanghai-2020-qc", version=1)
SHANDONG_QC_2024 = ProfileRef(profile_id="shandong-2024-qc", version=1)
SHANDONG_TEAM_2024 = ProfileRef(profile_id="shandong-2024-team", version=1)
NATIONAL_QC_2024 = ProfileRef(profile_id="caq-2024-qc", version=1)

SHANGHAI_COMMITMENTS = {
    "voluntary": "自愿参加本年度上海市“质量信得过班组”活动",
    "follows_standard": "推行《质量信得过班组建设准则》(T/CAQ10204-2017)",
    "authentic": "提交所有材料均真实、合法、有效，不存在剽窃他人活动成果、侵犯他人知识产权、伪造材料等不端及失信行为",
    "no_state_secrets": "申报建设经验内容不含《中华人民共和国保守国家秘密法》所规定的涉密内容",
}
SHANGHAI_DECLARATION = (
    "本单位遵守上海市群众性质量提升活动的有关规定，承诺遵守评审工作纪律，所提供的推荐申报材料真实有效，"
    "且不存在任何违反《中华人民共和国保守国家秘密法》等相关法律法规及侵犯他人知识产权的情形。"
    "如存在争议，将积极调查处理。如存在材料虚假或违纪行为，将承担相应责任。"
)
# The Shandong 推荐汇总表 (附件3, 附件6) is named but not reproduced in the notice; its declaration is the
# notice's own words for what a recommending unit answers for (二、1: 由各推荐单位负责审查把关).
SHANDONG_DECLARATION = "本单位已按《关于开展山东省第四十四届群众性质量管理活动的通知》对所推荐的申报材料负责审查把关，推荐材料真实有效。"
# The national notice's requirement of recommending units (三、(一)), as they declare it.
NATIONAL_DECLARATION = (
    "本单位严格按照《全国质协系统规范开展质量推进活动管理办法》做好全国优秀质量管理小组推荐申报工作，"
    "未以任何形式、任何名义向参与活动的企业和小组收取任何费用。"
)
SHANGHAI_DIRECT_CHANNEL = "其他-市质协会员与质量推进部"

PARTICIPATION_FORMULA = "本年度QC小组普及率=参加QC小组人数/职工总数×100%"
ACHIEVEMENT_FORMULA = "本年度QC小组成果率=取得成果小组数/QC小组注册数×100%"


def _spec(
    name: FormName,
    title: str,
    *,
    optional: Iterable[str] = (),
    absent: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, Unit] | None = None,
    rates: Mapping[str, FieldRule] | None = None,
    choices: Mapping[str, list[str]] | None = None,
) -> FormSpec:
    """Every field of the form: required unless named optional or absent; labels default to the model's titles."""
    optional, absent = set(optional), set(absent)
    labels, units, rates, choices = labels or {}, units or {}, rates or {}, choices or {}
    fields: dict[str, FieldRule] = {}
    for path, title_of_model in catalogue(name).items():
        if path in rates:
            fields[path] = rates[path]
            continue
        presence = Presence.ABSENT if path in absent else Presence.OPTIONAL if path in optional else Presence.REQUIRED
        fields[path] = FieldRule(
            presence=presence, label=labels.get(path, title_of_model), unit=units.get(path), choices=choices.get(path)
        )
    unknown = (optional | absent | set(labels) | set(units) | set(rates) | set(choices)) - set(fields)
    if unknown:
        raise ValueError(f"{name.value}: no such fields {sorted(unknown)}")
    return FormSpec(title=title, fields=fields)


# ---------------------------------------------------------------- Shanghai (沪质协〔2024〕7号, 9号; 2020 notice)

SHANGHAI_REGISTRATION = dict(
    optional={"short_name", "unit_nature_other", "key_industries", "key_industry_other", "recommender_id"},
    labels={"unit_name": "单位名称", "short_name": "单位简称", "member": "会员单位", "unit_nature": "单位性质",
            "key_industries": "重点产业（可多选）", "key_domain": "重点领域（单选）", "address": "详细地址",
            "postcode": "邮编", "managing_department": "活动归口管理部门", "promoter.name": "活动推进者 姓名",
            "promoter.department": "活动推进者 部门", "promoter.title": "活动推进者 职务",
            "promoter.mobile": "活动推进者 手机", "promoter.email": "活动推进者 E-mail",
            "intents": "申报意向（可多选）", "credit_code": "统一社会信用代码", "recommender_id": "推荐单位"},
)
SHANGHAI_QC_ENTRY = dict(optional={"recommender_id", "group_registration_no", "contact", "attachments"})
SHANGHAI_TEAM_ENTRY = dict(
    optional={"recommender_id", "number", "unit_short_name", "unit_nature_other", "key_industries",
              "key_industry_other", "team_type", "team_leader", "attachments"},
    absent={"contact_name", "contact_mobile", "contact_phone"},
    units={"team_size": Unit.PERSONS, "metrics.quality_safety_accidents": Unit.TIMES,
           "metrics.customer_complaints": Unit.TIMES, "metrics.trained_persons": Unit.PERSONS,
           "metrics.training_hours": Unit.HOURS, "metrics.quality_cost": Unit.TEN_THOUSAND_YUAN_PER_YEAR},
)
SHANGHAI_QC_STATISTICS = dict(
    optional={"filled_by", "filled_on"},
    labels={"registered_groups_cumulative": "历年来已登记注册QC小组累计数", "registered_groups": "本年度已登记注册QC小组数",
            "participants": "参加QC小组人数", "total_staff": "职工总数", "active_groups": "本年度坚持活动的QC小组数",
            "economic_benefit_cumulative": "历年来累计QC小组创可计算的经济效益",
            "economic_benefit": "本年度QC小组创可计算的经济效益", "groups_with_results": "取得成果小组数",
            "funding": "本年度企业对QC小组活动经费投入（培训、交流、书籍等费用）", "rewards": "本年度企业对QC小组活动奖励费用",
            "training_sessions": "参加省、市、行业质协组织的培训/交流次数",
            "training_participants": "参加省、市、行业质协组织的培训/交流人数"},
    units={"registered_groups_cumulative": Unit.PIECES, "registered_groups": Unit.PIECES,
           "participants": Unit.PERSONS, "total_staff": Unit.PERSONS, "active_groups": Unit.PIECES,
           "groups_with_results": Unit.PIECES, "economic_benefit_cumulative": Unit.TEN_THOUSAND_YUAN,
           "economic_benefit": Unit.TEN_THOUSAND_YUAN, "funding": Unit.TEN_THOUSAND_YUAN,
           "rewards": Unit.TEN_THOUSAND_YUAN, "training_sessions": Unit.TIMES, "training_participants": Unit.PIECES},
    rates={
        "participation_rate": FieldRule(presence=Presence.ABSENT, label="本年度QC小组普及率", unit=Unit.PERCENT,
                                        rate=RateMode.DERIVED, numerator="participants", denominator="total_staff",
                                        formula=PARTICIPATION_FORMULA),
        "achievement_rate": FieldRule(presence=Presence.ABSENT, label="本年度QC小组成果率", unit=Unit.PERCENT,
                                      rate=RateMode.DERIVED, numerator="groups_with_results",
                                      denominator="registered_groups", formula=ACHIEVEMENT_FORMULA),
    },
)
SHANGHAI_TEAM_STATISTICS = dict(
    optional={"filled_by", "filled_on", "review_forms", "exchange", "presentation_meeting"},
    labels={"review_forms": "质量信得过班组建设经验评审及交流形式（评审）", "exchange": "质量信得过班组建设经验评审及交流形式（交流）",
            "presentation_meeting": "是否组织发表会", "enterprises": "本年度开展质量信得过班组企业数",
            "teams": "本年度开展质量信得过班组数", "teams_cumulative": "历年质量信得过班组累计数",
            "participating_staff": "本年度参与质量信得过班组活动员工数", "teams_recommended": "本年度推荐上海市质量信得过班组数",
            "funding": "本年度对质量信得过班组活动经费投入（培训、交流、规范化等）", "rewards": "本年度对质量信得过班组活动奖励费用",
            "caq_certified_judges": "取得中国质协评委证书人数", "features_and_problems": "本年度开展质量信得过班组建设活动主要特点与问题"},
    units={"enterprises": Unit.PIECES, "teams": Unit.PIECES, "teams_cumulative": Unit.PIECES,
           "participating_staff": Unit.PERSON_TIMES, "teams_recommended": Unit.PIECES,
           "funding": Unit.TEN_THOUSAND_YUAN, "rewards": Unit.TEN_THOUSAND_YUAN, "caq_certified_judges": Unit.PERSONS},
)
WORK_SUMMARY = dict(optional={"activities"})


def _shanghai(ref: ProfileRef, kind: ActivityKind, title: str, sources: list[str]) -> FormProfile:
    entry = (
        (FormName.QC_ACHIEVEMENT, _spec(FormName.QC_ACHIEVEMENT, "质量管理小组成果申报表", **SHANGHAI_QC_ENTRY))
        if kind is ActivityKind.QC_GROUP
        else (FormName.TEAM_EXPERIENCE, _spec(FormName.TEAM_EXPERIENCE, "“质量信得过班组”建设活动申报表",
                                              **SHANGHAI_TEAM_ENTRY))
    )
    statistics = (
        (FormName.QC_STATISTICS, _spec(FormName.QC_STATISTICS, "质量管理小组活动统计表", **SHANGHAI_QC_STATISTICS))
        if kind is ActivityKind.QC_GROUP
        else (FormName.TEAM_STATISTICS, _spec(FormName.TEAM_STATISTICS, "“质量信得过班组”建设活动成果统计表",
                                              **SHANGHAI_TEAM_STATISTICS))
    )
    return FormProfile(
        profile_id=ref.profile_id, version=ref.version, title=title, kind=kind, sources=sources,
        forms={
            FormName.REGISTRATION: _spec(FormName.REGISTRATION, "活动报名表", **SHANGHAI_REGISTRATION),
            entry[0]: entry[1],
            FormName.RECOMMENDATION: _spec(FormName.RECOMMENDATION, "推荐表"),
            statistics[0]: statistics[1],
            FormName.WORK_SUMMARY: _spec(FormName.WORK_SUMMARY, "推进工作总结", **WORK_SUMMARY),
        },
        commitments=SHANGHAI_COMMITMENTS if kind is ActivityKind.TEAM else {},
        declaration_text=SHANGHAI_DECLARATION,
        attachment_naming=AttachmentNaming.SHORT_NAME_AND_TEAM if kind is ActivityKind.TEAM else AttachmentNaming.FREE,
        direct_channel_name=SHANGHAI_DIRECT_CHANNEL,
        prior_registration_required=True,
    )


# ---------------------------------------------------------------- Shandong (鲁质协〔2024〕16号)

SHANDONG_TEAM_ENTRY = dict(
    optional={"recommender_id", "attachments"},
    absent={"number", "unit_short_name", "member", "unit_nature", "unit_nature_other", "key_industries",
            "key_industry_other", "key_domain", "team_type", "promoter", "basic_formal_unit",
            "accidents_last_three_years", "commitments", "metrics.team_building_coverage_rate"},
    labels={"recommender_id": "推荐市、行业", "unit_name": "企业名称（公章为准）", "team_name": "质量信得过班组名称",
     "address": "详细通讯地址", "postcode": "邮编", "managing_department": "主管部门",
     "contact_name": "直接联系人", "contact_mobile": "手机", "contact_phone": "电话", "team_leader": "班组长",
     "team_size": "班组人数", "metrics.trained_persons": "年培训人数", "metrics.training_hours": "年培训时数",
     "materials.features_and_results": "班组管理特色、业绩及评价结果"},
    units=SHANGHAI_TEAM_ENTRY["units"],
)
SHANDONG_QC_STATISTICS = dict(
    optional={"filled_by", "filled_on"},
    absent={"participants", "total_staff", "groups_with_results"},
    labels={"registered_groups_cumulative": "历年来已登记注册QC小组累计数",
            "registered_groups": "本年度已登记注册QC小组数", "active_groups": "本年度坚持活动的QC小组数",
            "training_sessions": "参加省、市、行业质协组织的培训/交流次数",
            "training_participants": "参加省、市、行业质协组织的培训/交流人数",
            "features_and_suggestions": "本年度QC小组活动主要特点与建议",
            "economic_benefit_cumulative": "历年来累计QC小组创可计算的经济效益",
            "economic_benefit": "本年度QC小组创可计算的经济效益",
            "funding": "本年度企业对QC小组活动经费投入（培训、交流、书籍等费用）", "rewards": "本年度企业对QC小组活动奖励费用",
            "contact": "QC小组工作归口部门及负责人、联系人"},
    units={"registered_groups_cumulative": Unit.TEN_THOUSAND_PIECES, "registered_groups": Unit.TEN_THOUSAND_PIECES,
           "active_groups": Unit.TEN_THOUSAND_PIECES, "economic_benefit_cumulative": Unit.TEN_THOUSAND_YUAN,
           "economic_benefit": Unit.TEN_THOUSAND_YUAN, "funding": Unit.TEN_THOUSAND_YUAN,
           "rewards": Unit.TEN_THOUSAND_YUAN, "training_sessions": Unit.TIMES,
           "training_participants": Unit.PIECES},
    rates={
        "participation_rate": FieldRule(presence=Presence.REQUIRED, label="本年度QC小组普及率", unit=Unit.PERCENT,
                                        rate=RateMode.TYPED, formula=PARTICIPATION_FORMULA),
        "achievement_rate": FieldRule(presence=Presence.REQUIRED, label="本年度QC小组成果率", unit=Unit.PERCENT,
                                      rate=RateMode.TYPED, formula=ACHIEVEMENT_FORMULA),
    },
)
SHANDONG_TEAM_STATISTICS = dict(
    optional={"filled_by", "filled_on", "review_forms", "exchange"},
    absent={"enterprises", "caq_certified_judges", "presentation_meeting"},
    labels={"teams": "本年度开展质量信得过班组数", "teams_cumulative": "历年质量信得过班组累计数",
            "participating_staff": "本年度参与质量信得过班组活动员工数",
            "teams_recommended": "本年度推荐山东省质量信得过班组数",
            "funding": "本年度对质量信得过班组活动投入费用（培训、交流、规范化等）",
            "rewards": "本年度对质量信得过班组活动奖励费用",
            "features_and_problems": "本年度开展质量信得过班组主要特点与问题",
            "review_forms": "质量信得过班组评审及交流形式（评审）", "exchange": "质量信得过班组评审及交流形式（交流）",
            "contact": "质量信得过班组工作归口部门及负责人、联系人"},
    units={"teams": Unit.PIECES, "teams_cumulative": Unit.PIECES, "participating_staff": Unit.PIECES,
           "teams_recommended": Unit.PIECES, "funding": Unit.TEN_THOUSAND_YUAN, "rewards": Unit.TEN_THOUSAND_YUAN},
    choices={"review_forms": ["presentation", "on_site"]},
)
SHANDONG_SOURCES = ["鲁质协〔2024〕16号 关于开展山东省第四十四届群众性质量管理活动的通知，附件1–6"]


def _shandong(ref: ProfileRef, kind: ActivityKind) -> FormProfile:
    if kind is ActivityKind.QC_GROUP:
        forms = {
            # 附件1 (申报表) is named but not reproduced: the QC achievement form of the national standard
            FormName.QC_ACHIEVEMENT: _spec(FormName.QC_ACHIEVEMENT, "2024年山东省质量管理小组申报表",
                                           **SHANGHAI_QC_ENTRY),
            FormName.RECOMMENDATION: _spec(FormName.RECOMMENDATION, "2024年质量管理小组活动推荐汇总表"),
            FormName.QC_STATISTICS: _spec(FormName.QC_STATISTICS, "质量管理小组活动统计表", **SHANDONG_QC_STATISTICS),
        }
        title = "山东省第四十四届群众性质量管理活动：质量管理小组（2024）"
    else:
        forms = {
            FormName.TEAM_EXPERIENCE: _spec(FormName.TEAM_EXPERIENCE, "2024年山东省质量信得过班组申报表",
                                            **SHANDONG_TEAM_ENTRY),
            FormName.RECOMMENDATION: _spec(FormName.RECOMMENDATION, "2024年质量信得过班组活动推荐汇总表"),
            FormName.TEAM_STATISTICS: _spec(FormName.TEAM_STATISTICS, "质量信得过班组活动统计表",
                                            **SHANDONG_TEAM_STATISTICS),
        }
        title = "山东省第四十四届群众性质量管理活动：质量信得过班组（2024）"
    return FormProfile(
        profile_id=ref.profile_id, version=ref.version, title=title, kind=kind, sources=SHANDONG_SOURCES,
        forms=forms, commitments={}, declaration_text=SHANDONG_DECLARATION, attachment_naming=AttachmentNaming.FREE,
        direct_channel_name=None, prior_registration_required=False,
    )


# ---------------------------------------------------------------- national (中质协字〔2024〕59号, forwarded by 藏质协字〔2024〕10号)

NATIONAL_REGISTRATION = dict(
    optional={"short_name", "managing_department", "recommender_id", "promoter.department", "promoter.title"},
    absent={"member", "unit_nature", "unit_nature_other", "key_industries", "key_industry_other", "key_domain",
            "intents"},
    labels={"unit_name": "单位名称", "short_name": "单位简称", "address": "通讯地址", "postcode": "邮编",
            "managing_department": "QC小组活动归口管理部门", "promoter.name": "联系人", "promoter.mobile": "手机",
            "promoter.email": "邮箱", "promoter.department": "部门", "promoter.title": "职务", "credit_code": "统一社会信用代码",
            "recommender_id": "推荐单位（省区市、行业质协）"},
)


def _national(ref: ProfileRef) -> FormProfile:
    return FormProfile(
        profile_id=ref.profile_id, version=ref.version, title="全国质量管理小组活动（中国质量协会，2024）",
        kind=ActivityKind.QC_GROUP,
        sources=["中质协字〔2024〕59号 关于开展2024年度全国质量管理小组活动推进工作的通知",
                 "藏质协字（2024）10号 关于转发《关于开展2024年度质量管理小组活动推进工作通知》的通知"],
        forms={
            # 小组注册 on the national service platform (重点工作 二、(二)): who the unit is and who to reach
            FormName.REGISTRATION: _spec(FormName.REGISTRATION, "服务平台注册", **NATIONAL_REGISTRATION),
            FormName.QC_ACHIEVEMENT: _spec(FormName.QC_ACHIEVEMENT, "全国优秀质量管理小组申报", **SHANGHAI_QC_ENTRY),
            FormName.RECOMMENDATION: _spec(FormName.RECOMMENDATION, "全国优秀质量管理小组推荐"),
        },
        commitments={}, declaration_text=NATIONAL_DECLARATION, attachment_naming=AttachmentNaming.FREE,
        direct_channel_name=None, prior_registration_required=True,
    )


@cache
def builtin_profiles() -> dict[str, FormProfile]:
    """Every built-in profile by `profile_id@vN`."""
    profiles = [
        _shanghai(SHANGHAI_QC_2024, ActivityKind.QC_GROUP, "上海市质量管理小组活动（2024）",
                  ["沪质协〔2024〕7号 关于开展2024年上海市质量管理小组活动的通知"]),
        _shanghai(SHANGHAI_TEAM_2024, ActivityKind.TEAM, "上海市“质量信得过班组”建设活动（2024）",
                  ["沪质协（2024）9号 关于开展2024年上海市“质量信得过班组”建设活动的通知，附件2–7"]),
        _shanghai(SHANGHAI_QC_2020, ActivityKind.QC_GROUP, "上海市质量管理小组活动成果申报/推荐（2020）",
                  ["关于开展2020年上海市质量管理小组活动成果申报/推荐工作的通知（2020-06-29）"]),
        _shandong(SHANDONG_QC_2024, ActivityKind.QC_GROUP),
        _shandong(SHANDONG_TEAM_2024, ActivityKind.TEAM),
        _national(NATIONAL_QC_2024),
    ]
    return {profile.ref.key: profile for profile in profiles}


def builtin_profile(ref: ProfileRef) -> FormProfile | None:
    return builtin_profiles().get(ref.key)


def default_profile_ref(kind: ActivityKind | str) -> ProfileRef:
    """What a season that names no profile uses: Shanghai's of its kind, the platform's forms before profiles."""
    return SHANGHAI_QC_2024 if ActivityKind(kind) is ActivityKind.QC_GROUP else SHANGHAI_TEAM_2024
