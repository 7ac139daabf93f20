"""The checked-in JSON Schemas and AsyncAPI document are exactly what the code generates."""

import json

from qcp.contracts_export import CONTRACTS_DIR, generated_files


def test_every_generated_file_matches_the_checked_in_one() -> None:
    stale = [
        str(path.relative_to(CONTRACTS_DIR))
        for path, text in generated_files().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], f"run `qcp contracts export` and commit: {stale}"


def test_no_schema_file_is_left_over_from_a_removed_contract() -> None:
    generated = {path for path in generated_files() if path.suffix == ".json" and "schemas" in path.parts}
    on_disk = set((CONTRACTS_DIR / "schemas").rglob("*.json"))
    assert on_disk - generated == set()


def test_the_asyncapi_document_names_every_topic_and_the_envelope() -> None:
    document = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text(encoding="utf-8"))
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {"registration.events", "submission.events", "review.events"} <= addresses
    assert "Envelope" in document["components"]["schemas"]
