"""The rules of a season's form profile: the one declared when the season opens, and the organizer's adjustments."""

from __future__ import annotations

from contracts.builtin_profiles import builtin_profile, builtin_profiles
from contracts.codes import ActivityKind
from contracts.profile_rules import adjusted
from contracts.profiles import FormProfile, ProfileAdjustment, ProfileRef
from infra.errors import RuleViolation


def check_declared_profile(declared: ProfileRef | None, kind: ActivityKind) -> None:
    """A season names a built-in profile of its own kind (or none: Shanghai's of its kind)."""
    if declared is None:
        return
    profile = builtin_profile(declared)
    if profile is None:
        raise RuleViolation(
            "profile", "season.profile.unknown",
            f"there is no built-in form profile {declared.key}; the built-in ones are "
            + ", ".join(builtin_profiles()),
        )
    if profile.kind is not kind:
        raise RuleViolation(
            "profile.profile_id", "season.profile.kind",
            f"{declared.key} is the profile of {profile.kind.label} seasons, not of {kind.label} seasons",
        )


def adjusted_profile(current: FormProfile, adjustment: ProfileAdjustment, season_id: str) -> FormProfile:
    """The season's next profile, or a refusal naming the first contradiction (nothing is stored)."""
    start = None
    if adjustment.start_from is not None:
        start = builtin_profile(adjustment.start_from)
        if start is None:
            raise RuleViolation(
                "start_from", "season.profile.unknown",
                f"there is no built-in form profile {adjustment.start_from.key}; the built-in ones are "
                + ", ".join(builtin_profiles()),
            )
        if start.kind is not current.kind:
            raise RuleViolation(
                "start_from", "season.profile.kind",
                f"{start.ref.key} is the profile of {start.kind.label} seasons, not of {current.kind.label} seasons",
            )
    profile, problems = adjusted(current, adjustment, season_id, start)
    if problems:
        first = problems[0]
        others = f" (and {len(problems) - 1} more: " + "; ".join(item.message for item in problems[1:4]) + ")" \
            if len(problems) > 1 else ""
        raise RuleViolation(first.field, first.rule, first.message + others)
    if profile.model_dump(exclude={"version", "profile_id", "based_on"}) == current.model_dump(
            exclude={"version", "profile_id", "based_on"}):
        raise RuleViolation("body", "season.profile.unchanged", "the adjustment changes nothing in the season's forms")
    return profile
