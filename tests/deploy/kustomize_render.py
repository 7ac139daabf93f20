"""A small, offline kustomize renderer for the manifests under deploy/k8s/.

It implements only what those kustomizations use, with kustomize v5 semantics:

* ``resources`` (YAML files and directories holding a kustomization),
* ``components`` (directories holding a ``kind: Component``),
* ``patches`` with an inline ``patch`` or a ``path``; a patch that is a YAML list is a JSON 6902
  patch (needs ``target``), anything else a strategic-merge patch (``target`` optional),
  targets by group/version/kind/name/namespace/labelSelector,
* ``namespace``, ``labels`` (``pairs``/``includeSelectors``/``includeTemplates``),
  ``commonLabels``, ``images``.

Order, as in kustomize: a kustomization's resources are built first, then its components are
applied in turn (each adds its resources, then transforms the whole accumulated set), then the
kustomization's own patches, namespace, labels and images.

Any other kustomization field raises :class:`UnsupportedFeature`, so that manifests never use
something this renderer would silently get wrong.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "components",
    "patches",
    "namespace",
    "labels",
    "commonLabels",
    "images",
}

# Kinds without a namespace (the ones a namespace transformer must leave alone).
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "IngressClass",
    "APIService",
}

# Built-in API groups: strategic merge uses Kubernetes' patch merge keys for these; custom
# resources (no schema known to kustomize) get JSON-merge semantics: lists are replaced.
BUILTIN_GROUPS = {
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
}

# Patch merge keys of the list fields that may appear in our patches of built-in kinds.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}

WORKLOAD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


class KustomizeError(Exception):
    """The kustomization cannot be built."""


class UnsupportedFeature(KustomizeError):
    """The kustomization uses something this renderer does not implement."""


# --------------------------------------------------------------------------- loading


def load_yaml_documents(path: Path) -> list[Obj]:
    with path.open(encoding="utf-8") as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise KustomizeError(f"{path}: every document needs apiVersion and kind")
        if not doc.get("metadata", {}).get("name"):
            raise KustomizeError(f"{path}: {doc['kind']} without metadata.name")
    return docs


def find_kustomization(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise KustomizeError(f"no kustomization file in {directory}")


def load_kustomization(directory: Path, expected_kind: str) -> Obj:
    path = find_kustomization(directory)
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    kind = data.get("kind", "Kustomization")
    if kind != expected_kind:
        raise KustomizeError(f"{path}: expected kind {expected_kind}, found {kind}")
    unknown = set(data) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedFeature(f"{path}: unsupported kustomization fields {sorted(unknown)}")
    return data


# --------------------------------------------------------------------------- build


def build(directory: str | Path) -> list[Obj]:
    """Render the kustomization in ``directory``, like ``kustomize build directory``."""
    return _build(Path(directory).resolve(), "Kustomization", stack=())


def build_inline(kustomization: Obj, directory: str | Path) -> list[Obj]:
    """Render a kustomization given as a mapping, its relative paths taken from ``directory``."""
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedFeature(f"unsupported kustomization fields {sorted(unknown)}")
    return _build_loaded(Path(directory).resolve(), kustomization, stack=())


def _build(directory: Path, kind: str, stack: tuple[Path, ...]) -> list[Obj]:
    if directory in stack:
        raise KustomizeError(f"cycle: {' -> '.join(map(str, stack + (directory,)))}")
    return _build_loaded(directory, load_kustomization(directory, kind), stack + (directory,))


def _build_loaded(directory: Path, k: Obj, stack: tuple[Path, ...]) -> list[Obj]:
    objects: list[Obj] = []
    for entry in k.get("resources", []):
        objects = _add(objects, _load_resource(directory, entry, stack))
    for entry in k.get("components", []):
        component_dir = (directory / entry).resolve()
        if not component_dir.is_dir():
            raise KustomizeError(f"{directory}: component {entry} is not a directory")
        objects = _apply_component(component_dir, objects, stack)
    return _transform(directory, k, objects)


def _apply_component(directory: Path, objects: list[Obj], stack: tuple[Path, ...]) -> list[Obj]:
    if directory in stack:
        raise KustomizeError(f"cycle through component {directory}")
    stack = stack + (directory,)
    k = load_kustomization(directory, "Component")
    objects = list(objects)
    for entry in k.get("resources", []):
        objects = _add(objects, _load_resource(directory, entry, stack))
    for entry in k.get("components", []):
        objects = _apply_component((directory / entry).resolve(), objects, stack)
    return _transform(directory, k, objects)


def _load_resource(base: Path, entry: str, stack: tuple[Path, ...]) -> list[Obj]:
    if "://" in entry or entry.startswith("github.com/"):
        raise UnsupportedFeature(f"{base}: remote resource {entry}")
    target = (base / entry).resolve()
    if target.is_dir():
        return _build(target, "Kustomization", stack)
    if target.is_file():
        return load_yaml_documents(target)
    raise KustomizeError(f"{base}: resource {entry} not found")


def object_id(obj: Obj) -> tuple[str, str, str, str]:
    meta = obj.get("metadata", {})
    return (obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else "",
            obj["kind"], meta.get("namespace", ""), meta["name"])


def _add(objects: list[Obj], new: Iterable[Obj]) -> list[Obj]:
    seen = {object_id(o) for o in objects}
    out = list(objects)
    for obj in new:
        oid = object_id(obj)
        if oid in seen:
            raise KustomizeError(f"duplicate object {oid}")
        seen.add(oid)
        out.append(copy.deepcopy(obj))
    return out


def _transform(directory: Path, k: Obj, objects: list[Obj]) -> list[Obj]:
    for patch in k.get("patches", []):
        objects = apply_patch(directory, patch, objects)
    if k.get("namespace"):
        objects = [set_namespace(o, k["namespace"]) for o in objects]
    for spec in k.get("labels", []):
        unknown = set(spec) - {"pairs", "includeSelectors", "includeTemplates"}
        if unknown:
            raise UnsupportedFeature(f"{directory}: labels fields {sorted(unknown)}")
        objects = [
            add_labels(
                o,
                spec.get("pairs", {}),
                selectors=spec.get("includeSelectors", False),
                templates=spec.get("includeTemplates", False) or spec.get("includeSelectors", False),
            )
            for o in objects
        ]
    if k.get("commonLabels"):
        objects = [add_labels(o, k["commonLabels"], selectors=True, templates=True) for o in objects]
    for image in k.get("images", []):
        objects = [set_image(o, image) for o in objects]
    return objects


# --------------------------------------------------------------------------- transformers


def api_group(obj: Obj) -> str:
    api_version = obj["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def api_version_only(obj: Obj) -> str:
    return obj["apiVersion"].split("/")[-1]


def set_namespace(obj: Obj, namespace: str) -> Obj:
    obj = copy.deepcopy(obj)
    if obj["kind"] not in CLUSTER_SCOPED:
        obj.setdefault("metadata", {})["namespace"] = namespace
    if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
        for subject in obj.get("subjects", []):
            if subject.get("kind") == "ServiceAccount" and not subject.get("namespace"):
                subject["namespace"] = namespace
    return obj


def _selector_paths(kind: str) -> list[tuple[str, ...]]:
    if kind in WORKLOAD_TEMPLATE_PATHS:
        return [("spec", "selector", "matchLabels")]
    if kind == "Service":
        return [("spec", "selector")]
    if kind == "PodDisruptionBudget":
        return [("spec", "selector", "matchLabels")]
    if kind == "NetworkPolicy":
        return [("spec", "podSelector", "matchLabels")]
    return []


def _dig(obj: Obj, path: tuple[str, ...], create: bool) -> dict | None:
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return None
        if key not in node or node[key] is None:
            if not create:
                return None
            node[key] = {}
        node = node[key]
    return node if isinstance(node, dict) else None


def add_labels(obj: Obj, pairs: dict[str, str], *, selectors: bool, templates: bool) -> Obj:
    obj = copy.deepcopy(obj)
    pairs = {str(k): str(v) for k, v in pairs.items()}
    _dig(obj, ("metadata", "labels"), create=True).update(pairs)
    if templates and obj["kind"] in WORKLOAD_TEMPLATE_PATHS:
        path = WORKLOAD_TEMPLATE_PATHS[obj["kind"]] + ("metadata", "labels")
        _dig(obj, path, create=True).update(pairs)
    if selectors:
        for path in _selector_paths(obj["kind"]):
            _dig(obj, path, create=True).update(pairs)
    return obj


def _pod_specs(obj: Obj) -> list[Obj]:
    if obj["kind"] == "Pod":
        return [obj.get("spec", {})]
    path = WORKLOAD_TEMPLATE_PATHS.get(obj["kind"])
    if not path:
        return []
    spec = _dig(obj, path + ("spec",), create=False)
    return [spec] if spec is not None else []


IMAGE_RE = re.compile(r"^(?P<name>[^@]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>.+))?$")


def split_image(image: str) -> tuple[str, str | None, str | None]:
    match = IMAGE_RE.match(image)
    if not match:
        raise KustomizeError(f"cannot parse image {image!r}")
    return match["name"], match["tag"], match["digest"]


def set_image(obj: Obj, spec: Obj) -> Obj:
    unknown = set(spec) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise UnsupportedFeature(f"images fields {sorted(unknown)}")
    obj = copy.deepcopy(obj)
    for pod in _pod_specs(obj):
        for key in ("initContainers", "containers"):
            for container in pod.get(key, []) or []:
                name, tag, digest = split_image(container.get("image", ""))
                if name != spec["name"]:
                    continue
                new = str(spec.get("newName", name))
                if spec.get("digest"):
                    new += "@" + str(spec["digest"])
                elif spec.get("newTag") is not None:
                    new += ":" + str(spec["newTag"])
                elif tag:
                    new += ":" + tag + (("@" + digest) if digest else "")
                elif digest:
                    new += "@" + digest
                container["image"] = new
    return obj


# --------------------------------------------------------------------------- patches


def _match_labels(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def matches_target(obj: Obj, target: Obj) -> bool:
    unknown = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector"}
    if unknown:
        raise UnsupportedFeature(f"patch target fields {sorted(unknown)}")
    meta = obj.get("metadata", {})
    if "group" in target and target["group"] != api_group(obj):
        return False
    if "version" in target and target["version"] != api_version_only(obj):
        return False
    if "kind" in target and not re.fullmatch(target["kind"], obj["kind"]):
        return False
    if "name" in target and not re.fullmatch(target["name"], meta.get("name", "")):
        return False
    if "namespace" in target and target["namespace"] != meta.get("namespace", ""):
        return False
    if "labelSelector" in target and not _match_labels(meta.get("labels", {}) or {}, target["labelSelector"]):
        return False
    return True


def apply_patch(directory: Path, spec: Obj, objects: list[Obj]) -> list[Obj]:
    unknown = set(spec) - {"path", "patch", "target"}
    if unknown:
        raise UnsupportedFeature(f"{directory}: patch fields {sorted(unknown)}")
    if ("path" in spec) == ("patch" in spec):
        raise KustomizeError(f"{directory}: a patch needs exactly one of path and patch")
    text = (directory / spec["path"]).read_text(encoding="utf-8") if "path" in spec else spec["patch"]
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    if len(docs) != 1:
        raise UnsupportedFeature(f"{directory}: a patch must hold exactly one document")
    body = docs[0]
    target = spec.get("target")

    if isinstance(body, list):  # JSON 6902
        if not target:
            raise KustomizeError(f"{directory}: a JSON 6902 patch needs a target")
        hits = [i for i, o in enumerate(objects) if matches_target(o, target)]
        if not hits:
            raise KustomizeError(f"{directory}: patch target {target} matches nothing")
        out = list(objects)
        for i in hits:
            out[i] = json6902(out[i], body)
        return out

    if not isinstance(body, dict):
        raise KustomizeError(f"{directory}: cannot read patch")
    if target is None:
        target = {"kind": body["kind"], "name": body["metadata"]["name"]}
        if "apiVersion" in body:
            target["group"] = api_group(body)
            target["version"] = api_version_only(body)
    hits = [i for i, o in enumerate(objects) if matches_target(o, target)]
    if not hits:
        raise KustomizeError(f"{directory}: patch target {target} matches nothing")
    out = list(objects)
    for i in hits:
        patch = copy.deepcopy(body)
        # With an explicit target, the patch's own name/kind only identify it.
        for key in ("apiVersion", "kind"):
            patch.pop(key, None)
        meta = patch.get("metadata")
        if isinstance(meta, dict):
            meta.pop("name", None)
            meta.pop("namespace", None)
            if not meta:
                patch.pop("metadata")
        out[i] = strategic_merge(out[i], patch, builtin=api_group(out[i]) in BUILTIN_GROUPS)
    return out


def strategic_merge(original: Any, patch: Any, *, builtin: bool, field: str | None = None) -> Any:
    """Strategic merge patch (the subset used here): maps merge, ``null`` deletes a field,
    lists with a known merge key merge by that key (``$patch: delete`` removes an element),
    other lists are replaced."""
    if isinstance(patch, dict) and isinstance(original, dict):
        if patch.get("$patch") == "replace":
            return {k: v for k, v in patch.items() if k != "$patch"}
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if key.startswith("$"):
                raise UnsupportedFeature(f"strategic merge directive {key}")
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, builtin=builtin, field=key)
            else:
                merged[key] = _strip_nulls(copy.deepcopy(value))
        return merged
    if isinstance(patch, list) and isinstance(original, list) and builtin:
        key = _merge_key(field, patch + original)
        if key is not None:
            return _merge_list(original, patch, key, builtin=builtin)
    return _strip_nulls(copy.deepcopy(patch))


def _merge_key(field: str | None, items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if field == "ports":
        # Container ports merge on containerPort, Service ports on port.
        return "containerPort" if all("containerPort" in i for i in items) else "port"
    return MERGE_KEYS.get(field or "")


def _merge_list(original: list[Obj], patch: list[Obj], key: str, *, builtin: bool) -> list[Obj]:
    out = copy.deepcopy(original)
    for item in patch:
        if key not in item:
            raise KustomizeError(f"list element without merge key {key}: {item}")
        index = next((i for i, o in enumerate(out) if o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                out.pop(index)
            continue
        if index is None:
            out.append(_strip_nulls(copy.deepcopy(item)))
        else:
            out[index] = strategic_merge(out[index], item, builtin=builtin)
    return out


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise KustomizeError(f"bad JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve_parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def json6902(obj: Obj, operations: list[Obj]) -> Obj:
    doc = copy.deepcopy(obj)
    for op in operations:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))
        if not parts:
            raise UnsupportedFeature("JSON patch on the document root")
        try:
            if kind in ("add", "replace"):
                parent, last = _resolve_parent(doc, parts)
                value = copy.deepcopy(op["value"])
                if isinstance(parent, list):
                    if last == "-":
                        parent.append(value)
                    elif kind == "add":
                        parent.insert(int(last), value)
                    else:
                        parent[int(last)] = value
                else:
                    if kind == "replace" and last not in parent:
                        raise KustomizeError(f"replace of missing path {op['path']}")
                    parent[last] = value
            elif kind == "remove":
                parent, last = _resolve_parent(doc, parts)
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            elif kind == "test":
                parent, last = _resolve_parent(doc, parts)
                current = parent[int(last)] if isinstance(parent, list) else parent[last]
                if current != op["value"]:
                    raise KustomizeError(f"JSON patch test failed at {op['path']}")
            else:
                raise UnsupportedFeature(f"JSON patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise KustomizeError(f"JSON patch {op} does not apply: {exc!r}") from exc
    return doc
