"""The submission forms as the seeds print them, and builders of valid ones for the other tests.

Builders return plain JSON-like dicts (what a client sends); tests change one field at a time.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import parse_payload
from contracts.filings import QcStatisticsForm, TeamStatisticsForm, WorkSummaryForm, summary_characters
from contracts.submitted import MATERIAL_SECTIONS, QcAchievementForm, TeamExperienceForm
from qcp.demo import demo_credit_code, demo_registration
from services.submission.domain.rules import SUMMARY_MIN_CHARACTERS

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def attachment(file_name: str, purpose: str = "report", media_type: str | None = None) -> dict[str, Any]:
    media = media_type or {"pdf": "application/pdf", "docx": DOCX, "mp4": "video/mp4"}[file_name.rsplit(".", 1)[1]]
    return {"purpose": purpose, "file_name": file_name, "size_bytes": 524_288, "media_type": media,
            "sha256": digest(file_name)}


def unit_of(index: int) -> dict[str, Any]:
    """The demo unit's registration form (qcp.demo): its credit code, full name and short name."""
    return demo_registration(index)


def qc_form(index: int = 0, **changes: Any) -> dict[str, Any]:
    unit = unit_of(index)
    form = {
        "credit_code": unit["credit_code"],
        "unit_name": unit["unit_name"],
        "qc_type": "problem_solving",
        "group_name": "降本增效QC小组",
        "group_registration_no": "SH2020-QC-0001",
        "topic": "降低变压器装配不良率",
        "members": [
            {"name": "王建国", "role": "leader", "gender": "male", "job_title": "班长"},
            {"name": "李秀英", "role": "member", "gender": "female", "job_title": "质量工程师"},
            {"name": "陈志强", "role": "member"},
        ],
        "contact": {"name": "王建国", "department": "质量管理部", "mobile": "13912345670", "email": "qc0@example.com"},
        "attachments": [attachment(f"{unit['short_name']}降本增效QC小组成果报告.docx")],
    }
    return form | changes


def team_form(index: int = 0, **changes: Any) -> dict[str, Any]:
    unit = unit_of(index)
    team = changes.get("team_name", "装配一班")
    form = {
        "recommender_id": None,
        "number": None,
        "credit_code": unit["credit_code"],
        "unit_name": unit["unit_name"],
        "member": True,
        "unit_nature": "state_owned",
        "key_industries": ["integrated_circuits"],
        "key_domain": "manufacturing",
        "team_name": team,
        "team_type": "生产现场型",
        "team_leader": "赵立新",
        "team_size": 12,
        "address": "上海市浦东新区张江路100号",
        "postcode": "201203",
        "managing_department": "质量管理部",
        "promoter": {"name": "王伟", "department": "质量管理部", "title": "质量经理",
                     "mobile": "13912345670", "email": "qc0@example.com"},
        "metrics": {
            "work_completion_rate": "100",
            "quality_assessment_pass_rate": "99.5",
            "nonconformity_rate": "0.12",
            "first_pass_rate": "99.3",
            "quality_safety_accidents": 0,
            "customer_complaints": 1,
            "trained_persons": 12,
            "training_hours": "96.5",
            "improvement_participation_rate": "100",
            "team_building_coverage_rate": "85",
            "quality_cost": "12.3456",
        },
        "basic_formal_unit": True,
        "accidents_last_three_years": {"quality": 0, "safety": 0, "environmental": 0},
        "commitments": {"voluntary": True, "follows_standard": True, "authentic": True, "no_state_secrets": True},
        "materials": {name: f"{label}：……" for name, label in MATERIAL_SECTIONS.items()},
        "attachments": [
            attachment(f"{unit['short_name']}{team}.pdf", "sealed_form"),
            attachment(f"{unit['short_name']}{team}.docx", "report"),
        ],
    }
    return form | changes


def contact() -> dict[str, Any]:
    return {"department": "质量管理处", "head": "孙海", "name": "周敏", "mobile": "13812345678",
            "email": "zhoumin@example.com", "address": "济南市经十路9999号", "postcode": "250101"}


def qc_statistics(**changes: Any) -> dict[str, Any]:
    """The Shandong 质量管理小组活动统计表 (2023-07 to 2024-06)."""
    form = {
        "period": {"first_month": "2023-07", "last_month": "2024-06"},
        "registered_groups_cumulative": 152_300,
        "registered_groups": 12_850,
        "participants": 96_420,
        "total_staff": 412_000,
        "active_groups": 11_930,
        "groups_with_results": 7_311,
        "economic_benefit_cumulative": "985432.17",
        "economic_benefit": "65210.5",
        "funding": "1320.75",
        "rewards": "486.2",
        "training_sessions": 38,
        "training_participants": 2_140,
        "features_and_suggestions": "数字化平台注册率提高；建议加强评委队伍建设。",
        "contact": contact(),
        "filled_by": "周敏",
        "filled_on": "2024-06-03",
    }
    return form | changes


def team_statistics(**changes: Any) -> dict[str, Any]:
    """The Shanghai 质量信得过班组建设活动成果统计表 (2023-01 to 2023-12)."""
    form = {
        "period": {"first_month": "2023-01", "last_month": "2023-12"},
        "enterprises": 46,
        "teams": 318,
        "teams_cumulative": 2_417,
        "participating_staff": 5_260,
        "teams_recommended": 24,
        "funding": "215.8",
        "rewards": "64.5",
        "caq_certified_judges": 7,
        "features_and_problems": "班组建设与QC小组活动联动推进。",
        "review_forms": ["presentation", "material"],
        "exchange": "joint_with_qc",
        "presentation_meeting": {"registered_teams": 30, "presented_teams": 26, "held_on": "2023年10月18日",
                                 "place": "上海市长宁区泰安路74号", "attendees": 180},
        "contact": contact() | {"address": "上海市长宁区泰安路74号", "postcode": "200052"},
    }
    return form | changes


def part(title: str, characters: int) -> str:
    sentence = f"{title}：围绕年度重点工作，推进标准宣贯、骨干培养与成果交流。"
    return (sentence * (characters // len(sentence) + 1))[:characters]


def work_summary(characters: int = 3600, **changes: Any) -> dict[str, Any]:
    third = characters // 3
    form = {
        "period": {"first_month": "2023-07", "last_month": "2024-06"},
        "basics": part("基本情况", third),
        "methods_and_results": part("推进经验和做法", third),
        "problems_and_next_steps": part("存在问题及改进方向", characters - 2 * third),
        "activities": [{"held_on": "2024-03-15", "place": "济南", "name": "QC小组成果发布会",
                        "form": "现场发表", "participants": 260}],
    }
    return form | changes


# ---------------------------------------------------------------- the forms themselves


def test_the_builders_give_valid_forms() -> None:
    assert QcAchievementForm.model_validate(qc_form()).members[0].role.label == "组长"
    team = TeamExperienceForm.model_validate(team_form())
    assert team.kind.value == "team" and team.credit_code == demo_credit_code(0)
    assert QcStatisticsForm.model_validate(qc_statistics()).period.key == "2023-07..2024-06"
    team_table = TeamStatisticsForm.model_validate(team_statistics())
    assert [item.label for item in team_table.review_forms] == ["发表评审", "资料评审"]
    assert team_table.exchange is not None and team_table.exchange.label == "与QC小组合开"
    assert WorkSummaryForm.model_validate(work_summary()).characters == 3600


def test_money_and_percentages_are_exact_decimals_never_floats() -> None:
    team = TeamExperienceForm.model_validate(team_form())
    assert team.metrics.quality_cost == Decimal("12.3456")
    dumped = team.model_dump(mode="json")["metrics"]
    assert dumped["quality_cost"] == "12.3456" and dumped["first_pass_rate"] == "99.3"
    from_number = TeamExperienceForm.model_validate(team_form(metrics=team_form()["metrics"] | {"quality_cost": 0.1}))
    assert from_number.metrics.quality_cost == Decimal("0.1")


def test_a_submitted_entry_round_trips_through_its_contract() -> None:
    form = TeamExperienceForm.model_validate(team_form()).model_dump(mode="json")
    payload = {"season_id": "310000-2024-team", "entry_id": "e", "form": form}
    parsed = parse_payload("EntrySubmitted", 1, payload)
    assert parsed.model_dump(mode="json") == payload
    assert isinstance(parsed.form, TeamExperienceForm)


def test_every_field_of_the_team_form_carries_its_chinese_label() -> None:
    schema = TeamExperienceForm.model_json_schema()
    titles = {name: item.get("title") for name, item in schema["properties"].items()}
    assert titles["team_name"] == "质量信得过班组名称" and titles["unit_name"].startswith("单位名称")
    metrics = schema["$defs"]["TeamMetrics"]["properties"]
    assert metrics["quality_cost"]["title"] == "质量成本（万元/年）"
    assert metrics["work_completion_rate"]["maximum"] == 100


def test_the_work_summary_counts_characters_without_white_space() -> None:
    assert summary_characters("质 量\n提升", "QC") == 6
    assert SUMMARY_MIN_CHARACTERS == 3000


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as refusal:
        TeamExperienceForm.model_validate(team_form(favourite=1))
    assert refusal.value.errors()[0]["loc"] == ("favourite",)
