"""The authorization policy's vocabulary and the one masking policy, without a stack.

A grant narrows a query to the caller's scope and refuses a filter that would widen it; a loaded object outside
the scope is `OutOfScope` (404) and a body naming another organization `NotPermitted` (403); `grant_for`
checks what the path names before a route runs. Personal data is masked by kind, and seen unmasked only by the
organizer's staff and the data's owner.
"""

from __future__ import annotations

import pytest

from contracts import Actor
from contracts.codes import Role
from infra.authorization import (
    PUBLIC,
    READ_EVERYWHERE,
    Caller,
    Grant,
    MissingCredentials,
    NotPermitted,
    OutOfScope,
    Scope,
    grant_for,
)
from infra.masking import for_caller, mask_value, masked

SH, SD = "310000-2026-qc_group", "370000-2026-qc_group"
UNIT_A, UNIT_B = "91310000MA1K0000X0", "91370000MA3C0000X3"


def caller(role: Role, org: str, *, organizer: str | None = None, season: str | None = None) -> Caller:
    if organizer is None and role in (Role.ORGANIZER, Role.NATIONAL, Role.FEED):
        organizer = org
    return Caller(Actor(id=f"{role.value}-1", role=role, org=org), organizer=organizer, season_id=season)


STAFF = caller(Role.ORGANIZER, "310000")
UNIT = caller(Role.UNIT, UNIT_A)
PUDONG = caller(Role.RECOMMENDER, "pudong", organizer="310000")
JUDGE = caller(Role.JUDGE, "j1", organizer="310000")
NATIONAL = caller(Role.NATIONAL, "CAQ")
AUDITOR = caller(Role.AUDITOR, "audit")

ENTRIES = ("GET", "/seasons/{season_id}/entries")
POLICY = {
    ENTRIES: {Role.ORGANIZER: Scope.ORGANIZER, Role.UNIT: Scope.UNIT, Role.RECOMMENDER: Scope.RECOMMENDER,
              Role.JUDGE: Scope.JUDGE, **READ_EVERYWHERE},
    ("GET", "/units/{credit_code}/entries"): {Role.UNIT: Scope.UNIT, **READ_EVERYWHERE},
    ("GET", "/seasons/{season_id}/recommenders/{recommender_id}"): {Role.RECOMMENDER: Scope.RECOMMENDER},
    ("GET", "/judges/{judge_id}/queue"): {Role.JUDGE: Scope.JUDGE},
    ("GET", "/health"): PUBLIC,
}


# ---------------------------------------------------------------- Grant.query: narrows, never widens


def test_a_query_is_narrowed_to_the_callers_scope() -> None:
    assert Grant(STAFF, Scope.ORGANIZER).query({"progress": "graded"}) == {"progress": "graded", "organizer": "310000"}
    assert Grant(UNIT, Scope.UNIT).query({}) == {"credit_code": UNIT_A}
    assert Grant(PUDONG, Scope.RECOMMENDER).query(None) == {"organizer": "310000", "recommender_id": "pudong"}
    assert Grant(JUDGE, Scope.JUDGE).query({}) == {"organizer": "310000", "judge_ids": "j1"}
    assert Grant(NATIONAL, Scope.PLATFORM).query({"organizer": "370000"}) == {"organizer": "370000"}


def test_a_filter_asking_outside_the_scope_selects_nothing() -> None:
    assert Grant(UNIT, Scope.UNIT).query({"credit_code": UNIT_B}) is None
    assert Grant(PUDONG, Scope.RECOMMENDER).query({"recommender_id": "xuhui"}) is None
    assert Grant(STAFF, Scope.ORGANIZER).query({"organizer": "370000"}) is None


def test_a_filter_naming_the_callers_own_is_kept_and_empty_filters_are_dropped() -> None:
    assert Grant(UNIT, Scope.UNIT).query({"credit_code": UNIT_A, "status": None}) == {"credit_code": UNIT_A}


def test_fields_limit_the_constraints_to_those_the_collection_has_and_names_map_to_the_documents() -> None:
    assert Grant(PUDONG, Scope.RECOMMENDER).query({}, fields=("recommender_id",)) == {"recommender_id": "pudong"}
    renamed = Grant(PUDONG, Scope.RECOMMENDER, fields={"recommender_id": "recommender"})
    assert renamed.query({"recommender": "pudong"}) == {"recommender": "pudong", "organizer": "310000"}
    assert renamed.query({"recommender": "xuhui"}) is None


# ---------------------------------------------------------------- admits / require


def test_admits_checks_a_loaded_object_against_the_scope() -> None:
    grant = Grant(STAFF, Scope.ORGANIZER)
    assert grant.admits({"organizer": "310000"})
    assert not grant.admits({"organizer": "370000"})
    assert grant.admits({"season_id": SH}), "the organizer is read from the season id when the object has none"
    assert not grant.admits({"season_id": SD})
    assert not grant.admits({"title": "no organizer at all"}), "an object that names no organizer is not in scope"
    judge = Grant(JUDGE, Scope.JUDGE)
    assert judge.admits({"season_id": SH, "judge_ids": ["j0", "j1"]})
    assert not judge.admits({"season_id": SH, "judge_ids": ["j0"]})
    assert not judge.admits({"season_id": SD, "judge_ids": ["j1"]})
    assert Grant(AUDITOR, Scope.PLATFORM).admits({"organizer": "370000"})


def test_require_answers_the_same_for_a_missing_and_an_out_of_scope_object() -> None:
    grant = Grant(UNIT, Scope.UNIT)
    assert grant.require({"credit_code": UNIT_A}, "entry e1") == {"credit_code": UNIT_A}
    with pytest.raises(OutOfScope) as missing:
        grant.require(None, "entry e1 of season S")
    with pytest.raises(OutOfScope) as another:
        grant.require({"credit_code": UNIT_B}, "entry e1 of season S")
    assert missing.value.what == another.value.what == "entry e1 of season S"


# ---------------------------------------------------------------- claims (a body naming an organization)


def test_a_body_naming_another_organization_is_not_permitted() -> None:
    Grant(STAFF, Scope.ORGANIZER).claims("season 310000-2027-qc_group", organizer="310000")
    with pytest.raises(NotPermitted, match="season 370000-2027-qc_group lies outside the token's scope"):
        Grant(STAFF, Scope.ORGANIZER).claims("season 370000-2027-qc_group", organizer="370000")
    with pytest.raises(NotPermitted):
        Grant(UNIT, Scope.UNIT).claims("registration", credit_code=UNIT_B)
    Grant(UNIT, Scope.UNIT).claims("registration", credit_code=UNIT_A, organizer=None)
    Grant(NATIONAL, Scope.ORGANIZER).claims("season CAQ-2026-qc_group", organizer="CAQ")
    Grant(AUDITOR, Scope.PLATFORM).claims("anything", organizer="370000")


def test_claims_use_the_scopes_names_whatever_the_documents_call_them() -> None:
    renamed = Grant(UNIT, Scope.UNIT, fields={"credit_code": "unit_code"})
    renamed.claims("registration", credit_code=UNIT_A)
    with pytest.raises(NotPermitted):
        renamed.claims("registration", credit_code=UNIT_B)


# ---------------------------------------------------------------- grant_for: role, then what the path names


def test_a_role_the_operation_does_not_name_is_not_permitted_and_no_token_is_missing_credentials() -> None:
    with pytest.raises(NotPermitted, match="role ops may not GET"):
        grant_for(POLICY, ENTRIES, caller(Role.OPS, "ops"), {"season_id": SH}, {})
    with pytest.raises(MissingCredentials):
        grant_for(POLICY, ENTRIES, None, {"season_id": SH}, {})
    with pytest.raises(NotPermitted, match="allowed: nobody"):
        grant_for(POLICY, ("GET", "/not/declared"), STAFF, {}, {})


def test_a_public_operation_needs_no_token() -> None:
    assert grant_for(POLICY, ("GET", "/health"), None, {}, {}).scope is Scope.PUBLIC


def test_a_season_of_another_organizer_is_out_of_scope() -> None:
    assert grant_for(POLICY, ENTRIES, STAFF, {"season_id": SH}, {}).scope is Scope.ORGANIZER
    with pytest.raises(OutOfScope, match=f"season {SD}"):
        grant_for(POLICY, ENTRIES, STAFF, {"season_id": SD}, {})
    with pytest.raises(OutOfScope):
        grant_for(POLICY, ENTRIES, JUDGE, {"season_id": SD}, {})
    assert grant_for(POLICY, ENTRIES, NATIONAL, {"season_id": SD}, {}).scope is Scope.PLATFORM


def test_a_recommender_token_of_shanghai_does_not_reach_shandongs_namesake() -> None:
    path = ("GET", "/seasons/{season_id}/recommenders/{recommender_id}")
    assert grant_for(POLICY, path, PUDONG, {"season_id": SH, "recommender_id": "pudong"}, {})
    with pytest.raises(OutOfScope, match=f"season {SD}"):
        grant_for(POLICY, path, PUDONG, {"season_id": SD, "recommender_id": "pudong"}, {})
    with pytest.raises(OutOfScope, match="recommending unit xuhui"):
        grant_for(POLICY, path, PUDONG, {"season_id": SH, "recommender_id": "xuhui"}, {})


def test_a_recommender_token_bound_to_a_season_does_not_reach_another_season() -> None:
    bound = caller(Role.RECOMMENDER, "pudong", organizer="310000", season=SH)
    assert grant_for(POLICY, ENTRIES, bound, {"season_id": SH}, {}).scope is Scope.RECOMMENDER
    with pytest.raises(OutOfScope, match="season 310000-2027-qc_group"):
        grant_for(POLICY, ENTRIES, bound, {"season_id": "310000-2027-qc_group"}, {})


def test_query_parameters_naming_another_owner_are_checked_like_path_parameters() -> None:
    with pytest.raises(OutOfScope, match=f"unit {UNIT_B}"):
        grant_for(POLICY, ENTRIES, UNIT, {"season_id": SH}, {"credit_code": UNIT_B})
    with pytest.raises(OutOfScope, match="recommending unit xuhui"):
        grant_for(POLICY, ENTRIES, PUDONG, {"season_id": SH}, {"recommender": "xuhui"})
    with pytest.raises(OutOfScope, match=f"season {SD}"):
        grant_for(POLICY, ("GET", "/judges/{judge_id}/queue"), JUDGE, {"judge_id": "j1"}, {"season_id": SD})
    assert grant_for(POLICY, ENTRIES, UNIT, {"season_id": SH}, {"credit_code": UNIT_A}).scope is Scope.UNIT


def test_a_unit_and_a_judge_reach_only_their_own_ids() -> None:
    with pytest.raises(OutOfScope, match=f"unit {UNIT_B}"):
        grant_for(POLICY, ("GET", "/units/{credit_code}/entries"), UNIT, {"credit_code": UNIT_B}, {})
    with pytest.raises(OutOfScope, match="judge j2"):
        grant_for(POLICY, ("GET", "/judges/{judge_id}/queue"), JUDGE, {"judge_id": "j2"}, {})
    assert grant_for(POLICY, ("GET", "/units/{credit_code}/entries"), AUDITOR, {"credit_code": UNIT_B}, {})


# ---------------------------------------------------------------- masking


def test_each_kind_of_personal_value_is_masked_by_its_kind() -> None:
    assert mask_value("mobile", "13800000007") == "138****0007"
    assert mask_value("phone", "021-58881234") == "021****1234"
    assert mask_value("landline", "1234567") == "****"
    assert mask_value("email", "jianghua@example.org") == "j***@example.org"
    assert mask_value("contact", "zhoumin@example.com") == "z***@example.com", "an e-mail under a phone's key"
    assert mask_value("address", "上海市长宁区泰安路74号") == "上海市长宁区****"
    assert mask_value("address", "泰安路74号") == "****"
    assert mask_value("mobile", "") == ""


def test_masked_reaches_every_depth_and_leaves_other_fields() -> None:
    document = {"name": "王芳", "contacts": [{"mobile": "13916001234", "email": "wangfang@example.gov.cn"}],
                "recommendation": {"judges": [{"name": "蒋华", "mobile": "13800000007"}], "phone": "021-58881234"},
                "fax": ["021-58881234", "021-58885678"]}
    assert masked(document) == {
        "name": "王芳", "contacts": [{"mobile": "139****1234", "email": "w***@example.gov.cn"}],
        "recommendation": {"judges": [{"name": "蒋华", "mobile": "138****0007"}], "phone": "021****1234"},
        "fax": ["021****1234", "021****5678"],
    }


REGISTRATION = {"season_id": SH, "credit_code": UNIT_A, "mobile": "13800000007", "address": "上海市浦东新区张江路100号"}


def test_the_organizers_staff_and_the_owner_see_personal_data_unmasked() -> None:
    assert for_caller(STAFF, REGISTRATION) == REGISTRATION
    assert for_caller(UNIT, REGISTRATION) == REGISTRATION
    recommender = {"season_id": SH, "recommender_id": "pudong", "phone": "13916001234"}
    assert for_caller(PUDONG, recommender) == recommender
    roster = {"season_id": SH, "judge_id": "j1", "mobile": "13800000001"}
    assert for_caller(JUDGE, roster) == roster
    assert for_caller(caller(Role.NATIONAL, "CAQ"), {"season_id": "CAQ-2026-qc_group", "mobile": "13800000001"}) == {
        "season_id": "CAQ-2026-qc_group", "mobile": "13800000001"}, "the national association staffs its own season"


def test_everyone_else_sees_it_masked_and_marked() -> None:
    seen = for_caller(NATIONAL, REGISTRATION)
    assert seen["mobile"] == "138****0007" and seen["address"] == "上海市浦东新****" and seen["masked"] is True
    assert for_caller(AUDITOR, REGISTRATION)["masked"] is True
    assert for_caller(caller(Role.ORGANIZER, "370000"), REGISTRATION)["masked"] is True
    assert for_caller(caller(Role.UNIT, UNIT_B), REGISTRATION)["mobile"] == "138****0007"
    assert for_caller(caller(Role.FEED, "310000"), REGISTRATION)["masked"] is True
    assert for_caller(None, REGISTRATION)["masked"] is True


def test_a_namesake_of_another_province_is_not_the_owner() -> None:
    shandong = {"season_id": SD, "recommender_id": "pudong", "phone": "13916001234"}
    assert for_caller(PUDONG, shandong)["phone"] == "139****1234"
    assert for_caller(caller(Role.JUDGE, "j1", organizer="310000"), {"season_id": SD, "judge_id": "j1",
                                                                      "mobile": "13800000001"})["masked"] is True
    without_organizer = caller(Role.RECOMMENDER, "pudong")  # a token that names no organizer owns nothing
    assert for_caller(without_organizer, {"season_id": SH, "recommender_id": "pudong", "phone": "13916001234"})[
        "masked"] is True
