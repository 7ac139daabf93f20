"""Schema validation of rendered Kubernetes objects, offline and strict (unknown fields fail).

* Built-in kinds: the Kubernetes OpenAPI schemas packaged by ``kubernetes-validate`` (a pinned
  development dependency), for a given Kubernetes minor.
* Custom resources: the ``openAPIV3Schema`` of the served version in the operator's own CRD
  (:mod:`qcp.k8s.crds`), read with the API server's rules: an object schema admits no field it
  does not name (the API server would drop it) unless it says ``x-kubernetes-preserve-unknown-fields``
  or gives ``additionalProperties``; ``nullable`` admits null; ``x-kubernetes-int-or-string``
  admits both; an ``x-kubernetes-embedded-resource`` admits its apiVersion, kind and metadata.
  The ``metadata`` of a custom resource is checked against Kubernetes' ObjectMeta, and the CRD's
  CEL rules (``x-kubernetes-validations``) are evaluated with ``cel-python``, except transition
  rules (those naming ``oldSelf``), which only apply to updates.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .crds import load_crds

Obj = dict[str, Any]

# Kinds without a namespace among the built-in ones (custom resources say so in their CRD).
CLUSTER_SCOPED_BUILTINS = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass", "RuntimeClass",
    "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
})


def api_group(obj: Obj) -> str:
    api_version = obj["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def describe(obj: Obj) -> str:
    return f"{obj['kind']}/{obj.get('metadata', {}).get('name', '?')}"


def strict_schema(schema: Any) -> Any:
    """An openAPIV3Schema as a JSON schema with the API server's pruning and nullability rules."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict_schema(value) if key in ("items", "not", "allOf", "anyOf", "oneOf", "additionalProperties")
           else value for key, value in schema.items() if key != "properties"}
    if "properties" in schema:
        out["properties"] = {name: strict_schema(sub) for name, sub in schema["properties"].items()}
    if schema.get("x-kubernetes-embedded-resource"):
        # An embedded object always admits its own apiVersion, kind and metadata.
        out["properties"] = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                             "metadata": {"type": "object"}, **out.get("properties", {})}
    if schema.get("type") == "object" and "additionalProperties" not in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if schema.get("nullable") and "type" in schema:
        out["type"] = [schema["type"], "null"]
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


@cache
def _object_meta_validator() -> jsonschema.protocols.Validator:
    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / \
        f"v{kubernetes_validate.latest_version()}-local-strict"
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry = Registry().with_resource("/api/_definitions.json", Resource(definitions, DRAFT202012))
    schema = json.loads((folder / "objectmeta-meta-v1.json").read_text())
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def crd_validators() -> dict[tuple[str, str], tuple[jsonschema.protocols.Validator, bool, Obj]]:
    """(apiVersion, kind) of every served CRD version -> (validator of its schema, namespaced, its raw schema)."""
    validators = {}
    for crd in load_crds():
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            raw = (version.get("schema", {}).get("openAPIV3Schema") or spec.get("validation", {})
                   .get("openAPIV3Schema") or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
            schema = strict_schema(raw)
            # The API server checks metadata as ObjectMeta, whatever the CRD says of it.
            schema.setdefault("properties", {})["metadata"] = {"type": "object"}
            validators[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = (
                jsonschema.Draft4Validator(schema), spec.get("scope") == "Namespaced", raw)
    return validators


def is_custom(obj: Obj) -> bool:
    """Whether some fetched CRD defines this object's group."""
    return api_group(obj) in {api_version.split("/")[0] for api_version, _ in crd_validators()}


def is_namespaced(obj: Obj) -> bool:
    found = crd_validators().get((obj["apiVersion"], obj["kind"]))
    return found[1] if found else obj["kind"] not in CLUSTER_SCOPED_BUILTINS


def custom_resource_errors(obj: Obj) -> list[str]:
    """What the operator's CRD (and ObjectMeta) reject in one custom resource; [] when valid."""
    found = crd_validators().get((obj["apiVersion"], obj["kind"]))
    if found is None:
        return [f"{describe(obj)}: no CRD defines {obj['apiVersion']} {obj['kind']}"]
    validator, _, raw = found
    errors = [([str(p) for p in error.absolute_path], error.message) for error in validator.iter_errors(obj)]
    errors += [(["metadata", *(str(p) for p in error.absolute_path)], error.message)
               for error in _object_meta_validator().iter_errors(obj.get("metadata", {}))]
    errors += _cel_errors(raw, obj, [])
    return [f"{describe(obj)}: {'.'.join(path)}: {message}" for path, message in errors]


@cache
def _cel_program(rule: str) -> celpy.Runner:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def _cel_errors(schema: Any, value: Any, path: list[str]) -> list[tuple[list[str], str]]:
    """The CEL rules of ``schema`` (and of its sub-schemas, where ``value`` has them) that ``value`` breaks."""
    if not isinstance(schema, dict):
        return []
    broken = []
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue
        try:
            result = _cel_program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        except celpy.CELParseError as exc:
            broken.append((path, f"CEL rule {rule['rule']!r} cannot be read: {exc}"))
            continue
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            detail = f" ({result})" if isinstance(result, celpy.CELEvalError) else ""
            broken.append((path, f"{rule.get('message') or 'failed rule: ' + rule['rule']}{detail}"))
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                broken += _cel_errors(sub, value[name], [*path, name])
        if isinstance(schema.get("additionalProperties"), dict):
            for name, item in value.items():
                broken += _cel_errors(schema["additionalProperties"], item, [*path, name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            broken += _cel_errors(schema["items"], item, [*path, str(index)])
    return broken


@cache
def _builtin_error(document: str, kubernetes_version: str) -> str | None:
    obj = json.loads(document)
    try:
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{describe(obj)}: {'.'.join(str(p) for p in exc.path)}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return f"{describe(obj)}: {exc.message}"
    return None


def builtin_errors(obj: Obj, kubernetes_version: str) -> list[str]:
    """What Kubernetes' OpenAPI schema of that minor rejects in one built-in object; [] when valid."""
    error = _builtin_error(json.dumps(obj, sort_keys=True), kubernetes_version)
    return [error] if error else []


def errors(obj: Obj, kubernetes_version: str) -> list[str]:
    """Schema errors of any rendered object: by its CRD if one defines its group, else by Kubernetes'."""
    return custom_resource_errors(obj) if is_custom(obj) else builtin_errors(obj, kubernetes_version)
