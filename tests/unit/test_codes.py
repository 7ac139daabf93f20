"""The coded values of the forms: stable codes, the forms' Chinese labels, the groups of the key industries."""

from contracts.codes import (
    ActivityKind,
    IndustryGroup,
    KeyDomain,
    KeyIndustry,
    RecommenderCategory,
    RegistrationIntent,
    UnitNature,
)
from contracts.identity import region_label, validate_region_code

import pytest

from qcp.demo import DEMO_UNITS


def test_unit_natures_as_printed() -> None:
    assert list(UnitNature.labels().values()) == ["国有", "民营", "外资", "合资", "事业单位", "其他"]


def test_key_industries_in_their_three_groups_and_other() -> None:
    grouped: dict[IndustryGroup, list[str]] = {}
    for item in KeyIndustry:
        grouped.setdefault(item.group, []).append(item.label)
    assert grouped == {
        IndustryGroup.LEADING: ["集成电路", "生物医药", "人工智能"],
        IndustryGroup.KEY: ["电子信息", "生命健康", "汽车", "高端装备", "先进材料", "时尚消费品"],
        IndustryGroup.MODERN_SERVICES: [
            "金融", "贸易", "航运", "科技创新服务", "创新数字赋能信息服务", "现代设计", "健康养老服务",
            "文化旅游", "教育", "标准、计量、检测", "社区服务",
        ],
        IndustryGroup.OTHER: ["其他"],
    }
    assert [group.label for group in IndustryGroup] == ["先导产业", "重点产业", "现代服务业", "其他"]


def test_the_demo_units_use_known_industry_domain_and_nature_codes() -> None:
    industries = {code for *_, codes in DEMO_UNITS for code in codes}
    assert industries == {"integrated_circuits", "biomedicine", "shipping", "high_end_equipment"}
    assert industries <= {member.value for member in KeyIndustry}
    assert {domain for _, _, _, domain, _ in DEMO_UNITS} <= {member.value for member in KeyDomain}
    assert {nature for _, _, nature, _, _ in DEMO_UNITS} <= {member.value for member in UnitNature}


def test_a_label_finds_its_code_whatever_the_punctuation() -> None:
    assert KeyIndustry.from_label("标准计量检测") is KeyIndustry.STANDARDS_METROLOGY_TESTING
    assert KeyIndustry.from_label("航运") is KeyIndustry.SHIPPING
    assert KeyIndustry.from_label("shipping") is KeyIndustry.SHIPPING
    assert KeyIndustry.from_label("造船") is None


def test_key_domains_as_printed() -> None:
    assert list(KeyDomain.labels().values()) == ["制造", "市场服务", "非营利性服务", "建设工程", "“专精特新”中小企业"]


def test_intents_as_printed_on_the_team_form_and_their_qc_wording() -> None:
    assert RegistrationIntent.SUBMITTING.label_for(ActivityKind.TEAM) == "参加活动申报质量信得过班组建设经验"
    assert RegistrationIntent.FIRST_TIME_NO_SUBMISSION.label_for("team") == "首次参加活动，暂无建设经验申报"
    assert RegistrationIntent.CONTINUING_NO_SUBMISSION.label_for("qc_group") == "持续参加活动，暂无成果申报"


def test_the_direct_channel_recommender_is_named_as_the_notice_names_it() -> None:
    assert RecommenderCategory.DIRECT.label == "其他-市质协会员与质量推进部"


def test_region_codes_of_gb_t_2260() -> None:
    assert validate_region_code("310000") == "310000" and region_label("540000") == "西藏自治区"
    assert validate_region_code("caq") == "CAQ" and region_label("CAQ") == "中国质量协会"
    with pytest.raises(ValueError, match="no province"):
        validate_region_code("990000")
