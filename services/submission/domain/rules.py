"""The rules of the forms that need nothing but the form itself (the seeds' 申报表 notes, 申报条件,
组织承诺, the statistics tables and the work summary's requirements). Each refusal names its rule."""

from __future__ import annotations

from decimal import Decimal

from contracts.codes import KeyIndustry, UnitNature
from contracts.registered import DEFAULT_TEAM_NAME_SUFFIXES, REFUSED_TEAM_NAME_SUFFIX
from contracts.filings import SUMMARY_PARTS, QcStatisticsForm, TeamStatisticsForm, WorkSummaryForm
from contracts.submitted import (
    COMMITMENTS,
    AttachmentPurpose,
    QcAchievementForm,
    QcMemberRole,
    TeamExperienceForm,
)
from contracts.profiles import AttachmentNaming, FormName, FormProfile, Presence
from infra.errors import RuleViolation

TEAM_NAME_SUFFIXES = DEFAULT_TEAM_NAME_SUFFIXES
SUMMARY_MIN_CHARACTERS = 3000
PERIOD_MAX_MONTHS = 12


# ---------------------------------------------------------------- entries


def check_team_name(name: str, approved_suffixes: tuple[str, ...] = ()) -> None:
    """申报表 note 3: 班 and 组 are distinguished; not “**班组”, but “**班”, “**组”, “**工段” or “**室” 等:
    the four endings, and those the organizer approved for the season (TeamNameSuffixApproved)."""
    suffixes = (*TEAM_NAME_SUFFIXES, *approved_suffixes)
    if name.endswith(REFUSED_TEAM_NAME_SUFFIX) or not name.endswith(suffixes):
        approved = f"; approved for this season: {'、'.join(approved_suffixes)}" if approved_suffixes else ""
        raise RuleViolation(
            "team_name",
            "entry.team_name.suffix",
            f"班 and 组 are distinguished: a team is not named “…班组”; its name ends in 班, 组, 工段 or 室 "
            f"(e.g. 装配一班, 质检组, 冲压工段, 化验室){approved}, and “{name}” does not. "
            "The name is printed on the certificate.",
        )


def check_team_form(
    form: TeamExperienceForm, profile: FormProfile | None = None, approved_suffixes: tuple[str, ...] = ()
) -> None:
    """The 申报表's rules; those of boxes the season's form does not print (its profile) do not apply."""
    check_team_name(form.team_name, approved_suffixes)
    if _asks(profile, "accidents_last_three_years"):
        _check_accident_free(form)
    if form.basic_formal_unit is False:
        raise RuleViolation(
            "basic_formal_unit",
            "entry.team.basic_unit",
            "the team must be a basic formal unit of the enterprise (申报条件 2: 被推荐班组必须是企业最基础的正式组织单元)",
        )
    texts = COMMITMENTS if profile is None else profile.commitments
    missing = [name for name in texts if form.commitments is not None and not getattr(form.commitments, name)]
    if missing:
        raise RuleViolation(
            f"commitments.{missing[0]}",
            "entry.commitments",
            f"all {len(texts)} 组织承诺 are required to submit; not given: " + "; ".join(texts[name] for name in missing),
        )
    _other_text(form.unit_nature is UnitNature.OTHER, form.unit_nature_other, "unit_nature_other", "单位性质")
    for position, industry in enumerate(form.key_industries):
        if industry in form.key_industries[:position]:
            raise RuleViolation(
                f"key_industries.{position}", "entry.key_industries.duplicate", f"重点产业 {industry.label} is ticked twice"
            )
    _other_text(KeyIndustry.OTHER in form.key_industries, form.key_industry_other, "key_industry_other", "重点产业")
    if not form.attachments:
        raise RuleViolation(
            "attachments",
            "entry.attachments.required",
            "add at least one attachment (the 申报表 or the 创建材料)"
            + ("" if profile is not None and profile.attachment_naming is AttachmentNaming.FREE
               else ", named 单位简称+班组名称"),
        )


def _asks(profile: FormProfile | None, path: str) -> bool:
    """Whether the season's 申报表 has the field (every field, for Shanghai's forms before profiles)."""
    rule = profile.rule(FormName.TEAM_EXPERIENCE, path) if profile is not None else None
    return rule is None or rule.presence is not Presence.ABSENT


def _check_accident_free(form: TeamExperienceForm) -> None:
    """申报条件 6 (2024 Shanghai team notice, 附件4): no quality, safety or environmental accident in the last three
    years, nor in the year's figures. Shandong's notice sets no such condition, and its form has no such box."""
    accidents = form.accidents_last_three_years
    found = [
        (f"accidents_last_three_years.{name}", label, getattr(accidents, name))
        for name, label in (("quality", "质量"), ("safety", "安全"), ("environmental", "环保"))
        if accidents is not None and getattr(accidents, name)
    ]
    if form.metrics.quality_safety_accidents:
        found.append(("metrics.quality_safety_accidents", "年质量、安全", form.metrics.quality_safety_accidents))
    if found:
        raise RuleViolation(
            found[0][0],
            "entry.team.accident_free",
            "a team with a quality, safety or environmental accident in the last three years is not eligible "
            "(申报条件 6: 班组近三年无质量、安全、环保事故); reported: "
            + ", ".join(f"{label} {count}" for _, label, count in found),
        )


def check_qc_form(form: QcAchievementForm) -> None:
    leaders = sum(1 for member in form.members if member.role is QcMemberRole.LEADER)
    if leaders != 1:
        raise RuleViolation(
            "members",
            "entry.qc.leader",
            f"a QC group has exactly one 组长 (leader) among its members; this one has {leaders}",
        )
    if not any(item.purpose is AttachmentPurpose.REPORT for item in form.attachments):
        raise RuleViolation(
            "attachments",
            "entry.attachments.required",
            "the achievement report (成果报告) is missing: add an attachment whose purpose is report",
        )


def check_entry_form(
    form: QcAchievementForm | TeamExperienceForm,
    profile: FormProfile | None = None,
    approved_suffixes: tuple[str, ...] = (),
) -> None:
    if isinstance(form, TeamExperienceForm):
        check_team_form(form, profile, approved_suffixes)
    else:
        check_qc_form(form)


def _other_text(ticked: bool, text: str | None, field: str, what: str) -> None:
    if ticked and not text:
        raise RuleViolation(field, f"entry.{field}.required", f"{what} 其他 is ticked: write what it is in {field}")
    if text and not ticked:
        raise RuleViolation(
            field, f"entry.{field}.without_other", f"{field} is only filled in when {what} 其他 is ticked"
        )


# ---------------------------------------------------------------- recommending units' filings


def check_period(form: QcStatisticsForm | TeamStatisticsForm | WorkSummaryForm) -> None:
    months = form.period.months
    if not 1 <= months <= PERIOD_MAX_MONTHS:
        raise RuleViolation(
            "period.last_month",
            "stats.period",
            f"a period runs from its first month to its last, at most {PERIOD_MAX_MONTHS} months; "
            f"{form.period.key} does not",
        )


def _not_above(
    part: str, part_value: Decimal | int | None, whole: str, whole_value: Decimal | int | None, rule: str
) -> None:
    if part_value is not None and whole_value is not None and part_value > whole_value:
        raise RuleViolation(part, rule, f"{part} ({part_value}) cannot exceed {whole} ({whole_value})")


def check_statistics(form: QcStatisticsForm | TeamStatisticsForm) -> None:
    check_period(form)
    if isinstance(form, QcStatisticsForm):
        if form.total_staff is not None and form.total_staff < 1:
            raise RuleViolation("total_staff", "stats.total_staff", "职工总数 (total staff) is at least 1")
        _not_above("participants", form.participants, "total_staff", form.total_staff, "stats.participation.bounds")
        _not_above("groups_with_results", form.groups_with_results, "registered_groups", form.registered_groups,
                   "stats.achievement.bounds")
        _not_above("registered_groups", form.registered_groups, "registered_groups_cumulative",
                   form.registered_groups_cumulative, "stats.cumulative")
        _not_above("active_groups", form.active_groups, "registered_groups_cumulative",
                   form.registered_groups_cumulative, "stats.cumulative")
        _not_above("economic_benefit", form.economic_benefit, "economic_benefit_cumulative",
                   form.economic_benefit_cumulative, "stats.cumulative")
        return
    _not_above("teams", form.teams, "teams_cumulative", form.teams_cumulative, "stats.cumulative")
    _not_above("teams_recommended", form.teams_recommended, "teams", form.teams, "stats.recommended.bounds")
    meeting = form.presentation_meeting
    if meeting is not None:
        _not_above("presentation_meeting.presented_teams", meeting.presented_teams,
                   "presentation_meeting.registered_teams", meeting.registered_teams, "stats.presentation.bounds")
    for position, item in enumerate(form.review_forms):
        if item in form.review_forms[:position]:
            raise RuleViolation(f"review_forms.{position}", "stats.review_forms.duplicate", f"{item.label} is ticked twice")


def check_work_summary(form: WorkSummaryForm) -> None:
    """工作总结: three parts, 字数要求3000字以上 (white space not counted)."""
    check_period(form)
    empty = [name for name in SUMMARY_PARTS if not getattr(form, name).strip()]
    if empty:
        raise RuleViolation(
            empty[0],
            "summary.parts",
            "a work summary has three parts: " + "; ".join(SUMMARY_PARTS.values())
            + "; missing: " + ", ".join(SUMMARY_PARTS[name] for name in empty),
        )
    if form.characters < SUMMARY_MIN_CHARACTERS:
        raise RuleViolation(
            "body",
            "summary.length",
            f"a work summary has at least {SUMMARY_MIN_CHARACTERS} characters (字数要求3000字以上, white space not "
            f"counted); this one has {form.characters}",
        )
