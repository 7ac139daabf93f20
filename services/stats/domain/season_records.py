"""A season's stats records sorted out by what they hold, and the joins every report needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from services.stats.domain.records import Record


@dataclass
class SeasonRecords:
    """A season's records sorted out by what they hold; the joins the reports need."""

    season: Record = field(default_factory=dict)
    registrations: list[Record] = field(default_factory=list)
    recommenders: dict[str, Record] = field(default_factory=dict)
    quota_raised: dict[str, Record] = field(default_factory=dict)
    judges: dict[str, Record] = field(default_factory=dict)
    entries: dict[str, Record] = field(default_factory=dict)
    reviews: dict[str, Record] = field(default_factory=dict)
    assignments: dict[tuple[str, str], Record] = field(default_factory=dict)
    scores: dict[tuple[str, str], dict[str, Record]] = field(default_factory=dict)
    statistics: list[Record] = field(default_factory=list)
    work_summaries: list[Record] = field(default_factory=list)
    noticed: set[str] = field(default_factory=set)
    certificates: int = 0
    organizer: str | None = None
    # a province's facts from its feed, by entry id; its quarantined records; which records came through a feed
    provincial_recommendations: dict[str, Record] = field(default_factory=dict)
    provincial_results: dict[str, Record] = field(default_factory=dict)
    quarantines: list[Record] = field(default_factory=list)
    fed_registrations: int = 0
    fed_entries: set[str] = field(default_factory=set)
    _recommended_by: dict[str, list[Record]] | None = None
    progress: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[Record]) -> SeasonRecords:
        season = cls()
        for record in records:
            season.organizer = season.organizer or record.get("organizer")
            if "season" in record:
                season.season = record["season"]
            if "registration" in record:
                season.registrations.append(record["registration"])
            if "recommender" in record:
                season.recommenders[record["recommender"]["recommender_id"]] = record["recommender"]
            season.quota_raised.update(record.get("quota_raised") or {})
            if "judge" in record:
                season.judges[record["judge"]["judge_id"]] = record["judge"]
            if "entry" in record:
                season.entries[record["entry"]["entry_id"]] = record["entry"] | {"status": record["entry_status"]}
            if "review" in record:
                season.reviews[record["review"]["entry_id"]] = record["review"]
            if "assignment" in record:
                assignment = record["assignment"]
                season.assignments[(assignment["entry_id"], assignment["stage"])] = assignment
            if "score" in record:
                score = record["score"]
                season.scores.setdefault((score["entry_id"], score["stage"]), {})[score["judge_id"]] = score
            if "statistics" in record:
                season.statistics.append(record["statistics"])
            if "work_summary" in record:
                season.work_summaries.append(record["work_summary"])
            season.noticed.update(record.get("noticed") or [])
            season.certificates += record.get("certificates", 0)
            season._add_fed(record)
        season.registrations.sort(key=lambda item: (item.get("credit_code") or "", item.get("unit_name") or ""))
        return season

    def _add_fed(self, record: Record) -> None:
        if "provincial_recommendation" in record:
            self.provincial_recommendations[record["provincial_recommendation"]["entry_id"]] = record["provincial_recommendation"]
        if "provincial_result" in record:
            self.provincial_results[record["provincial_result"]["entry_id"]] = record["provincial_result"]
        if "quarantine" in record:
            self.quarantines.append(record["quarantine"])
        if record.get("fed"):
            self.fed_registrations += "registration" in record
            if "entry" in record:
                self.fed_entries.add(record["entry"]["entry_id"])

    def entry_ids(self) -> list[str]:
        """Every entry the season's records name: submitted, reviewed, or recommended or graded by the province."""
        return sorted(set(self.entries) | set(self.reviews) | set(self.provincial_recommendations)
                      | set(self.provincial_results))

    def feed_counts(self) -> dict[str, int]:
        """What came through the province's feed: registrations and (not withdrawn) entries, and its quarantine."""
        live_fed = sum(self.entries[entry_id]["status"] != "withdrawn" for entry_id in self.fed_entries)
        still_open = sum(not item.get("resolved") for item in self.quarantines)
        return {"fed_registrations": self.fed_registrations, "fed_entries": live_fed,
                "quarantined_open": still_open, "quarantined_resolved": len(self.quarantines) - still_open}

    @property
    def known(self) -> bool:
        return bool(self.season)

    @property
    def kind(self) -> str | None:
        return self.season.get("kind")

    def recommender_name(self, recommender_id: str | None) -> str | None:
        return (self.recommenders.get(recommender_id or "") or {}).get("name")

    def recommended_by(self) -> dict[str, list[Record]]:
        """The reviews with a recommendation, per recommending unit, in entry order (computed once)."""
        if self._recommended_by is None:
            grouped: dict[str, list[Record]] = {}
            for entry_id in sorted(self.reviews):
                review = self.reviews[entry_id]
                if review.get("recommendation"):
                    grouped.setdefault(review["recommendation"].get("recommender_id"), []).append(review)
            self._recommended_by = grouped
        return self._recommended_by

    def latest_statistics(self) -> dict[str, Record]:
        """Per recommending unit, its filing of the latest period (earlier periods are history)."""
        latest: dict[str, Record] = {}
        for filing in sorted(self.statistics, key=lambda item: (item["period"]["last_month"], item["period"]["first_month"])):
            latest[filing["recommender_id"]] = filing
        return latest
