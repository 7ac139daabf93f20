"""How a CRD's openAPIV3Schema is read: the API server's pruning, nullability and int-or-string rules."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from qcp.k8s.validation import strict_schema

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "comment": {"type": "string", "nullable": True},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
            },
        },
    },
}


def errors(document: dict[str, Any]) -> list[str]:
    return [e.message for e in jsonschema.Draft4Validator(strict_schema(SCHEMA)).iter_errors(document)]


@pytest.mark.parametrize("spec", [
    {"replicas": 2, "port": 8000, "comment": None, "config": {"anything": {"goes": [1]}}},
    {"port": "http", "comment": "x", "labels": {"a": "b"}},
    {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}}},
])
def test_valid_specs_pass(spec: dict[str, Any]) -> None:
    assert errors({"spec": spec}) == []


@pytest.mark.parametrize(("spec", "message"), [
    ({"replica": 2}, "'replica' was unexpected"),
    ({"replicas": "2"}, "'2' is not of type 'integer'"),
    ({"port": 1.5}, "1.5 is not valid under any of the given schemas"),
    ({"labels": {"a": 1}}, "1 is not of type 'string'"),
    ({"template": {"kind": "Pod", "extra": True}}, "'extra' was unexpected"),
])
def test_invalid_specs_fail(spec: dict[str, Any], message: str) -> None:
    assert any(message in e for e in errors({"spec": spec})), errors({"spec": spec})


def test_an_unknown_top_level_field_fails() -> None:
    assert any("'sepc' was unexpected" in e for e in errors({"sepc": {}}))
