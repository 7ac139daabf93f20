"""Event contracts shared by every service: the envelope, the payload models and their versions."""

from contracts import fed, filings, profiles, published, recommended, registered, scored, submitted  # noqa: F401  (they register)
from contracts import national  # noqa: F401  (registers the national family)
from contracts.envelope import Actor, Envelope, Source
from contracts.registry import (
    ContractError,
    families,
    latest_version,
    parse_payload,
    payload_model,
    registered_types,
)

__all__ = [
    "Actor",
    "ContractError",
    "Envelope",
    "Source",
    "families",
    "latest_version",
    "parse_payload",
    "payload_model",
    "registered_types",
]
