"""Team names (班组名称): which further endings the organizer may approve for a team season."""

from __future__ import annotations

from contracts.codes import ActivityKind
from contracts.registered import DEFAULT_TEAM_NAME_SUFFIXES, REFUSED_TEAM_NAME_SUFFIX
from infra.errors import Conflict, RuleViolation


def check_team_name_suffix(kind: ActivityKind | str, suffix: str, approved: list[str]) -> None:
    """申报表 note 3: names end in 班, 组, 工段 or 室 “等”; the organizer may approve another ending, never 班组."""
    if ActivityKind(kind) is not ActivityKind.TEAM:
        raise RuleViolation(
            "suffix",
            "season.team_name_suffix.team_only",
            "team name endings belong to 质量信得过班组 seasons; a QC group season names groups freely",
        )
    if suffix.endswith(REFUSED_TEAM_NAME_SUFFIX):
        raise RuleViolation(
            "suffix",
            "season.team_name_suffix.banzu",
            "班 and 组 are distinguished (申报表 note 3: 不能以“**班组”为名): an ending in 班组 is never approved",
        )
    if suffix in DEFAULT_TEAM_NAME_SUFFIXES or suffix in approved:
        allowed = "、".join([*DEFAULT_TEAM_NAME_SUFFIXES, *approved])
        raise Conflict(
            "suffix",
            "season.team_name_suffix.duplicate",
            f"team names of this season may already end in {suffix} (allowed now: {allowed})",
        )
