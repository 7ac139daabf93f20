"""What each operation answers a role the policy names, on the caller's own objects in the authorization world.

One entry per operation of the four services' OpenAPI documents (a new route without one fails the
authorization test, naming it): the exact status of a read of seeded objects (200), of a write sent an empty
body (422: its required fields are missing), or of a write without a body (its rule's refusal); an operation
not called says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from contracts.codes import Role


@dataclass(frozen=True)
class Expect:
    """What a role the policy names gets on its own objects; None: not called, for `reason`."""

    own: int | None
    reason: str = ""
    listing: bool = False  # a list narrowed to the caller's scope: another's objects give an empty page
    query: Mapping[str, str] = field(default_factory=dict)  # fixed query parameters to send
    by_role: Mapping[Role, int] = field(default_factory=dict)  # a role whose own call answers otherwise
    # filters naming an owner that the caller's own call sends too (the route asks for them)
    own_filters: tuple[str, ...] = ()
    # roles that reach another province's objects through this read as their own, and why
    open_to: Mapping[Role, str] = field(default_factory=dict)

    def own_for(self, role: Role) -> int | None:
        return self.by_role.get(role, self.own)


READ = Expect(200)                     # a seeded object (or report) read
LIST = Expect(200, listing=True)       # a page of seeded objects
INCOMPLETE = Expect(422)               # a write with a body: `{}` lacks the required fields
# A unit may register in any province's season: it reads every season's calendar, forms, review rounds,
# recommending units (contacts masked) and published results, not only its own province's.
TO_REGISTER = {Role.UNIT: "a unit may register in any province's season, so it reads any season's public terms"}
SEASON_READ = Expect(200, open_to=TO_REGISTER)
NOT_CALLED_FEED = Expect(None, "posting a batch records a province's data; tests/integration/test_feed_intake covers it")

# Shared by every service with an event store (infra.http.audit, infra.http.operations) and by every app.
DIGESTS: dict[tuple[str, str], Expect] = {
    ("GET", "/audit/aggregates/{aggregate_id}/digests"): READ,
    ("GET", "/audit/digests"): LIST,
}
OPERATIONS: dict[tuple[str, str], Expect] = {
    ("POST", "/operations/republish"):
        Expect(None, "every field of its body is optional: it would republish every event; "
                     "tests/e2e/test_broker_wipe_recovery covers it"),
    ("GET", "/operations/republish/{job_id}"): Expect(404, "no republish job was started: an unknown job"),
}
OPERATIONAL: dict[tuple[str, str], Expect] = {
    ("GET", "/health"): READ,
    ("GET", "/ready"): READ,
    ("GET", "/metrics"): READ,
}
SHARED = DIGESTS | OPERATIONS | OPERATIONAL
FEEDS: dict[tuple[str, str], Expect] = {
    ("POST", "/feeds/batches"): NOT_CALLED_FEED,
    ("GET", "/feeds/quarantine"): LIST,
    ("GET", "/feeds/batches/{batch_id}"): Expect(200, own_filters=("province",)),
}

EXPECTED: dict[str, dict[tuple[str, str], Expect]] = {
    "registration": SHARED | FEEDS | {
        ("GET", "/codes"): READ,
        ("GET", "/profiles"): READ,
        ("GET", "/profiles/{profile_id}/versions/{version}"): READ,
        ("GET", "/seasons/{season_id}/profile"): SEASON_READ,
        ("POST", "/seasons/{season_id}/profile/adjustments"): INCOMPLETE,
        ("POST", "/seasons"): INCOMPLETE,
        ("PUT", "/seasons/{season_id}/windows/{stage}"): INCOMPLETE,
        ("PUT", "/seasons/{season_id}/rounds/{round_code}/window"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/team-name-suffixes"): INCOMPLETE,
        ("GET", "/seasons/{season_id}"): SEASON_READ,
        ("POST", "/seasons/{season_id}/registrations"): INCOMPLETE,
        ("GET", "/seasons/{season_id}/registrations"): LIST,
        ("GET", "/seasons/{season_id}/registrations/{credit_code}"): READ,
        ("GET", "/units/{credit_code}/registrations"): LIST,
        ("POST", "/seasons/{season_id}/recommenders"): INCOMPLETE,
        ("GET", "/seasons/{season_id}/recommenders"): Expect(200, listing=True, open_to=TO_REGISTER),
        ("PUT", "/seasons/{season_id}/recommenders/{recommender_id}/quota"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/recommenders/{recommender_id}/cancellation"): INCOMPLETE,
        ("GET", "/seasons/{season_id}/recommenders/{recommender_id}"): SEASON_READ,
        ("POST", "/seasons/{season_id}/judges"): INCOMPLETE,
        ("GET", "/seasons/{season_id}/judges"): LIST,
    },
    "submission": SHARED | FEEDS | {
        ("GET", "/seasons/{season_id}"): SEASON_READ,
        ("GET", "/seasons/{season_id}/units/{credit_code}"): READ,
        ("GET", "/seasons/{season_id}/recommenders"): LIST,
        ("POST", "/seasons/{season_id}/qc-achievements"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/team-experiences"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/qc-achievements/{entry_id}/amendments"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/team-experiences/{entry_id}/amendments"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/withdrawal"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/confirmation"): INCOMPLETE,
        ("GET", "/seasons/{season_id}/entries"): LIST,
        ("GET", "/seasons/{season_id}/entries/{entry_id}"): READ,
        ("GET", "/units/{credit_code}/entries"): LIST,
        ("GET", "/seasons/{season_id}/recommenders/{recommender_id}/entries"): LIST,
        ("POST", "/seasons/{season_id}/recommenders/{recommender_id}/qc-statistics"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/recommenders/{recommender_id}/team-statistics"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/recommenders/{recommender_id}/work-summaries"): INCOMPLETE,
        ("GET", "/seasons/{season_id}/recommenders/{recommender_id}/work-summaries"): READ,
        ("GET", "/seasons/{season_id}/recommenders/{recommender_id}/statistics"): READ,
    },
    "review": SHARED | FEEDS | {
        ("POST", "/seasons/{season_id}/rounds/{round_code}/advance"):
            Expect(409, "文审 is not a gate (its body is optional): refused by the rule, nothing stored"),
        ("GET", "/seasons/{season_id}/rounds"): SEASON_READ,
        ("GET", "/seasons/{season_id}/rounds/{round_code}"): SEASON_READ,
        ("GET", "/seasons/{season_id}"): SEASON_READ,
        ("GET", "/seasons/{season_id}/judges"): LIST,
        ("GET", "/seasons/{season_id}/entries/{entry_id}/submission"): READ,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/recommendation"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/direct-acceptance"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/revocation"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/formal-review"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/resubmission"): Expect(
            409, "the entry is in review, not failed at formal review (the body is optional): nothing stored",
            by_role={Role.ORGANIZER: 403}),  # the entry came through pudong: the organizer does not act for it
        ("POST", "/seasons/{season_id}/entries/{entry_id}/assignments"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/scores"): INCOMPLETE,
        ("GET", "/seasons/{season_id}/entries/{entry_id}/scores"): READ,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/score-revisions"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/grade"): Expect(
            409, "no judge has scored yet: the grade's rule refuses it, nothing is stored",
            by_role={Role.NATIONAL: 404}),  # the national season holds no entry in this world
        ("POST", "/seasons/{season_id}/approval"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/notice"): Expect(409, "the notice window has not opened: refused, nothing stored"),
        ("POST", "/seasons/{season_id}/entries/{entry_id}/objections"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/entries/{entry_id}/objections/{objection_id}/resolution"): INCOMPLETE,
        ("POST", "/seasons/{season_id}/publication"):
            Expect(409, "the publication window has not opened: refused, nothing stored"),
        ("POST", "/seasons/{season_id}/entries/{entry_id}/national-recommendation"): INCOMPLETE,
        ("GET", "/seasons/{season_id}/recommenders/{recommender_id}/recommendations"): READ,
        ("GET", "/seasons/{season_id}/entries"): LIST,
        ("GET", "/seasons/{season_id}/entries/{entry_id}"): READ,
        ("GET", "/judges/{judge_id}/queue"): LIST,
        ("GET", "/seasons/{season_id}/results"): SEASON_READ,
    },
    "stats": DIGESTS | OPERATIONAL | {
        ("GET", "/audit/entries/{entry_id}/history"): READ,
        ("GET", "/audit/entries/{entry_id}/state"): Expect(200, query={"as_of": "2030-01-01T00:00:00+08:00"}),
        ("GET", "/seasons/{season_id}/overview"): READ,
        ("GET", "/seasons/{season_id}/judge-workload"): READ,
        ("GET", "/seasons/{season_id}/provinces"):
            Expect(404, "only a national season (CAQ-...) has a provinces table; a provincial season is not one"),
        ("GET", "/national/{year}/overview"): READ,
        ("GET", "/national/{year}/statistics"): READ,
        ("GET", "/seasons/{season_id}/statistics"): READ,
        ("GET", "/seasons/{season_id}/recommendation-summary"): READ,
        ("GET", "/seasons/{season_id}/entries/{entry_id}"): READ,
        ("POST", "/rebuilds"): Expect(None, "a rebuild replays every topic platform-wide; test_stats_season covers it"),
        ("GET", "/rebuilds/{rebuild_id}"): Expect(404, "no rebuild was started in this world: an unknown rebuild"),
    },
}
