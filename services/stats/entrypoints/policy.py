"""Stats' authorization policy: for every route, the roles that may call it and the objects each reaches."""

from __future__ import annotations

from contracts.codes import Role
from infra.http.audit import DIGEST_POLICY
from infra.authorization import READ_EVERYWHERE, Policy, Rules, Scope, readers

# A season's reports: its organizer's staff, the province's feed (its own province's seasons) and the
# platform-wide readers. Personal data in them is masked for everyone but the organizer's staff and the owner.
SEASON_READERS: Rules = readers(Role.FEED)
# The 统计表 and the 推荐表 summary are also a recommending unit's own (its row, its summary).
RECOMMENDER_READERS: Rules = readers(Role.FEED, Role.RECOMMENDER)
# An entry's line: also its unit's and its recommending unit's (the grade only once the result is public).
ENTRY_READERS: Rules = readers(Role.FEED, Role.RECOMMENDER, Role.UNIT)
# The audit trail: the platform-wide readers and a province's staff (its own organizer's events).
AUDIT_READERS: Rules = readers()
# Rebuilding every report of every province is a platform-wide operation: the ops role's alone.
OPERATORS: Rules = {Role.OPS: Scope.PLATFORM}

POLICY: Policy = {
    ("GET", "/seasons/{season_id}/overview"): SEASON_READERS,
    ("GET", "/seasons/{season_id}/judge-workload"): SEASON_READERS,
    ("GET", "/seasons/{season_id}/provinces"): SEASON_READERS,
    ("GET", "/seasons/{season_id}/statistics"): RECOMMENDER_READERS,
    ("GET", "/seasons/{season_id}/recommendation-summary"): RECOMMENDER_READERS,
    ("GET", "/seasons/{season_id}/entries/{entry_id}"): ENTRY_READERS,
    # the national view sums every province: the national association's and the auditors'
    ("GET", "/national/{year}/overview"): READ_EVERYWHERE,
    ("GET", "/national/{year}/statistics"): READ_EVERYWHERE,
    ("POST", "/rebuilds"): OPERATORS,
    ("GET", "/rebuilds/{rebuild_id}"): OPERATORS,
    ("GET", "/audit/entries/{entry_id}/history"): AUDIT_READERS,
    ("GET", "/audit/entries/{entry_id}/state"): AUDIT_READERS,
    **DIGEST_POLICY,
}
