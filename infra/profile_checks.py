"""A form checked against the season's form profile, refused as every other rule is: field, rule, message."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.profile_rules import problems_of_form
from contracts.profiles import FormName, FormProfile
from infra.errors import Conflict, RuleViolation


def check_against_profile(profile: FormProfile, name: FormName, form: BaseModel) -> None:
    """Refuse the form with its first problem (the others named in the message), stored nothing."""
    problems = problems_of_form(profile, name, form)
    if not problems:
        return
    first = problems[0]
    others = ""
    if len(problems) > 1:
        others = " (also: " + "; ".join(f"{item.field} {item.rule}" for item in problems[1:6]) + ")"
    raise RuleViolation(first.field, first.rule, first.message + others)


def check_form_offered(profile: FormProfile, name: FormName) -> None:
    """Refuse a form the season's forms do not include (Shandong's notice asks for no work summary)."""
    if profile.form(name) is None:
        raise Conflict(
            "form", "profile.form.not_offered", f"the season's forms ({profile.title}) have no {name.label}",
        )
