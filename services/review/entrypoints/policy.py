"""Who may call which of review's operations, and which objects each role reaches through it (the policy, as data).

A role an operation does not name is refused (403); an object outside the role's scope answers 404, the same as a
missing one. The shared digest, operations and health routes declare theirs in `infra`.
"""

from __future__ import annotations

from contracts.codes import Role
from infra.authorization import FEED_POLICY, SEASON_STAFF, Policy, Rules, Scope, owners, readers

SEASON = "/seasons/{season_id}"
ENTRY = "/seasons/{season_id}/entries/{entry_id}"

# The secretariat's commands: the staff of the season's organizer (infra's SEASON_STAFF: the national association
# acts as the organizer's staff of its own national seasons, CAQ-...).
SECRETARIAT: Rules = SEASON_STAFF

# A recommending unit's own recommendations (推荐通道), in its own organizer's season; the secretariat acts for the
# direct channel.
RECOMMENDING: Rules = owners(Role.RECOMMENDER, Role.ORGANIZER)

# Scores: a judge scores as himself or herself what he or she is assigned (the application checks the assignment);
# the secretariat enters a judge's paper score sheet.
SCORING: Rules = {**owners(Role.JUDGE), **SECRETARIAT}

# Entries in review: the organizer's staff its own seasons', a unit its own, a recommending unit its own, a province's
# platform (feed) its own province's; the national association and auditors every season's, read-only.
ENTRY_READS: Rules = readers(Role.UNIT, Role.RECOMMENDER, Role.FEED)

# What is public once on notice or shown to everyone taking part: the season itself and its results (the entries
# on notice; the graded ones besides only to the organizer's staff, the national association and auditors).
SEASON_READS: Rules = {**ENTRY_READS, Role.JUDGE: Scope.JUDGE}

# The organizer's own reads: the season's judges (no contacts).
ORGANIZER_READS: Rules = readers()

POLICY: Policy = {
    # what review knows of a season
    ("GET", SEASON): SEASON_READS,
    ("GET", f"{SEASON}/judges"): ORGANIZER_READS,
    ("GET", f"{ENTRY}/submission"): ENTRY_READS,
    # recommendation (推荐通道), the direct channel, formal review
    ("POST", f"{ENTRY}/recommendation"): owners(Role.RECOMMENDER),
    ("POST", f"{ENTRY}/direct-acceptance"): SECRETARIAT,
    ("POST", f"{ENTRY}/revocation"): RECOMMENDING,
    ("POST", f"{ENTRY}/formal-review"): SECRETARIAT,
    ("POST", f"{ENTRY}/resubmission"): RECOMMENDING,
    # judges and scores
    ("POST", f"{ENTRY}/assignments"): SECRETARIAT,
    ("POST", f"{ENTRY}/scores"): SCORING,
    ("POST", f"{ENTRY}/score-revisions"): SCORING,
    ("POST", f"{ENTRY}/grade"): SECRETARIAT,
    ("POST", f"{SEASON}/rounds/{{round_code}}/advance"): SECRETARIAT,
    # approval, notice, publication; objections may be filed by anyone taking part, during the notice
    ("POST", f"{SEASON}/approval"): SECRETARIAT,
    ("POST", f"{SEASON}/notice"): SECRETARIAT,
    ("POST", f"{ENTRY}/objections"): owners(Role.ORGANIZER, Role.UNIT, Role.RECOMMENDER),
    ("POST", f"{ENTRY}/objections/{{objection_id}}/resolution"): SECRETARIAT,
    ("POST", f"{SEASON}/publication"): SECRETARIAT,
    # a province's organizer sends its own graded entries to the national season
    ("POST", f"{ENTRY}/national-recommendation"): owners(Role.ORGANIZER),
    # queries of review's projection
    ("GET", f"{SEASON}/recommenders/{{recommender_id}}/recommendations"): readers(Role.RECOMMENDER),
    ("GET", f"{SEASON}/entries"): ENTRY_READS,
    ("GET", ENTRY): ENTRY_READS,
    # an entry's scores: besides the entry's readers, a judge assigned to it (his or her own scores only)
    ("GET", f"{ENTRY}/scores"): readers(Role.UNIT, Role.RECOMMENDER, Role.JUDGE),
    # a judge's queue: the judge's own; the organizer's staff see the entries of its own seasons in it
    ("GET", "/judges/{judge_id}/queue"): readers(Role.JUDGE),
    ("GET", f"{SEASON}/results"): SEASON_READS,
    ("GET", f"{SEASON}/rounds"): ENTRY_READS,
    ("GET", f"{SEASON}/rounds/{{round_code}}"): ENTRY_READS,
    # provincial feed intake (infra.feeds' routes, as this service includes them)
    **FEED_POLICY,
}
