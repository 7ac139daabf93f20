"""Who may call each of registration's operations, and which objects each role reaches through it."""

from __future__ import annotations

from contracts.codes import Role
from infra.authorization import FEED_POLICY, PUBLIC, SEASON_STAFF, Policy, Rules, Scope, owners, readers

# A season's own staff acts on it (infra's SEASON_STAFF): the path's season id names the organizer, so another's
# season answers 404.

# A season (and its forms) is the organizer's published notice: a unit may register in any organizer's season,
# so it reads any; a recommending unit and a judge read their own organizer's; a feed its province's.
SEASON_READERS: Rules = readers(Role.FEED, Role.UNIT, Role.RECOMMENDER, Role.JUDGE)

# Registrations: the organizer's staff and its province's feed read its seasons'; a unit its own; a
# recommending unit those that name it; judges none. National and auditors read all, personal data masked.
REGISTRATION_READERS: Rules = readers(Role.FEED, Role.UNIT, Role.RECOMMENDER)

# Recommending units: a unit chooses one on its 报名表, so it reads a season's list (contacts masked); a
# recommending unit reads its own record only.
RECOMMENDER_READERS: Rules = readers(Role.FEED, Role.UNIT, Role.RECOMMENDER)

# The judge roster: the organizer's staff; a recommending unit its own panel; a judge its own record.
JUDGE_READERS: Rules = readers(Role.RECOMMENDER, Role.JUDGE)

# The built-in form profiles belong to no province: any signed-in participant reads them.
ANY_PARTICIPANT: Rules = {
    role: Scope.PLATFORM
    for role in (Role.ORGANIZER, Role.UNIT, Role.RECOMMENDER, Role.JUDGE, Role.NATIONAL, Role.FEED, Role.AUDITOR)
}

POLICY: Policy = {
    # seasons
    ("POST", "/seasons"): SEASON_STAFF,
    ("PUT", "/seasons/{season_id}/windows/{stage}"): SEASON_STAFF,
    ("PUT", "/seasons/{season_id}/rounds/{round_code}/window"): SEASON_STAFF,
    ("POST", "/seasons/{season_id}/team-name-suffixes"): SEASON_STAFF,
    ("GET", "/seasons/{season_id}"): SEASON_READERS,
    # unit registrations: the unit registers itself, or the season's organizer registers it
    ("POST", "/seasons/{season_id}/registrations"): owners(Role.UNIT, Role.ORGANIZER),
    ("GET", "/seasons/{season_id}/registrations"): REGISTRATION_READERS,
    ("GET", "/seasons/{season_id}/registrations/{credit_code}"): REGISTRATION_READERS,
    # across seasons: a recommending unit's token is bound to one season, where it lists its units
    ("GET", "/units/{credit_code}/registrations"): readers(Role.FEED, Role.UNIT),
    # recommending units
    ("POST", "/seasons/{season_id}/recommenders"): SEASON_STAFF,
    ("PUT", "/seasons/{season_id}/recommenders/{recommender_id}/quota"): SEASON_STAFF,
    ("POST", "/seasons/{season_id}/recommenders/{recommender_id}/cancellation"): SEASON_STAFF,
    ("GET", "/seasons/{season_id}/recommenders"): RECOMMENDER_READERS,
    ("GET", "/seasons/{season_id}/recommenders/{recommender_id}"): RECOMMENDER_READERS,
    # judges: the organizer registers its panel, a recommending unit its own
    ("POST", "/seasons/{season_id}/judges"): {**SEASON_STAFF, **owners(Role.RECOMMENDER)},
    ("GET", "/seasons/{season_id}/judges"): JUDGE_READERS,
    # the forms' coded values are no one's data
    ("GET", "/codes"): PUBLIC,
    # form profiles
    ("GET", "/profiles"): ANY_PARTICIPANT,
    ("GET", "/profiles/{profile_id}/versions/{version}"): ANY_PARTICIPANT,
    ("GET", "/seasons/{season_id}/profile"): SEASON_READERS,
    ("POST", "/seasons/{season_id}/profile/adjustments"): SEASON_STAFF,
    # provincial feeds (infra.feeds' router, as this service includes it)
    **FEED_POLICY,
}
