"""Offline checks of the Kubernetes manifests under deploy/ (no cluster, no network).

Every kustomization is rendered with ``kustomize_render`` (a small renderer of the kustomize
features the manifests use), then:

* built-in kinds are validated against the Kubernetes OpenAPI schemas shipped with
  ``kubernetes-validate`` (strict: unknown fields fail), for the oldest and newest Kubernetes
  minor we target;
* operator resources (Strimzi, CloudNativePG, MongoDB Community, KEDA, Prometheus Operator),
  for which no schema is bundled, are checked against the required fields and types of their
  CRDs, written down below;
* the platform's invariants are asserted: probes, resources, non-root, labels, HPA/PDB per API,
  PDB per worker, environment, topics, the KEDA target, network policies, and that the names
  that tie the pieces together (Secrets, Services, topics, databases) agree.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .kustomize_render import (
    CLUSTER_SCOPED,
    KustomizeError,
    UnsupportedFeature,
    api_group,
    build,
    build_inline,
    find_kustomization,
    object_id,
    split_image,
)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
COMPONENTS = K8S / "components"

NAMESPACE = "qc-platform"
IMAGE = "qc-platform"
SERVICES = ("registration", "submission", "review", "stats")
EVENT_STORE_SERVICES = ("registration", "submission", "review")
ROLES = {"api": 8000, "worker": 8001}
EVENT_TOPICS = ("registration.events", "submission.events", "review.events")
DLQ_TOPICS = ("registration.dlq", "submission.dlq", "review.dlq", "stats.dlq")
EXPECTED_COMPONENTS = {
    "strimzi-kafka",
    "cloudnative-pg",
    "mongodb",
    "keda-review-workers",
    "prometheus-monitoring",
}
APP_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
REQUIRED_ENV = ("QCP_SERVICE", "QCP_KAFKA_BOOTSTRAP", "QCP_MONGO_URL", "QCP_MONGO_DB",
                "QCP_EVENT_STORE", "QCP_JWT_SECRET", "QCP_LOG_LEVEL")
POSTGRES_ENV = ("QCP_POSTGRES_HOST", "QCP_POSTGRES_PORT", "QCP_POSTGRES_DB",
                "QCP_POSTGRES_USER", "QCP_POSTGRES_PASSWORD")
SECRET_ENV = ("QCP_MONGO_URL", "QCP_JWT_SECRET", "QCP_POSTGRES_USER", "QCP_POSTGRES_PASSWORD")

# Oldest Kubernetes minor we support, and the newest one kubernetes-validate knows.
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())

Obj = dict[str, Any]


# =========================================================================== CRD schemas
# The operator resources we use, as a subset of their CRDs' schemas: required fields, types,
# enums. Objects are closed (additionalProperties: false) like kubectl's strict field
# validation, so a misspelt field fails here; opaque maps (config, statefulSet.spec, ...) are
# left open. A field that is valid for the operator but not listed here must be added here.


def _obj(required: list[str] | None = None, *, open_: bool = False, **properties: Any) -> Obj:
    schema: Obj = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if not open_:
        schema["additionalProperties"] = False
    return schema


_ANY_OBJECT = {"type": "object"}
_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_STR_MAP = {"type": "object", "additionalProperties": _STR}
_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
         "maxLength": 253}
_QUANTITY = {"anyOf": [{"type": "integer"},
                       {"type": "string", "pattern": r"^[0-9.]+([eE][-+]?[0-9]+|[numkKMGTPE]i?)?$"}]}
_RESOURCES = _obj(limits={"type": "object", "additionalProperties": _QUANTITY},
                  requests={"type": "object", "additionalProperties": _QUANTITY})
_LABEL_SELECTOR = _obj(matchLabels=_STR_MAP, matchExpressions={"type": "array", "items": _obj(
    ["key", "operator"], key=_STR, operator={"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
    values={"type": "array", "items": _STR})})
_STRIMZI_VOLUME = _obj(
    ["type"],
    type={"enum": ["ephemeral", "persistent-claim"]},
    id={"type": "integer", "minimum": 0},
    size=_STR,
    sizeLimit=_STR,
    # The storage class to use, not a Kubernetes "class" keyword.
    **{"class": _STR},
    deleteClaim=_BOOL,
    kraftMetadata={"enum": ["shared"]},
)


def _crd(api_version: str, kind: str, spec: Obj) -> Obj:
    return _obj(
        ["apiVersion", "kind", "metadata", "spec"],
        apiVersion={"const": api_version},
        kind={"const": kind},
        metadata=_obj(["name"], name=_NAME, namespace=_STR, labels=_STR_MAP, annotations=_STR_MAP),
        spec=spec,
    )


CRD_SCHEMAS: dict[tuple[str, str], Obj] = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): _crd("kafka.strimzi.io/v1beta2", "Kafka", _obj(
        ["kafka"],
        kafka=_obj(
            ["listeners"],
            version=_STR,
            metadataVersion=_STR,
            listeners={"type": "array", "minItems": 1, "items": _obj(
                ["name", "port", "type", "tls"],
                name={"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                port={"type": "integer", "minimum": 9092},
                type={"enum": ["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"]},
                tls=_BOOL,
                authentication=_ANY_OBJECT,
                configuration=_ANY_OBJECT,
                networkPolicyPeers={"type": "array", "items": _obj(
                    podSelector=_LABEL_SELECTOR, namespaceSelector=_LABEL_SELECTOR, ipBlock=_ANY_OBJECT)},
            )},
            config=_ANY_OBJECT,
            resources=_RESOURCES,
            template=_ANY_OBJECT,
        ),
        entityOperator=_obj(topicOperator=_ANY_OBJECT, userOperator=_ANY_OBJECT, template=_ANY_OBJECT),
        cruiseControl=_ANY_OBJECT,
    )),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): _crd("kafka.strimzi.io/v1beta2", "KafkaNodePool", _obj(
        ["replicas", "roles", "storage"],
        replicas={"type": "integer", "minimum": 0},
        roles={"type": "array", "minItems": 1, "items": {"enum": ["controller", "broker"]}},
        storage=_obj(["type"], type={"enum": ["ephemeral", "persistent-claim", "jbod"]},
                     volumes={"type": "array", "minItems": 1, "items": _STRIMZI_VOLUME}),
        resources=_RESOURCES,
        jvmOptions=_ANY_OBJECT,
        template=_ANY_OBJECT,
    )),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): _crd("kafka.strimzi.io/v1beta2", "KafkaTopic", _obj(
        ["partitions", "replicas"],
        topicName=_STR,
        partitions={"type": "integer", "minimum": 1},
        replicas={"type": "integer", "minimum": 1, "maximum": 32767},
        config=_ANY_OBJECT,
    )),
    ("postgresql.cnpg.io/v1", "Cluster"): _crd("postgresql.cnpg.io/v1", "Cluster", _obj(
        ["instances"],
        instances={"type": "integer", "minimum": 1},
        imageName=_STR,
        primaryUpdateStrategy={"enum": ["unsupervised", "supervised"]},
        enableSuperuserAccess=_BOOL,
        storage=_obj(["size"], size=_STR, storageClass=_STR),
        walStorage=_obj(["size"], size=_STR, storageClass=_STR),
        bootstrap=_obj(initdb=_obj(database=_STR, owner=_STR, secret=_obj(["name"], name=_STR))),
        postgresql=_obj(parameters=_STR_MAP),
        affinity=_obj(enablePodAntiAffinity=_BOOL, topologyKey=_STR,
                      podAntiAffinityType={"enum": ["preferred", "required"]}),
        resources=_RESOURCES,
        monitoring=_ANY_OBJECT,
        backup=_obj(
            ["barmanObjectStore"],
            retentionPolicy={"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
            barmanObjectStore=_obj(
                ["destinationPath"],
                destinationPath=_STR,
                endpointURL=_STR,
                s3Credentials=_obj(
                    accessKeyId=_obj(["name", "key"], name=_STR, key=_STR),
                    secretAccessKey=_obj(["name", "key"], name=_STR, key=_STR),
                ),
                wal=_obj(compression={"enum": ["gzip", "bzip2", "snappy"]}, maxParallel=_INT),
                data=_obj(compression={"enum": ["gzip", "bzip2", "snappy"]}, jobs=_INT),
            ),
        ),
    )),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): _crd("postgresql.cnpg.io/v1", "ScheduledBackup", _obj(
        ["schedule", "cluster"],
        schedule={"type": "string", "pattern": r"^(\S+\s+){5}\S+$"},
        cluster=_obj(["name"], name=_STR),
        backupOwnerReference={"enum": ["none", "self", "cluster"]},
        immediate=_BOOL,
        suspend=_BOOL,
    )),
    ("postgresql.cnpg.io/v1", "Database"): _crd("postgresql.cnpg.io/v1", "Database", _obj(
        ["cluster", "name", "owner"],
        cluster=_obj(["name"], name=_STR),
        name=_STR,
        owner=_STR,
        ensure={"enum": ["present", "absent"]},
        databaseReclaimPolicy={"enum": ["retain", "delete"]},
    )),
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): _crd(
        "mongodbcommunity.mongodb.com/v1", "MongoDBCommunity", _obj(
            ["security", "type", "users", "version"],
            members={"type": "integer", "minimum": 1},
            arbiters=_INT,
            type={"enum": ["ReplicaSet"]},
            version=_STR,
            featureCompatibilityVersion=_STR,
            security=_obj(
                authentication=_obj(["modes"], modes={
                    "type": "array", "items": {"enum": ["SCRAM", "SCRAM-SHA-256", "SCRAM-SHA-1", "X509"]}},
                    ignoreUnknownUsers=_BOOL),
                tls=_ANY_OBJECT,
            ),
            users={"type": "array", "minItems": 1, "items": _obj(
                ["name", "passwordSecretRef", "roles", "scramCredentialsSecretName"],
                name=_STR,
                db=_STR,
                passwordSecretRef=_obj(["name"], name=_STR, key=_STR),
                roles={"type": "array", "items": _obj(["db", "name"], db=_STR, name=_STR)},
                scramCredentialsSecretName=_NAME,
                connectionStringSecretName=_NAME,
                connectionStringSecretNamespace=_STR,
                additionalConnectionStringConfig=_ANY_OBJECT,
            )},
            additionalMongodConfig=_ANY_OBJECT,
            statefulSet=_obj(["spec"], spec=_ANY_OBJECT, metadata=_ANY_OBJECT),
        )),
    ("keda.sh/v1alpha1", "ScaledObject"): _crd("keda.sh/v1alpha1", "ScaledObject", _obj(
        ["scaleTargetRef", "triggers"],
        scaleTargetRef=_obj(["name"], name=_STR, kind=_STR, apiVersion=_STR, envSourceContainerName=_STR),
        minReplicaCount={"type": "integer", "minimum": 0},
        maxReplicaCount={"type": "integer", "minimum": 1},
        idleReplicaCount=_INT,
        pollingInterval=_INT,
        cooldownPeriod=_INT,
        advanced=_obj(horizontalPodAutoscalerConfig=_obj(name=_STR, behavior=_ANY_OBJECT),
                      restoreToOriginalReplicaCount=_BOOL, scalingModifiers=_ANY_OBJECT),
        fallback=_ANY_OBJECT,
        triggers={"type": "array", "minItems": 1, "items": _obj(
            ["type", "metadata"],
            type=_STR,
            name=_STR,
            # KEDA trigger metadata is a map of strings.
            metadata=_STR_MAP,
            authenticationRef=_obj(["name"], name=_STR, kind=_STR),
            metricType={"enum": ["AverageValue", "Value", "Utilization"]},
        )},
    )),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _crd("monitoring.coreos.com/v1", "ServiceMonitor", _obj(
        ["selector", "endpoints"],
        selector=_LABEL_SELECTOR,
        namespaceSelector=_ANY_OBJECT,
        jobLabel=_STR,
        endpoints={"type": "array", "minItems": 1, "items": _obj(
            ["port"], port=_STR, path=_STR, interval=_STR, scrapeTimeout=_STR, scheme={"enum": ["http", "https"]},
            relabelings={"type": "array"}, metricRelabelings={"type": "array"})},
    )),
}
CRD_GROUPS = {api_version.split("/")[0] for api_version, _ in CRD_SCHEMAS}


# =========================================================================== builds


@cache
def render(name: str) -> tuple[Obj, ...]:
    """The built objects of a named kustomization (cached: builds are pure).

    ``base+<component>`` is the base with that one component, as an overlay would write it:
    each component must work on its own."""
    if name == "base":
        return tuple(build(BASE))
    if name == "production":
        return tuple(build(PRODUCTION))
    component = name.removeprefix("base+")
    return tuple(build_inline({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": ["base"],
        "components": [f"components/{component}"],
    }, K8S))


ALL_BUILDS = ("base", "production", *(f"base+{c}" for c in sorted(EXPECTED_COMPONENTS)))


def of_kind(objects: tuple[Obj, ...], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: tuple[Obj, ...], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def deployments(objects: tuple[Obj, ...]) -> dict[str, Obj]:
    return {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}


def pod_spec(deployment: Obj) -> Obj:
    return deployment["spec"]["template"]["spec"]


def template_labels(deployment: Obj) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"].get("labels", {})


def the_container(deployment: Obj) -> Obj:
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']}: one container expected"
    return containers[0]


def env_of(container: Obj) -> dict[str, Obj]:
    entries = container.get("env", [])
    names = [e["name"] for e in entries]
    duplicates = [n for n, count in Counter(names).items() if count > 1]
    assert not duplicates, f"{container['name']}: duplicate env {duplicates}"
    return {e["name"]: e for e in entries}


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels + matchExpressions)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def map_selector_matches(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(container: Obj, port: int | str) -> int:
    for p in container.get("ports", []):
        if port in (p.get("name"), p["containerPort"]):
            return p["containerPort"]
    raise AssertionError(f"{container['name']}: no container port {port!r}")


_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEM = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEM_FACTOR = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
               "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def cpu(quantity: str | int) -> Fraction:
    match = _CPU.match(str(quantity))
    assert match, f"bad cpu quantity {quantity!r}"
    value = Fraction(match[1])
    return value / 1000 if match[2] else value


def memory(quantity: str | int) -> Fraction:
    match = _MEM.match(str(quantity))
    assert match, f"bad memory quantity {quantity!r}"
    return Fraction(match[1]) * _MEM_FACTOR[match[2]]


def configmap_value(objects: tuple[Obj, ...], ref: Obj) -> str:
    configmap = named(objects, "ConfigMap", ref["name"])
    assert ref["key"] in configmap.get("data", {}), f"ConfigMap {ref['name']} has no key {ref['key']}"
    return configmap["data"][ref["key"]]


def env_value(objects: tuple[Obj, ...], entry: Obj) -> str:
    if "value" in entry:
        return entry["value"]
    return configmap_value(objects, entry["valueFrom"]["configMapKeyRef"])


def secret_ref(entry: Obj) -> tuple[str, str]:
    ref = entry.get("valueFrom", {}).get("secretKeyRef")
    assert ref, f"{entry['name']} must come from a Secret"
    return ref["name"], ref["key"]


def kustomization_images(directory: Path) -> dict[str, Obj]:
    data = yaml.safe_load(find_kustomization(directory).read_text())
    return {i["name"]: i for i in data.get("images", [])}


# =========================================================================== structure


@pytest.mark.parametrize("name", ALL_BUILDS)
def test_kustomization_builds(name: str) -> None:
    objects = render(name)
    assert objects
    ids = [object_id(o) for o in objects]
    assert len(ids) == len(set(ids)), "duplicate objects"
    assert len(deployments(objects)) == 2 * len(SERVICES)


def test_components_and_overlay_layout() -> None:
    present = {p.name for p in COMPONENTS.iterdir() if p.is_dir()}
    assert present == EXPECTED_COMPONENTS
    for component in present:
        data = yaml.safe_load(find_kustomization(COMPONENTS / component).read_text())
        assert data["kind"] == "Component", component
        assert data["apiVersion"] == "kustomize.config.k8s.io/v1alpha1", component
    production = yaml.safe_load(find_kustomization(PRODUCTION).read_text())
    enabled = {Path(c).name for c in production["components"]}
    assert enabled == EXPECTED_COMPONENTS, "production enables the operator components and KEDA"
    # Base: one file per service.
    base = yaml.safe_load(find_kustomization(BASE).read_text())
    for service in SERVICES:
        assert f"{service}.yaml" in base["resources"]
        kinds = Counter(d["kind"] for d in yaml.safe_load_all((BASE / f"{service}.yaml").read_text()) if d)
        assert kinds == {"Deployment": 2, "Service": 1, "HorizontalPodAutoscaler": 1,
                         "PodDisruptionBudget": 2}, service


def test_every_manifest_file_is_used() -> None:
    """No YAML under deploy/k8s is left out of some kustomization."""
    referenced: set[Path] = set()
    for kfile in K8S.rglob("kustomization.yaml"):
        data = yaml.safe_load(kfile.read_text())
        for entry in data.get("resources", []):
            referenced.add((kfile.parent / entry).resolve())
        for patch in data.get("patches", []):
            if "path" in patch:
                referenced.add((kfile.parent / patch["path"]).resolve())
    manifests = {p.resolve() for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert manifests - referenced == set()


def test_renderer_refuses_unknown_features(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nreplicas:\n  - name: x\n    count: 2\n")
    with pytest.raises(UnsupportedFeature):
        build(tmp_path)


def test_renderer_patch_semantics(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"tier": "x"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "app", "image": "img", "env": [
                {"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}},
    }))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "namespace": "ns",
        "resources": ["d.yaml"],
        "labels": [{"pairs": {"p": "q"}, "includeTemplates": True}],
        "images": [{"name": "img", "newName": "other", "newTag": "7"}],
        "patches": [
            {"target": {"kind": "Deployment", "labelSelector": "tier=x"}, "patch": yaml.safe_dump({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ignored"},
                "spec": {"replicas": None, "template": {"spec": {"containers": [
                    {"name": "app", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}]}}}})},
            {"target": {"kind": "Deployment", "name": "d"},
             "patch": "- op: add\n  path: /spec/minReadySeconds\n  value: 5\n"},
        ],
    }))
    (d,) = build(tmp_path)
    assert d["metadata"]["namespace"] == "ns"
    assert "replicas" not in d["spec"] and d["spec"]["minReadySeconds"] == 5
    assert d["metadata"]["labels"] == {"tier": "x", "p": "q"}
    assert d["spec"]["template"]["metadata"]["labels"] == {"a": "b", "p": "q"}
    assert d["spec"]["selector"]["matchLabels"] == {"a": "b"}
    container = d["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "other:7"
    assert {e["name"]: e["value"] for e in container["env"]} == {"A": "1", "B": "3", "C": "4"}

    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["d.yaml"], "patches": [{"target": {"kind": "Deployment", "name": "nope"},
                                              "patch": "- op: remove\n  path: /spec/replicas\n"}]}))
    with pytest.raises(KustomizeError):
        build(tmp_path)


# =========================================================================== schemas


@cache
def _schema_error(document: str, version: str) -> str | None:
    """kubernetes-validate's verdict on one object (cached: builds share most objects)."""
    obj = json.loads(document)
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}"
    return None


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", ALL_BUILDS)
def test_builtin_objects_match_kubernetes_schemas(name: str, version: str) -> None:
    errors = [
        error
        for obj in render(name)
        if api_group(obj) not in CRD_GROUPS
        and (error := _schema_error(json.dumps(obj, sort_keys=True), version)) is not None
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", ALL_BUILDS)
def test_operator_resources_have_required_fields(name: str) -> None:
    errors = []
    for obj in render(name):
        if api_group(obj) not in CRD_GROUPS:
            continue
        schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            errors.append(f"unchecked custom resource {obj['apiVersion']} {obj['kind']}")
            continue
        validator = jsonschema.Draft202012Validator(schema)
        for error in validator.iter_errors(obj):
            path = ".".join(str(p) for p in error.absolute_path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", ALL_BUILDS)
def test_namespaces(name: str) -> None:
    objects = render(name)
    assert [n["metadata"]["name"] for n in of_kind(objects, "Namespace")] == [NAMESPACE]
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in CLUSTER_SCOPED:
            assert namespace is None, obj["metadata"]["name"]
        else:
            assert namespace == NAMESPACE, f"{obj['kind']}/{obj['metadata']['name']}"


# =========================================================================== Deployments


@pytest.mark.parametrize("name", ["base", "production"])
def test_deployments_invariants(name: str) -> None:
    objects = render(name)
    deploys = deployments(objects)
    assert set(deploys) == {f"{s}-{r}" for s in SERVICES for r in ROLES}
    image_spec = kustomization_images(PRODUCTION if name == "production" else BASE)[IMAGE]
    expected_name, tag = image_spec.get("newName", IMAGE), str(image_spec["newTag"])
    assert expected_name.rsplit("/", 1)[-1] == IMAGE

    for dname, deploy in deploys.items():
        service, role = dname.rsplit("-", 1)
        labels, tlabels = deploy["metadata"]["labels"], template_labels(deploy)
        for key in APP_LABELS:
            assert key in labels and key in tlabels, f"{dname}: label {key}"
        assert labels["app.kubernetes.io/name"] == tlabels["app.kubernetes.io/name"] == service
        assert labels["app.kubernetes.io/component"] == tlabels["app.kubernetes.io/component"] == role
        assert labels["app.kubernetes.io/part-of"] == "qc-platform"
        assert selector_matches(deploy["spec"]["selector"], tlabels), f"{dname}: selector"
        # The selector tells this Deployment's pods from every other's.
        for other, odeploy in deploys.items():
            if other != dname:
                assert not selector_matches(deploy["spec"]["selector"], template_labels(odeploy))

        spec = pod_spec(deploy)
        pod_security = spec.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, f"{dname}: runAsNonRoot"
        assert pod_security.get("runAsUser", 0) != 0, f"{dname}: runAsUser"
        assert spec.get("automountServiceAccountToken") is False

        container = the_container(deploy)
        port = ROLES[role]
        assert container_port(container, "http") == port

        # Image: the one platform image, pinned to the kustomization's tag.
        image_name, image_tag, _ = split_image(container["image"])
        assert image_name == expected_name and image_tag == tag != "latest", container["image"]

        # Command line: `qcp` (entrypoint) serve <role> --service <service> ... --port <port>.
        args = container["args"]
        assert args[:4] == ["serve", role, "--service", service], args
        assert args[args.index("--port") + 1] == str(port)
        if role == "api":
            assert args[args.index("--host") + 1] == "0.0.0.0"

        # Probes.
        for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
            assert probe in container, f"{dname}: {probe}"
            http = container[probe].get("httpGet")
            assert http, f"{dname}: {probe} must be httpGet"
            assert http["path"] == path
            assert container_port(container, http["port"]) == port

        # Resources.
        resources = container.get("resources", {})
        for kind, parse in (("cpu", cpu), ("memory", memory)):
            request = resources.get("requests", {}).get(kind)
            limit = resources.get("limits", {}).get(kind)
            assert request is not None and limit is not None, f"{dname}: {kind} request+limit"
            assert 0 < parse(request) <= parse(limit), f"{dname}: {kind} request <= limit"

        # Container hardening.
        security = container.get("securityContext", {})
        assert security.get("readOnlyRootFilesystem") is True, f"{dname}: readOnlyRootFilesystem"
        assert security.get("allowPrivilegeEscalation") is False
        assert security.get("privileged") is not True
        assert "ALL" in security.get("capabilities", {}).get("drop", [])
        assert security.get("runAsNonRoot", True) is True
        # A read-only root needs a writable /tmp.
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounts


@pytest.mark.parametrize("name", ["base", "production"])
def test_environment(name: str) -> None:
    objects = render(name)
    mongodb_operator = name == "production"
    for dname, deploy in deployments(objects).items():
        service = dname.rsplit("-", 1)[0]
        env = env_of(the_container(deploy))
        for required in REQUIRED_ENV:
            assert required in env, f"{dname}: {required}"
        for secret in SECRET_ENV:
            if secret in env:
                assert "value" not in env[secret], f"{dname}: {secret} must not be a literal"

        assert env_value(objects, env["QCP_SERVICE"]) == service
        assert env_value(objects, env["QCP_KAFKA_BOOTSTRAP"]) == "qcp-kafka-kafka-bootstrap:9092"
        assert env_value(objects, env["QCP_MONGO_DB"]) == f"qcp_{service}"
        assert env_value(objects, env["QCP_LOG_LEVEL"]) == "INFO"
        assert secret_ref(env["QCP_JWT_SECRET"]) == ("qcp-jwt", "secret")
        expected_mongo_key = "connectionString.standard" if mongodb_operator else "url"
        assert secret_ref(env["QCP_MONGO_URL"]) == ("qcp-mongodb", expected_mongo_key)

        if service in EVENT_STORE_SERVICES:
            assert env_value(objects, env["QCP_EVENT_STORE"]) == "postgres"
            for required in POSTGRES_ENV:
                assert required in env, f"{dname}: {required}"
            assert env_value(objects, env["QCP_POSTGRES_HOST"]) == "qcp-postgres-rw"
            assert env_value(objects, env["QCP_POSTGRES_PORT"]) == "5432"
            assert env_value(objects, env["QCP_POSTGRES_DB"]) == f"qcp_{service}"
            assert secret_ref(env["QCP_POSTGRES_USER"]) == ("qcp-postgres-app", "username")
            assert secret_ref(env["QCP_POSTGRES_PASSWORD"]) == ("qcp-postgres-app", "password")
        else:
            assert env_value(objects, env["QCP_EVENT_STORE"]) == "none"
            assert not set(POSTGRES_ENV) & set(env), f"{dname}: stats has no event store"


# =========================================================================== scaling, disruption


@pytest.mark.parametrize("name", ["base", "production"])
def test_apis_have_service_hpa_and_pdb(name: str) -> None:
    objects = render(name)
    deploys = deployments(objects)
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    pdbs = of_kind(objects, "PodDisruptionBudget")
    services = of_kind(objects, "Service")

    for dname, deploy in deploys.items():
        role = dname.rsplit("-", 1)[1]
        labels = template_labels(deploy)
        # A PodDisruptionBudget for every API and worker: minAvailable 1, except stats' single worker, which
        # must not block node drains (maxUnavailable 1).
        covering = [p for p in pdbs if selector_matches(p["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{dname}: one PDB"
        if dname == "stats-worker":
            assert covering[0]["spec"].get("maxUnavailable") == 1 and deploy["spec"]["replicas"] == 1
        else:
            assert covering[0]["spec"].get("minAvailable") == 1
        for other, odeploy in deploys.items():
            if other != dname:
                assert not selector_matches(covering[0]["spec"]["selector"], template_labels(odeploy))

        targeting = [h for h in hpas if h["spec"]["scaleTargetRef"]["name"] == dname]
        if role != "api":
            assert not targeting, f"{dname}: workers are not CPU-scaled"
            continue
        assert len(targeting) == 1, f"{dname}: one HPA"
        hpa = targeting[0]["spec"]
        assert hpa["scaleTargetRef"]["kind"] == "Deployment"
        assert hpa["scaleTargetRef"]["apiVersion"] == "apps/v1"
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
        assert [m["resource"]["name"] for m in hpa["metrics"] if m["type"] == "Resource"] == ["cpu"]
        assert "replicas" not in deploy["spec"], f"{dname}: the HPA owns the replica count"

        # The ClusterIP Service: port 80 -> the API's port 8000.
        fronting = [s for s in services if map_selector_matches(s["spec"].get("selector"), labels)]
        assert len(fronting) == 1, f"{dname}: one Service"
        service = fronting[0]
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
        (port,) = service["spec"]["ports"]
        assert port["port"] == 80
        assert container_port(the_container(deploy), port["targetPort"]) == 8000
        for other, odeploy in deploys.items():
            if other != dname:
                assert not map_selector_matches(service["spec"]["selector"], template_labels(odeploy))


def test_production_keda_scales_review_workers() -> None:
    objects = render("production")
    (scaled,) = of_kind(objects, "ScaledObject")
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert target["name"] == "review-worker"
    assert target.get("kind", "Deployment") == "Deployment"
    assert target.get("apiVersion", "apps/v1") == "apps/v1"
    review_worker = deployments(objects)["review-worker"]
    assert "replicas" not in review_worker["spec"], "KEDA owns review-worker's replica count"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 8)

    triggers = spec["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    assert {t["metadata"]["consumerGroup"] for t in triggers} == {"review"}
    assert sorted(t["metadata"]["topic"] for t in triggers) == ["registration.events", "submission.events"]
    topics = {t["spec"].get("topicName", t["metadata"]["name"]) for t in of_kind(objects, "KafkaTopic")}
    bootstrap = configmap_value(objects, {"name": "qcp-backends", "key": "kafka-bootstrap"})
    host, port = bootstrap.split(":")
    for trigger in triggers:
        meta = trigger["metadata"]
        assert meta["topic"] in topics
        assert int(meta["lagThreshold"]) > 0
        # KEDA's operator lives in another namespace: the address must be namespace-qualified.
        assert meta["bootstrapServers"] == f"{host}.{NAMESPACE}.svc:{port}"

    # No other autoscaler fights over the review workers (nor over anything else).
    hpa_targets = [h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")]
    assert "review-worker" not in hpa_targets
    assert len(hpa_targets) == len(set(hpa_targets))


def test_keda_is_optional() -> None:
    assert not of_kind(render("base"), "ScaledObject")
    assert len(of_kind(render("base+keda-review-workers"), "ScaledObject")) == 1


# =========================================================================== backing services


def test_kafka_kraft_cluster_and_topics() -> None:
    objects = render("production")
    (kafka,) = of_kind(objects, "Kafka")
    cluster = kafka["metadata"]["name"]
    assert cluster == "qcp-kafka"
    annotations = kafka["metadata"].get("annotations", {})
    assert annotations.get("strimzi.io/kraft") == "enabled"
    assert annotations.get("strimzi.io/node-pools") == "enabled"
    assert "zookeeper" not in kafka["spec"]
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False

    pools = [p for p in of_kind(objects, "KafkaNodePool") if p["metadata"]["labels"]["strimzi.io/cluster"] == cluster]
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}, "KRaft: controllers and brokers from node pools"
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    assert controllers % 2 == 1, "an odd number of KRaft controllers"

    # QCP_KAFKA_BOOTSTRAP points at this cluster's plain listener.
    bootstrap = configmap_value(objects, {"name": "qcp-backends", "key": "kafka-bootstrap"})
    listeners = {listener["port"]: listener for listener in kafka["spec"]["kafka"]["listeners"]}
    host, port = bootstrap.split(":")
    assert host == f"{cluster}-kafka-bootstrap"
    assert int(port) in listeners and listeners[int(port)]["tls"] is False

    topics = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in of_kind(objects, "KafkaTopic")}
    assert set(topics) == set(EVENT_TOPICS) | set(DLQ_TOPICS)
    for name, topic in topics.items():
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster, name
        assert spec["config"]["retention.ms"] == -1, f"{name}: infinite retention"
        assert spec["replicas"] <= brokers
        assert int(spec["config"]["min.insync.replicas"]) < spec["replicas"]
        if name in EVENT_TOPICS:
            assert spec["partitions"] == 6, name


def test_the_event_stores_are_backed_up_with_wal_archiving_and_a_nightly_base_backup() -> None:
    objects = render("production")
    (cluster,) = of_kind(objects, "Cluster")
    store = cluster["spec"]["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://") and store["wal"]["compression"] == "gzip"
    assert cluster["spec"]["backup"]["retentionPolicy"] == "30d"
    (scheduled,) = of_kind(objects, "ScheduledBackup")
    assert scheduled["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    assert scheduled["spec"]["schedule"] == "0 0 2 * * *"


def test_postgres_cluster_matches_the_services() -> None:
    objects = render("production")
    (cluster,) = of_kind(objects, "Cluster")
    name = cluster["metadata"]["name"]
    assert name == "qcp-postgres" and cluster["spec"]["instances"] == 3
    owner = cluster["spec"]["bootstrap"]["initdb"]["owner"]
    assert configmap_value(objects, {"name": "qcp-backends", "key": "postgres-host"}) == f"{name}-rw"

    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(objects, "Database")}
    for dname, deploy in deployments(objects).items():
        env = env_of(the_container(deploy))
        if "QCP_POSTGRES_DB" not in env:
            continue
        # CloudNativePG names the owner's Secret <cluster>-app.
        assert secret_ref(env["QCP_POSTGRES_USER"])[0] == f"{name}-{owner}" == f"{name}-app"
        database = env_value(objects, env["QCP_POSTGRES_DB"])
        assert database in databases, f"{dname}: no Database {database}"
        assert databases[database]["cluster"]["name"] == name
        assert databases[database]["owner"] == owner
    assert set(databases) == {f"qcp_{s}" for s in EVENT_STORE_SERVICES}


def test_mongodb_matches_the_services() -> None:
    objects = render("production")
    (mongo,) = of_kind(objects, "MongoDBCommunity")
    assert mongo["metadata"]["name"] == "qcp-mongodb" and mongo["spec"]["members"] == 3
    (user,) = mongo["spec"]["users"]
    granted = {r["db"] for r in user["roles"] if r["name"] in ("readWrite", "dbOwner")}
    for dname, deploy in deployments(objects).items():
        env = env_of(the_container(deploy))
        assert secret_ref(env["QCP_MONGO_URL"]) == (user["connectionStringSecretName"], "connectionString.standard")
        assert env_value(objects, env["QCP_MONGO_DB"]) in granted, dname
    # The pods run as the ServiceAccount the operator expects, bound to its Role.
    named(objects, "ServiceAccount", "mongodb-database")
    binding = named(objects, "RoleBinding", "mongodb-database")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mongodb-database", "namespace": NAMESPACE}]
    named(objects, "Role", binding["roleRef"]["name"])


# =========================================================================== network policies


def _policies(objects: tuple[Obj, ...]) -> list[Obj]:
    return of_kind(objects, "NetworkPolicy")


def _ports(rule: Obj) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])}


def _ingress_allows(objects: tuple[Obj, ...], pod_labels: dict[str, str], peer: Obj, port: int) -> bool:
    """Whether some policy lets `peer` ({"namespace": labels} or {"pod": labels}) reach the pod."""
    for policy in _policies(objects):
        spec = policy["spec"]
        if "Ingress" not in spec.get("policyTypes", []) or not selector_matches(spec["podSelector"], pod_labels):
            continue
        for rule in spec.get("ingress", []):
            if rule.get("ports") and ("TCP", port) not in _ports(rule):
                continue
            for source in rule.get("from", []):
                if "namespace" in peer and "namespaceSelector" in source and "podSelector" not in source:
                    if selector_matches(source["namespaceSelector"], peer["namespace"]):
                        return True
                if "pod" in peer and "podSelector" in source and "namespaceSelector" not in source:
                    if selector_matches(source["podSelector"], peer["pod"]):
                        return True
    return False


@pytest.mark.parametrize("name", ["base", "production"])
def test_network_policies(name: str) -> None:
    objects = render(name)
    policies = _policies(objects)
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and p["spec"].get("policyTypes") == ["Ingress"]
            and not p["spec"].get("ingress")]
    assert deny, "a default deny-ingress policy for the namespace"

    ingress_ns = {"kubernetes.io/metadata.name": "ingress-nginx", "qc-platform/ingress": "true"}
    monitoring_ns = {"kubernetes.io/metadata.name": "monitoring"}
    other_ns = {"kubernetes.io/metadata.name": "somewhere-else"}
    for dname, deploy in deployments(objects).items():
        labels = template_labels(deploy)
        port = container_port(the_container(deploy), "http")
        role = dname.rsplit("-", 1)[1]
        assert _ingress_allows(objects, labels, {"namespace": monitoring_ns}, port), f"{dname}: metrics"
        assert _ingress_allows(objects, labels, {"namespace": ingress_ns}, port) == (role == "api"), dname
        assert not _ingress_allows(objects, labels, {"namespace": other_ns}, port), dname

    # Egress of every app pod: DNS, Kafka, PostgreSQL, MongoDB.
    needed = {("UDP", 53), ("TCP", 53), ("TCP", 9092), ("TCP", 5432), ("TCP", 27017)}
    for dname, deploy in deployments(objects).items():
        allowed: set[tuple[str, int]] = set()
        for policy in policies:
            spec = policy["spec"]
            selected = selector_matches(spec["podSelector"], template_labels(deploy))
            if selected and "Egress" in spec.get("policyTypes", []):
                for rule in spec.get("egress", []):
                    allowed |= _ports(rule)
        assert needed <= allowed, f"{dname}: egress {sorted(needed - allowed)}"


def test_production_databases_accept_the_app_pods() -> None:
    objects = render("production")
    app_pods = [template_labels(d) for d in deployments(objects).values()]
    postgres_pod = {"cnpg.io/cluster": "qcp-postgres"}
    mongo_pod = {"app": "qcp-mongodb-svc"}
    for labels in app_pods:
        assert _ingress_allows(objects, postgres_pod, {"pod": labels}, 5432)
        assert _ingress_allows(objects, mongo_pod, {"pod": labels}, 27017)
    assert _ingress_allows(objects, postgres_pod, {"pod": postgres_pod}, 5432), "replication"
    assert _ingress_allows(objects, mongo_pod, {"pod": mongo_pod}, 27017), "replica set"
    assert not _ingress_allows(objects, postgres_pod, {"pod": {"app": "stranger"}}, 5432)

    # Strimzi writes the listener's policy from networkPolicyPeers: app pods and KEDA.
    (kafka,) = of_kind(objects, "Kafka")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    peers = listener["networkPolicyPeers"]
    for labels in app_pods:
        assert any("podSelector" in p and selector_matches(p["podSelector"], labels) for p in peers)
    assert any(selector_matches(p.get("namespaceSelector"), {"kubernetes.io/metadata.name": "keda"}) for p in peers)


# =========================================================================== monitoring


def test_service_monitor_scrapes_every_deployment() -> None:
    objects = render("production")
    (monitor,) = of_kind(objects, "ServiceMonitor")
    selected = [s for s in of_kind(objects, "Service")
                if selector_matches(monitor["spec"]["selector"], s["metadata"].get("labels", {}))]
    endpoint_ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    assert {e.get("path", "/metrics") for e in monitor["spec"]["endpoints"]} == {"/metrics"}
    scraped = set()
    for dname, deploy in deployments(objects).items():
        for service in selected:
            if map_selector_matches(service["spec"]["selector"], template_labels(deploy)):
                for port in service["spec"]["ports"]:
                    if port["name"] in endpoint_ports:
                        role = dname.rsplit("-", 1)[1]
                        assert container_port(the_container(deploy), port["targetPort"]) == ROLES[role]
                        scraped.add(dname)
    assert scraped == set(deployments(objects))


# =========================================================================== image, hygiene


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in lines
    stages = [line for line in lines if line.startswith("FROM ")]
    assert stages and all(line.split()[1] == "${PYTHON_IMAGE}" for line in stages)
    assert re.search(r'/opt/uv/bin/pip install "uv==[0-9.]+"', text)
    assert "COPY pyproject.toml uv.lock ./" in lines

    pyproject = (REPO / "pyproject.toml").read_text()
    packages = re.search(r"^packages\s*=\s*\[(.*?)\]", pyproject, re.M | re.S)
    assert packages, "pyproject.toml lists the wheel packages"
    for package in re.findall(r'"([^"]+)"', packages[1]):
        assert f"COPY {package} ./{package}" in lines, package
        assert f"!{package}/" in (DEPLOY / "Dockerfile.dockerignore").read_text(), package

    syncs = [line for line in lines if line.startswith("RUN ") and " uv sync " in line]
    assert syncs and all("--frozen" in line and "--no-dev" in line for line in syncs)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    run_as = {pod_spec(d)["securityContext"]["runAsUser"] for d in deployments(render("production")).values()}
    assert run_as == {int(users[-1].split(":")[0])}, "image user == Deployments' runAsUser"
    entrypoint = [line for line in lines if line.startswith("ENTRYPOINT")]
    assert entrypoint and json.loads(entrypoint[-1].removeprefix("ENTRYPOINT").strip()) == ["qcp"]


def test_no_local_paths_or_unpinned_images() -> None:
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            assert str(REPO) not in path.read_text(), f"{path.name} holds a local path"
    for name in ALL_BUILDS:
        for deploy in deployments(render(name)).values():
            for container in pod_spec(deploy)["containers"]:
                image, tag, digest = split_image(container["image"])
                assert image.rsplit("/", 1)[-1] == IMAGE
                assert (tag and tag != "latest") or digest, f"{container['image']}: pin a tag or digest"
