"""Every read-model write finds its document by primary key: the store's explain of each write shape the
consumers use names the _id index, not a scan of the collection (a write must not cost more as the collection grows).

Run on the local stack's store. FerretDB 1.x with its PostgreSQL backend compared `_id` with jsonb containment
(`_jsonb->'_id' @> value`), which its btree index on `_jsonb->'_id'` cannot serve, so every such write scanned the
collection; the local stack builds it with a patch (`qcp/stack/ferretdb/id-index-lookup.patch`) that writes an
`_id` equal to a string as an equality, which the index serves. On MongoDB the update's own plan is checked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from infra.mongo import UPDATES_PER_COMMAND
from tests.harness import isolated_settings, new_namespace

DOCUMENTS = 3_000
KEY = "doc-01234"

# (what writes it, the filter of its update); each is sent with an upsert and a $set/$max by the consumer
WRITE_SHAPES = {
    "read model, version guarded (infra.mongo.versioned_write)": {"_id": KEY, "_version": {"$lt": 7}},
    "read-your-writes position ($max by aggregate)": {"_id": KEY},
    "stats record, version guarded (StatsStore.save_record)": {"_id": KEY, "v": {"$lt": 7}},
    "judge queue score, version guarded": {"_id": KEY, "_score_version": {"$lt": 7}},
}


def plan_nodes(plan: Any) -> list[dict[str, Any]]:
    """Every node of a plan, MongoDB's (stages) or FerretDB's (PostgreSQL's EXPLAIN), flattened."""
    nodes: list[dict[str, Any]] = []
    if isinstance(plan, dict):
        if "stage" in plan or "Node Type" in plan:
            nodes.append(plan)
        for value in plan.values():
            nodes.extend(plan_nodes(value))
    elif isinstance(plan, list):
        for item in plan:
            nodes.extend(plan_nodes(item))
    return nodes


def by_primary_key(nodes: list[dict[str, Any]]) -> bool:
    stages = {node.get("stage") or node.get("Node Type") for node in nodes}
    scans = {"COLLSCAN", "Seq Scan"}
    keyed = any(
        node.get("stage") in {"IDHACK", "EXPRESS_IXSCAN", "EXPRESS_CLUSTERED_IXSCAN", "CLUSTERED_IXSCAN"}
        or (node.get("stage") == "IXSCAN" and node.get("indexName") == "_id_")
        or (node.get("Node Type") in {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
            and "_id_" in str(node.get("Index Name", "")))
        for node in nodes
    )
    return keyed and not (stages & scans)


@pytest.fixture
async def populated(stack, tmp_path):
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    mongo = AsyncMongoClient(settings.mongo_url)
    database = mongo[settings.database_name]
    await database["docs"].insert_many(
        [{"_id": f"doc-{index:05d}", "_version": 1, "v": 1, "_score_version": 1, "version": 1, "padding": "x" * 200}
         for index in range(DOCUMENTS)]
    )
    # statistics as a grown collection would have them (FerretDB runs VACUUM ANALYZE for compact)
    await database.command({"compact": "docs"})
    build = await mongo.admin.command("buildInfo")
    try:
        yield database, build
    finally:
        await mongo.drop_database(settings.database_name)
        await mongo.close()


@pytest.mark.parametrize("shape", list(WRITE_SHAPES))
async def test_each_write_shape_finds_its_document_by_primary_key(populated, shape) -> None:
    database, build = populated
    # the update's own explain on MongoDB; FerretDB 1.x explains an update without its filter, so the filter's
    # find is explained instead: it is the query FerretDB runs to find the documents an update changes
    ferret = "ferretdbVersion" in build
    command: dict[str, Any] = (
        {"find": "docs", "filter": WRITE_SHAPES[shape]}
        if ferret
        else {"update": "docs", "updates": [{"q": WRITE_SHAPES[shape], "u": {"$set": {"x": 1}}, "upsert": True}]}
    )
    explained = await database.command({"explain": command, "verbosity": "queryPlanner"})
    nodes = plan_nodes(explained.get("queryPlanner"))
    assert by_primary_key(nodes), nodes


async def test_one_update_command_of_more_updates_than_the_stores_pool_is_answered(populated) -> None:
    # FerretDB 1.x as released kept each update's connection until the command ended: a command of more updates
    # than its pool (150) waited forever for a connection; the consumers send commands of UPDATES_PER_COMMAND
    database, _ = populated
    updates = [{"q": {"_id": f"doc-{index:05d}", "_version": {"$lt": 2}}, "u": {"$set": {"_version": 2}},
                "upsert": True} for index in range(UPDATES_PER_COMMAND)]
    # the bound only keeps a hung server from hanging the suite; the outcome checked is the answer
    answer = await asyncio.wait_for(
        database.command({"update": "docs", "updates": updates, "ordered": True}), timeout=120)
    expected = (UPDATES_PER_COMMAND, UPDATES_PER_COMMAND, None)
    assert (answer["n"], answer["nModified"], answer.get("writeErrors")) == expected
