"""Generates the checked-in contract files: JSON Schemas of every payload and the envelope, and the AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path

from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient

from contracts import Envelope, registered_types
from infra.bootstrap import build_messaging
from infra.metrics import ServiceMetrics
from infra.settings import ServiceSettings
from qcp.services import SERVICES, definition

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"


def schema_documents() -> dict[str, str]:
    """Relative path under contracts/schemas → file content."""
    documents = {"envelope.v1.json": _dump(Envelope.model_json_schema())}
    for type_, item in sorted(registered_types().items()):
        schema = item.model.model_json_schema()
        schema["$id"] = f"urn:qc-platform:event:{type_}:v{item.version}"
        schema["x-family"] = item.family
        schema["x-schema-version"] = item.version
        documents[f"{item.family}/{type_}.v{item.version}.json"] = _dump(schema)
    return documents


def asyncapi_document() -> str:
    """AsyncAPI 3.0 of all four services' FastStream brokers: what each publishes and consumes."""
    brokers = []
    unconnected = AsyncMongoClient(connect=False)  # the read models are built, never used
    for service in SERVICES:
        settings = ServiceSettings(service=service)
        read_model = definition(service).build_read_model(unconnected[settings.database_name])
        broker = build_messaging(definition(service), settings, read_model, ServiceMetrics(service))
        brokers.append(broker)
    specification = AsyncAPI(
        *brokers,
        title="QC platform domain events",
        version="1.0.0",
        description="Events of the registration, submission and review services, consumed by every service.",
    ).to_specification()
    return _dump(specification.to_jsonable())


def generated_files() -> dict[Path, str]:
    files = {CONTRACTS_DIR / "schemas" / name: text for name, text in schema_documents().items()}
    files[CONTRACTS_DIR / "asyncapi.json"] = asyncapi_document()
    return files


def write_all() -> list[Path]:
    written = []
    for path, text in generated_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def _dump(document: object) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
