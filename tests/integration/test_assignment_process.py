"""The assignment process manager on the real MongoDB-compatible store and event store, one event at a time:
k unconflicted judges per entry, once; redeliveries change nothing; an interrupted assignment is completed;
blocked entries are recorded and assigned when a judge arrives; scores and reassignments reach the queues."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.review_backlog import (
    JudgeSpec,
    Season,
    formal_review_passed,
    judge_registered,
    score_recorded,
    shanghai_season,
)
from contracts import Envelope, parse_payload
from contracts.scored import JudgesAssigned, ReviewStage
from infra.eventstore import stamp
from infra.mongo import build_client
from services.review.adapters.read_model import ReviewReadModel
from services.review.application import ReviewApplication
from services.review.assignment.domain import EntryToAssign, Judge, assignment_id, choose_judges, conflict_of
from services.review.assignment.process import AssignmentProcess
from services.review.assignment.read_model import AssignmentReadModel, queue_id
from tests.harness import isolated_settings, new_namespace

SEASON = "310000-2024-qc_group"
STAGE = "material_review"


def panel_season(season_id: str = SEASON, *, units: int = 10) -> Season:
    """4 judges of the organizer's panel, 2 on each recommending unit's panel, one of unit 0 by credit code,
    one of unit 1 by its short name (no code)."""
    season = shanghai_season(season_id, units=units, recommenders=2)
    season.judges = [
        *(JudgeSpec(f"org{index}", f"上海市质量评审中心{index}") for index in range(4)),
        *(JudgeSpec(f"r{r}-{index}", f"推荐单位{r}专家组{index}", recommender_id=f"r{r}") for r in range(2) for index in range(2)),
        JudgeSpec("own-code", "集团总部", work_unit_credit_code=season.units[0].credit_code),
        JudgeSpec("own-name", f" {season.units[1].short_name} "),
    ]
    return season


def parsed(item: Envelope):  # noqa: ANN201
    return parse_payload(item.type, item.schema_version, item.payload)


@pytest.fixture
async def world(stack, tmp_path):  # noqa: ANN001, ANN201
    settings = isolated_settings(stack, "review", tmp_path, new_namespace())
    app = ReviewApplication(settings)
    mongo = build_client(settings)
    database = mongo[settings.database_name]
    review = ReviewReadModel(database)
    process = AssignmentProcess(application=app, read_model=AssignmentReadModel(database))
    await process.start()

    async def register(season: Season) -> None:
        for item in season.registration_events():
            await review.apply(item, parsed(item))

    try:
        yield app, review, process, register
    finally:
        await mongo.drop_database(settings.database_name)
        await mongo.close()
        app.close()


def stored(app: ReviewApplication) -> list[Envelope]:
    return app.envelopes_after(0, 100_000)[0]


async def test_each_entry_gets_k_unconflicted_least_loaded_judges_once(world) -> None:  # noqa: ANN001
    app, _, process, register = world
    season = panel_season()
    await register(season)
    entries = [formal_review_passed(season, f"e{index:03d}", season.units[index % 10]) for index in range(20)]

    assert [await process.apply(item, parsed(item)) for item in entries] == [True] * 20
    assert [await process.apply(item, parsed(item)) for item in entries] == [False] * 20, "redelivered"
    published = stored(app)
    assert [await process.apply(item, parsed(item)) for item in published] == [False] * 20, "relayed back"
    assert Counter(item.type for item in published) == {"JudgesAssigned": 20}

    judges = {spec.judge_id: Judge(spec.judge_id, spec.work_unit, spec.work_unit_credit_code, spec.recommender_id)
              for spec in season.judges}
    units = {unit.credit_code: unit for unit in season.units}
    read_model = process.read_model
    for item in entries:
        document = await read_model.assignment(assignment_id(SEASON, item.payload["entry_id"], STAGE))
        assert document["status"] == "assigned" and len(document["judge_ids"]) == 5
        unit = units[item.payload["credit_code"]]
        entry = process.recorder.load(assignment_id(SEASON, item.payload["entry_id"], STAGE)).entry(
            (unit.unit_name, unit.short_name)
        )
        assert [conflict_of(judges[j], entry) for j in document["judge_ids"]] == [None] * 5
    loads = await read_model.loads(SEASON, STAGE)
    assert sum(loads.values()) == 100 == await read_model.queue.count_documents({"season_id": SEASON})
    organizer_panel = [loads[f"org{index}"] for index in range(4)]
    assert max(organizer_panel) - min(organizer_panel) <= 1
    queue = await read_model.queue_of("org0", season_id=SEASON, stage=STAGE, status="assigned")
    assert len(queue) == loads["org0"]


async def test_an_assignment_stored_but_not_yet_applied_is_completed_by_the_redelivery(world) -> None:  # noqa: ANN001
    app, _, process, register = world
    season = panel_season()
    await register(season)
    passed = formal_review_passed(season, "crashed", season.units[5])
    # the worker that crashed had stored the assignment, then died before updating the read model
    judges = await process.read_model.judges(SEASON)
    target = EntryToAssign(SEASON, "crashed", STAGE, season.units[5].credit_code, season.units[5].recommender_id)
    choice = choose_judges(target, judges, {}, 5)
    envelopes, recorded = process.recorder.open(target, choice, process._context(passed), "310000")
    assert recorded

    assert await process.apply(passed, parsed(passed)) is False, "already assigned: nothing new is stored"
    document = await process.read_model.assignment(assignment_id(SEASON, "crashed", STAGE))
    assert document["judge_ids"] == envelopes[0].payload["judge_ids"]
    assert sum((await process.read_model.loads(SEASON, STAGE)).values()) == 5
    assert Counter(item.type for item in stored(app)) == {"JudgesAssigned": 1}


async def test_too_few_judges_is_recorded_as_blocked_and_a_new_judge_unblocks_it(world) -> None:  # noqa: ANN001
    app, review, process, register = world
    season = shanghai_season("370000-2024-qc_group", units=2, recommenders=1)
    season.judges = [JudgeSpec(f"sd{index}", f"山东质量评审中心{index}") for index in range(3)]
    season.judges.append(JudgeSpec("sd-panel", "推荐单位专家组", recommender_id="r0"))
    await register(season)
    passed = formal_review_passed(season, "e1", season.units[0])
    assert await process.apply(passed, parsed(passed)) is True
    document = await process.read_model.assignment(assignment_id(season.season_id, "e1", STAGE))
    assert (document["status"], document["judges_eligible"], document["judges_conflicted"]) == ("blocked", 3, 1)
    assert "5 judges are needed and 3 are free of conflicts" in document["message"]

    late = [judge_registered(season.season_id, 10 + index, JudgeSpec(f"late{index}", f"济南评审中心{index}")) for index in range(2)]
    await review.apply(late[0], parsed(late[0]))
    assert await process.apply(late[0], parsed(late[0])) is False, "4 of 5: still blocked, nothing recorded"
    await review.apply(late[1], parsed(late[1]))
    assert await process.apply(late[1], parsed(late[1])) is True
    assert await process.apply(late[1], parsed(late[1])) is False
    document = await process.read_model.assignment(assignment_id(season.season_id, "e1", STAGE))
    assert document["status"] == "assigned" and "sd-panel" not in document["judge_ids"]
    assert [item.type for item in stored(app)] == ["AssignmentBlocked", "JudgesAssigned"]


async def test_scores_reach_the_queue_and_a_reassignment_withdraws_the_replaced_judge(world) -> None:  # noqa: ANN001
    app, _, process, register = world
    season = panel_season()
    await register(season)
    passed = formal_review_passed(season, "e1", season.units[4])
    await process.apply(passed, parsed(passed))
    aggregate_id = assignment_id(SEASON, "e1", STAGE)
    first = (await process.read_model.assignment(aggregate_id))["judge_ids"]

    score = score_recorded(SEASON, "e1", first[0], 1)
    assert await process.apply(score, parsed(score)) is True
    assert await process.apply(score, parsed(score)) is False
    scored = await process.read_model.queue.find_one({"_id": queue_id(first[0], STAGE, "e1")})
    assert (scored["status"], scored["total"]) == ("scored", score.payload["total"])

    spare = next(spec.judge_id for spec in season.judges if spec.judge_id.startswith("org") and spec.judge_id not in first)
    replaced = first[-1]
    assignment = app.repository.get(aggregate_id)
    by_hand = JudgesAssigned(season_id=SEASON, entry_id="e1", stage=ReviewStage.MATERIAL_REVIEW,
                             judge_ids=[*first[:-1], spare], assigned_by="secretariat-1")
    assignment.assign(**stamp(by_hand, process._context(passed), season_id=SEASON, organizer="310000"))
    app.save(assignment)
    reassigned = stored(app)[-1]
    assert await process.apply(reassigned, parsed(reassigned)) is True
    assert await process.apply(reassigned, parsed(reassigned)) is False
    queue = process.read_model.queue
    assert (await queue.find_one({"_id": queue_id(replaced, STAGE, "e1")}))["status"] == "withdrawn"
    assert (await queue.find_one({"_id": queue_id(spare, STAGE, "e1")}))["status"] == "assigned"
    assert (await queue.find_one({"_id": queue_id(first[0], STAGE, "e1")}))["status"] == "scored"
    loads = await process.read_model.loads(SEASON, STAGE)
    assert replaced not in loads and loads[spare] == 1 and sum(loads.values()) == 5


async def test_judges_per_round_only_advanced_entries_get_the_next_rounds_judges_once(world) -> None:  # noqa: ANN001
    """A season with 初审 (a gate, 3 judges) before the 发表赛 (2 judges): formal review brings 初审's judges only;
    EntryAdvanced brings the 发表赛's, once however often it is delivered; an entry that did not advance gets none."""
    from benchmarks.review_backlog import envelope
    from contracts.identity import stable_uuid

    app, review, process, register = world
    season = panel_season()
    opened = season.opened()
    rounds = [{"code": "initial_review", "label": "初审", "review_form": "material", "judges_per_entry": 3, "gate": {}},
              {"code": "presentation", "label": "发表赛", "review_form": "presentation", "judges_per_entry": 2}]
    season.opened = lambda: envelope("SeasonOpened", opened.aggregate_id, opened.payload | {"rounds": rounds})  # type: ignore[method-assign]
    await register(season)
    entries = [formal_review_passed(season, name, season.units[index]) for index, name in enumerate(("a", "b"))]
    assert [await process.apply(item, parsed(item)) for item in entries] == [True, True]
    for name in ("a", "b"):
        assert len((await process.read_model.assignment(assignment_id(SEASON, name, "initial_review")))["judge_ids"]) == 3
        assert await process.read_model.assignment(assignment_id(SEASON, name, "presentation")) is None

    gate = {"season_id": SEASON, "entry_id": "a", "stage": "initial_review", "stage_label": "初审",
            "method": "top_n", "score": "90.00", "rank": 1, "next_stage": "presentation", "next_stage_label": "发表赛"}
    advanced = envelope("EntryAdvanced", stable_uuid("bench-entry-review", SEASON, "a"), gate, version=3)
    assert await process.apply(advanced, parsed(advanced)) is True
    assert await process.apply(advanced, parsed(advanced)) is False, "redelivered"
    document = await process.read_model.assignment(assignment_id(SEASON, "a", "presentation"))
    assert document["status"] == "assigned" and len(document["judge_ids"]) == 2
    assert await process.read_model.assignment(assignment_id(SEASON, "b", "presentation")) is None
    assert Counter((item.type, item.payload["stage"]) for item in stored(app)) == {
        ("JudgesAssigned", "initial_review"): 2, ("JudgesAssigned", "presentation"): 1}
