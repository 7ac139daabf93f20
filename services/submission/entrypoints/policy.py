"""Submission's authorization policy: for every operation, the roles allowed and the objects each reaches.

Judges are named on none of submission's operations. Which entries a judge is assigned to is review's
knowledge (review.events); submission consumes only registration's and its own events, so it cannot tell an
assigned judge from any other and would have to show every entry. A judge reads its queue, with the entries'
forms, in review.
"""

from __future__ import annotations

from contracts.codes import Role
from infra.authorization import FEED_POLICY, Policy, Rules, owners, readers

# Entries and their units are read by their owners: the unit its own, the recommending unit those it
# recommends, a province's staff and its feed their own organizer's, the national association and auditors all.
ENTRY_READERS: Rules = readers(Role.FEED, Role.UNIT, Role.RECOMMENDER)

# A unit submits and changes its own entries (班组通道, 单位通道); the organizer acts for the direct channel in
# its own seasons. Nobody else writes entries over HTTP (feeds post batches).
ENTRY_WRITERS: Rules = owners(Role.UNIT, Role.ORGANIZER)

# A recommending unit files its own tables (推荐通道) in its own organizer's season; the organizer may file
# them for the direct channel.
FILING_WRITERS: Rules = owners(Role.RECOMMENDER, Role.ORGANIZER)

# What a recommending unit filed, and its inbox: itself, its organizer's staff, and the national readers.
RECOMMENDER_READERS: Rules = readers(Role.RECOMMENDER)

SEASON = "/seasons/{season_id}"
RECOMMENDER = SEASON + "/recommenders/{recommender_id}"

POLICY: Policy = {
    # the season as submission knows it: whoever submits, files or reads in it (a unit may enter any
    # province's season; a season's notice is no secret)
    ("GET", SEASON): {**ENTRY_READERS},
    # a registered unit: itself, the recommending unit its registration names, its organizer's staff, and its
    # province's feed (which waits for submission to know the units it registered before posting their entries)
    ("GET", SEASON + "/units/{credit_code}"): ENTRY_READERS,
    # the season's recommending units: its staff all of them, a recommending unit itself only
    ("GET", SEASON + "/recommenders"): RECOMMENDER_READERS,
    # entries
    ("POST", SEASON + "/qc-achievements"): ENTRY_WRITERS,
    ("POST", SEASON + "/team-experiences"): ENTRY_WRITERS,
    ("POST", SEASON + "/qc-achievements/{entry_id}/amendments"): ENTRY_WRITERS,
    ("POST", SEASON + "/team-experiences/{entry_id}/amendments"): ENTRY_WRITERS,
    ("POST", SEASON + "/entries/{entry_id}/withdrawal"): ENTRY_WRITERS,
    ("POST", SEASON + "/entries/{entry_id}/confirmation"): ENTRY_WRITERS,
    ("GET", SEASON + "/entries"): ENTRY_READERS,
    ("GET", SEASON + "/entries/{entry_id}"): ENTRY_READERS,
    ("GET", "/units/{credit_code}/entries"): ENTRY_READERS,
    ("GET", RECOMMENDER + "/entries"): RECOMMENDER_READERS,
    # recommending units' filings
    ("POST", RECOMMENDER + "/qc-statistics"): FILING_WRITERS,
    ("POST", RECOMMENDER + "/team-statistics"): FILING_WRITERS,
    ("POST", RECOMMENDER + "/work-summaries"): FILING_WRITERS,
    ("GET", RECOMMENDER + "/statistics"): RECOMMENDER_READERS,
    ("GET", RECOMMENDER + "/work-summaries"): RECOMMENDER_READERS,
    # provincial feeds (infra.feeds' routes, as this service includes them)
    **FEED_POLICY,
}
