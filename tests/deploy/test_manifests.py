"""Offline checks of the Kubernetes manifests under deploy/ (no cluster; the tools are fetched once).

Every kustomization is built by the real kustomize (``qcp.k8s.kustomize``: kustomize's own Go
library at a pinned version, built once into the qcp cache), then:

* built-in kinds are validated against the Kubernetes OpenAPI schemas shipped with
  ``kubernetes-validate`` (strict: unknown fields fail), for the oldest and newest Kubernetes
  minor we target;
* operator resources (Strimzi, CloudNativePG, MongoDB Community, KEDA, Prometheus Operator) are
  validated against the operators' own CRDs at pinned versions (``qcp.k8s.crds``), strictly too,
  CEL rules included;
* the platform's invariants are asserted: probes, resources, non-root, labels, HPA/PDB per API,
  PDB per worker, environment, topics, the KEDA target, network policies, and that the names
  that tie the pieces together (Secrets, Services, topics, databases) agree.

When Go, Maven or the package registries cannot be reached on first use, the tests fail and say so.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from infra.kafka_access import KafkaAccess, kafka_access
from infra.settings import ServiceSettings
from qcp.k8s import K8sToolError, validation
from qcp.k8s.crds import ensure_crds
from qcp.k8s.kustomize import KustomizeError, build, build_inline, ensure_binary
from qcp.services import definition

# The first run builds kustomize and fetches the CRDs (minutes on a loaded 2-core machine); later runs take seconds.
pytestmark = pytest.mark.timeout(1200)

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
REQUIRED_ENV = ("QCP_SERVICE", "QCP_KAFKA_BOOTSTRAP", "QCP_KAFKA_SECURITY_PROTOCOL", "QCP_KAFKA_SASL_MECHANISM",
                "QCP_KAFKA_USERNAME", "QCP_KAFKA_PASSWORD", "QCP_KAFKA_SSL_CAFILE", "QCP_MONGO_URL", "QCP_MONGO_DB",
                "QCP_EVENT_STORE", "QCP_JWT_SECRET", "QCP_JWT_PREVIOUS_SECRETS", "QCP_JWT_AUDIENCE", "QCP_LOG_LEVEL")
POSTGRES_ENV = ("QCP_POSTGRES_HOST", "QCP_POSTGRES_PORT", "QCP_POSTGRES_DB",
                "QCP_POSTGRES_USER", "QCP_POSTGRES_PASSWORD")
SECRET_ENV = ("QCP_MONGO_URL", "QCP_JWT_SECRET", "QCP_JWT_PREVIOUS_SECRETS", "QCP_POSTGRES_USER",
              "QCP_POSTGRES_PASSWORD", "QCP_KAFKA_PASSWORD")
# Secrets every service's pods read besides their own: the token keys and the brokers' CA.
SHARED_SECRETS = {"qcp-jwt", "qcp-kafka-cluster-ca-cert"}
KAFKA_BOOTSTRAP = "qcp-kafka-kafka-bootstrap:9093"


def own_secrets(service: str) -> set[str]:
    """The Secrets holding one service's own credentials: its Kafka user, MongoDB user, PostgreSQL role."""
    return {f"qcp-kafka-{service}", f"qcp-mongodb-{service}"} | (
        {f"qcp-postgres-{service}"} if service in EVENT_STORE_SERVICES else set())


@cache
def service_kafka_access(service: str) -> KafkaAccess:
    """The topics and groups a service's code uses (what its Kafka user's ACLs must name, and no more)."""
    return kafka_access(definition(service), ServiceSettings(service=service))

# Oldest Kubernetes minor we support, and the newest one kubernetes-validate knows.
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
IMAGE_RE = re.compile(r"^(?P<name>[^@]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>.+))?$")

Obj = dict[str, Any]


def find_kustomization(directory: Path) -> Path:
    found = [directory / name for name in KUSTOMIZATION_FILES if (directory / name).is_file()]
    assert found, f"no kustomization file in {directory}"
    return found[0]


def object_id(obj: Obj) -> tuple[str, str, str, str]:
    meta = obj.get("metadata", {})
    return validation.api_group(obj), obj["kind"], meta.get("namespace", ""), meta["name"]


def split_image(image: str) -> tuple[str, str | None, str | None]:
    match = IMAGE_RE.match(image)
    assert match, f"cannot parse image {image!r}"
    return match["name"], match["tag"], match["digest"]


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
        "resources": [str(BASE)],
        "components": [str(COMPONENTS / component)],
    }))


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


def test_kustomize_refuses_a_patch_without_target(tmp_path: Path) -> None:
    """A build error surfaces with kustomize's own message (a broken overlay fails, never renders less)."""
    (tmp_path / "d.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "app", "image": "img"}]}}}}))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["d.yaml"], "patches": [{"target": {"kind": "Deployment", "name": "nope"},
                                              "patch": "- op: remove\n  path: /spec/replicas\n"}]}))
    assert build(tmp_path)[0]["metadata"]["name"] == "d", "a patch whose target matches nothing changes nothing"
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["d.yaml"], "patches": [{"target": {"kind": "Deployment", "name": "d"},
                                              "patch": "- op: remove\n  path: /spec/replicas\n"}]}))
    with pytest.raises(KustomizeError, match="replicas"):
        build(tmp_path)


def test_without_the_module_proxy_the_first_build_fails_and_says_why(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that cannot reach the Go module proxy gets a failure naming it, not a skipped check."""
    monkeypatch.setenv("GOPROXY", "off")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "gomod"))
    with pytest.raises(K8sToolError, match=r"could not build kustomize v[\d.]+ .*Go module proxy"):
        ensure_binary(tmp_path / "cache", echo=lambda _: None)
    with pytest.raises(K8sToolError, match=r"could not download github\.com/\S+ through the Go module proxy"):
        ensure_crds(tmp_path / "cache", echo=lambda _: None)


# =========================================================================== schemas


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", ALL_BUILDS)
def test_builtin_objects_match_kubernetes_schemas(name: str, version: str) -> None:
    errors = [error for obj in render(name) if not validation.is_custom(obj)
              for error in validation.builtin_errors(obj, version)]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", ALL_BUILDS)
def test_operator_resources_match_their_crds(name: str) -> None:
    errors = [error for obj in render(name) if validation.is_custom(obj)
              for error in validation.custom_resource_errors(obj)]
    assert not errors, "\n".join(errors)


def test_crd_validation_is_strict() -> None:
    """A misspelt field, a wrong type and an unknown metadata field in a custom resource all fail."""
    kafka = named(render("production"), "Kafka", "qcp-kafka")
    broken = {**kafka, "metadata": {**kafka["metadata"], "lables": {}},
              "spec": {**kafka["spec"], "kafka": {**kafka["spec"]["kafka"], "listners": [],
                                                  "listeners": [{**kafka["spec"]["kafka"]["listeners"][0],
                                                                 "tls": "yes"}]}}}
    errors = "\n".join(validation.custom_resource_errors(broken))
    assert "'listners' was unexpected" in errors
    assert "spec.kafka.listeners.0.tls: 'yes' is not of type 'boolean'" in errors
    assert "metadata: Additional properties are not allowed ('lables' was unexpected)" in errors


def test_crd_cel_rules_are_evaluated() -> None:
    """The CRD's own CEL rules apply: CloudNativePG refuses an image name beside an image catalog."""
    cluster = named(render("production"), "Cluster", "qcp-postgres")
    assert validation.custom_resource_errors(cluster) == []
    catalog = {"apiGroup": "postgresql.cnpg.io", "kind": "Deployment", "name": "catalog", "major": 17}
    broken = {**cluster, "spec": {**cluster["spec"], "imageName": "postgres:17", "imageCatalogRef": catalog}}
    errors = validation.custom_resource_errors(broken)
    assert "Cluster/qcp-postgres: spec: imageName and imageCatalogRef are mutually exclusive" in errors
    assert "Cluster/qcp-postgres: spec.imageCatalogRef: Only image catalogs are supported" in errors


@pytest.mark.parametrize("name", ALL_BUILDS)
def test_namespaces(name: str) -> None:
    objects = render(name)
    assert [n["metadata"]["name"] for n in of_kind(objects, "Namespace")] == [NAMESPACE]
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if not validation.is_namespaced(obj):
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
    for dname, deploy in deployments(objects).items():
        service = dname.rsplit("-", 1)[0]
        container = the_container(deploy)
        env = env_of(container)
        for required in REQUIRED_ENV:
            assert required in env, f"{dname}: {required}"
        for secret in SECRET_ENV:
            if secret in env:
                assert "value" not in env[secret], f"{dname}: {secret} must not be a literal"
        assert "QCP_DEVELOPMENT_MODE" not in env, f"{dname}: development mode is never deployed"

        assert env_value(objects, env["QCP_SERVICE"]) == service
        assert env_value(objects, env["QCP_MONGO_DB"]) == f"qcp_{service}"
        assert env_value(objects, env["QCP_LOG_LEVEL"]) == "INFO"
        assert secret_ref(env["QCP_MONGO_URL"]) == (f"qcp-mongodb-{service}", "connectionString.standard")

        # Kafka: the service's own SCRAM user over TLS, verified by the cluster CA mounted from its Secret.
        assert env_value(objects, env["QCP_KAFKA_BOOTSTRAP"]) == KAFKA_BOOTSTRAP
        assert env_value(objects, env["QCP_KAFKA_SECURITY_PROTOCOL"]) == "SASL_SSL"
        assert env_value(objects, env["QCP_KAFKA_SASL_MECHANISM"]) == "SCRAM-SHA-512"
        assert env_value(objects, env["QCP_KAFKA_USERNAME"]) == f"qcp-kafka-{service}"
        assert secret_ref(env["QCP_KAFKA_PASSWORD"]) == (f"qcp-kafka-{service}", "password")
        cafile = Path(env_value(objects, env["QCP_KAFKA_SSL_CAFILE"]))
        mount = next(m for m in container["volumeMounts"] if cafile.parent == Path(m["mountPath"]))
        assert mount.get("readOnly") is True
        volume = next(v for v in pod_spec(deploy)["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == "qcp-kafka-cluster-ca-cert"
        assert {"key": "ca.crt", "path": cafile.name} in volume["secret"]["items"]

        # Tokens: the signing key, the keys being retired (optional: absent outside a rollover), the audience.
        assert secret_ref(env["QCP_JWT_SECRET"]) == ("qcp-jwt", "secret")
        assert secret_ref(env["QCP_JWT_PREVIOUS_SECRETS"]) == ("qcp-jwt", "previous")
        assert env["QCP_JWT_PREVIOUS_SECRETS"]["valueFrom"]["secretKeyRef"]["optional"] is True
        assert "optional" not in env["QCP_JWT_SECRET"]["valueFrom"]["secretKeyRef"], "the signing key is required"
        assert env_value(objects, env["QCP_JWT_AUDIENCE"]) == "qc-platform"

        if service in EVENT_STORE_SERVICES:
            assert env_value(objects, env["QCP_EVENT_STORE"]) == "postgres"
            for required in POSTGRES_ENV:
                assert required in env, f"{dname}: {required}"
            assert env_value(objects, env["QCP_POSTGRES_HOST"]) == "qcp-postgres-rw"
            assert env_value(objects, env["QCP_POSTGRES_PORT"]) == "5432"
            assert env_value(objects, env["QCP_POSTGRES_DB"]) == f"qcp_{service}"
            assert secret_ref(env["QCP_POSTGRES_USER"]) == (f"qcp-postgres-{service}", "username")
            assert secret_ref(env["QCP_POSTGRES_PASSWORD"]) == (f"qcp-postgres-{service}", "password")
        else:
            assert env_value(objects, env["QCP_EVENT_STORE"]) == "none"
            assert not set(POSTGRES_ENV) & set(env), f"{dname}: stats has no event store"


def secrets_read_by(deploy: Obj) -> set[str]:
    """Every Secret a Deployment's pods get: env and envFrom references, and Secret volumes."""
    spec = pod_spec(deploy)
    names = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    names |= {s["secret"]["name"] for v in spec.get("volumes", []) if "projected" in v
              for s in v["projected"].get("sources", []) if "secret" in s}
    for container in spec["containers"] + spec.get("initContainers", []):
        names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                  if "secretKeyRef" in e.get("valueFrom", {})}
        names |= {e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e}
    return names


@pytest.mark.parametrize("name", ["base", "production"])
def test_each_service_reads_only_its_own_secrets(name: str) -> None:
    for dname, deploy in deployments(render(name)).items():
        service = dname.rsplit("-", 1)[0]
        assert secrets_read_by(deploy) == own_secrets(service) | SHARED_SECRETS, dname


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
    # KEDA authenticates as its own Kafka user, over TLS, with the cluster CA.
    auth = named(objects, "TriggerAuthentication", "qcp-kafka-keda")
    parameters = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    assert parameters["ca"] == ("qcp-kafka-cluster-ca-cert", "ca.crt")
    assert {"sasl", "username", "password", "tls"} <= set(parameters)
    keda_user = named(objects, "KafkaUser", "qcp-kafka-keda")
    assert keda_user["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"] == {
        "name": parameters["password"][0], "key": parameters["password"][1]}
    for trigger in triggers:
        assert trigger["authenticationRef"] == {"name": "qcp-kafka-keda"}
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

    # QCP_KAFKA_BOOTSTRAP points at this cluster's TLS listener.
    bootstrap = configmap_value(objects, {"name": "qcp-backends", "key": "kafka-bootstrap"})
    listeners = {listener["port"]: listener for listener in kafka["spec"]["kafka"]["listeners"]}
    host, port = bootstrap.split(":")
    assert host == f"{cluster}-kafka-bootstrap"
    assert int(port) in listeners and listeners[int(port)]["tls"] is True

    # Every topic a service uses exists as a KafkaTopic (no service may create one), and no other.
    used = {topic for service in SERVICES for topic in service_kafka_access(service).topics}
    topics = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in of_kind(objects, "KafkaTopic")}
    assert set(topics) == used
    assert set(EVENT_TOPICS) <= used
    for name, topic in topics.items():
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster, name
        assert spec["config"]["retention.ms"] == -1, f"{name}: infinite retention"
        assert spec["replicas"] <= brokers
        assert int(spec["config"]["min.insync.replicas"]) < spec["replicas"]
        if name in EVENT_TOPICS:
            assert spec["partitions"] == 6, name


@pytest.mark.parametrize("name", [b for b in ALL_BUILDS if b in ("production", "base+strimzi-kafka")])
def test_kafka_has_no_unauthenticated_listener_and_authorizes_with_acls(name: str) -> None:
    (kafka,) = of_kind(render(name), "Kafka")
    spec = kafka["spec"]["kafka"]
    assert spec["authorization"]["type"] == "simple"
    assert "superUsers" not in spec["authorization"], "no service is a super user"
    assert "allow.everyone.if.no.acl.found" not in spec.get("config", {})
    for listener in spec["listeners"]:
        assert listener.get("authentication", {}).get("type") == "scram-sha-512", listener["name"]
        assert listener["tls"] is True, f"{listener['name']}: SCRAM over TLS only"


def _acls(user: Obj) -> dict[tuple[str, str], set[str]]:
    """A KafkaUser's allow rules as {(resource type, name): operations}; only literal names."""
    assert user["spec"]["authorization"]["type"] == "simple"
    rules: dict[tuple[str, str], set[str]] = {}
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        assert rule.get("type", "allow") == "allow"
        assert resource.get("patternType", "literal") == "literal", f"{resource}: no prefixes"
        assert resource["type"] in ("topic", "group"), f"{resource}: no cluster or transactional id rights"
        assert "*" not in resource["name"] and rule.get("host", "*") == "*"
        rules.setdefault((resource["type"], resource["name"]), set()).update(rule["operations"])
    return rules


def test_every_service_has_its_kafka_user_with_acls_on_its_own_topics_and_groups_only() -> None:
    objects = render("production")
    users = {u["metadata"]["name"]: u for u in of_kind(objects, "KafkaUser")}
    assert set(users) == {f"qcp-kafka-{s}" for s in SERVICES} | {"qcp-kafka-keda"}
    for service in SERVICES:
        user = users[f"qcp-kafka-{service}"]
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "qcp-kafka"
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        access = service_kafka_access(service)
        expected = {("topic", t): {"Describe"} | ({"Write"} if t in access.writes else set())
                    | ({"Read"} if t in access.reads else set()) for t in access.topics}
        expected |= {("group", g): {"Read"} for g in access.groups}
        assert _acls(user) == expected, service
        # What that means: it writes only its own events and dead letters, joins only its own groups.
        written = {name for (kind, name), ops in expected.items() if kind == "topic" and "Write" in ops}
        assert all(t == f"{service}.events" or (t.startswith(f"{service}.") and t.endswith(".dlq")) for t in written)
        groups = {name for kind, name in expected if kind == "group"}
        assert all(g == service or g.startswith(f"{service}.") for g in groups)
    # The consumer-lag reader of KEDA only describes what it measures.
    keda = _acls(users["qcp-kafka-keda"])
    assert keda == {("topic", "registration.events"): {"Describe"}, ("topic", "submission.events"): {"Describe"},
                    ("group", "review"): {"Describe"}}


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
    assert cluster["spec"]["enableSuperuserAccess"] is False
    assert configmap_value(objects, {"name": "qcp-backends", "key": "postgres-host"}) == f"{name}-rw"

    # One login role per event-sourced service, with its own password Secret and no privilege beyond its database.
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert set(roles) == set(EVENT_STORE_SERVICES)
    for role_name, role in roles.items():
        assert role.get("ensure", "present") == "present" and role["login"] is True
        assert role["passwordSecret"]["name"] == f"qcp-postgres-{role_name}"
        for privilege in ("superuser", "createdb", "createrole", "replication", "bypassrls"):
            assert role.get(privilege, False) is False, f"{role_name}: {privilege}"
        assert not role.get("inRoles"), f"{role_name}: member of no other role"

    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(objects, "Database")}
    assert set(databases) == {f"qcp_{s}" for s in EVENT_STORE_SERVICES}
    for service in EVENT_STORE_SERVICES:
        assert databases[f"qcp_{service}"]["cluster"]["name"] == name
        assert databases[f"qcp_{service}"]["owner"] == service, "each database is owned by its service's role"
    for dname, deploy in deployments(objects).items():
        env = env_of(the_container(deploy))
        if "QCP_POSTGRES_DB" not in env:
            continue
        service = dname.rsplit("-", 1)[0]
        database = env_value(objects, env["QCP_POSTGRES_DB"])
        # The role whose password Secret the Deployment reads owns the database it opens.
        assert roles[databases[database]["owner"]]["passwordSecret"]["name"] == secret_ref(env["QCP_POSTGRES_USER"])[0]
        assert secret_ref(env["QCP_POSTGRES_USER"])[0] == f"qcp-postgres-{service}"


def test_mongodb_has_one_user_per_service_database() -> None:
    objects = render("production")
    (mongo,) = of_kind(objects, "MongoDBCommunity")
    assert mongo["metadata"]["name"] == "qcp-mongodb" and mongo["spec"]["members"] == 3
    users = {u["connectionStringSecretName"]: u for u in mongo["spec"]["users"]}
    assert set(users) == {f"qcp-mongodb-{s}" for s in SERVICES}
    secrets_used = [u["passwordSecretRef"]["name"] for u in users.values()] + [
        u["scramCredentialsSecretName"] for u in users.values()]
    assert len(set(secrets_used)) == len(secrets_used), "no two users share a Secret"
    for service in SERVICES:
        user = users[f"qcp-mongodb-{service}"]
        assert user["roles"] == [{"name": "readWrite", "db": f"qcp_{service}"}], "its own database only"
        assert user["db"] == f"qcp_{service}"
    for dname, deploy in deployments(objects).items():
        env = env_of(the_container(deploy))
        user = users[secret_ref(env["QCP_MONGO_URL"])[0]]
        assert secret_ref(env["QCP_MONGO_URL"])[1] == "connectionString.standard"
        assert [r["db"] for r in user["roles"]] == [env_value(objects, env["QCP_MONGO_DB"])], dname
    # The pods run as the ServiceAccount the operator expects, bound to its Role.
    named(objects, "ServiceAccount", "mongodb-database")
    binding = named(objects, "RoleBinding", "mongodb-database")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mongodb-database", "namespace": NAMESPACE}]
    named(objects, "Role", binding["roleRef"]["name"])


# =========================================================================== RBAC

READING = {"get", "list", "watch", "*"}


def _covers_secrets(rule: Obj) -> bool:
    return bool({"", "*"} & set(rule.get("apiGroups", []))) and bool({"secrets", "*"} & set(rule.get("resources", [])))


@pytest.mark.parametrize("name", ALL_BUILDS)
def test_no_role_reads_every_secret(name: str) -> None:
    objects = render(name)
    for role in of_kind(objects, "Role") + of_kind(objects, "ClusterRole"):
        for rule in role.get("rules", []):
            if not _covers_secrets(rule) or not READING & set(rule["verbs"]):
                continue
            where = f"{role['kind']}/{role['metadata']['name']}"
            assert rule.get("resourceNames"), f"{where}: reads Secrets it does not name"
            assert not {"list", "watch", "*"} & set(rule["verbs"]), f"{where}: list/watch reach every Secret"
            assert not SHARED_SECRETS & set(rule["resourceNames"]), f"{where}: the JWT key or the Kafka CA"
            assert not any(rule_name in own_secrets(s) for s in SERVICES for rule_name in rule["resourceNames"])


@pytest.mark.parametrize("name", ALL_BUILDS)
def test_the_services_service_account_can_read_nothing(name: str) -> None:
    objects = render(name)
    accounts = {pod_spec(d).get("serviceAccountName") for d in deployments(objects).values()}
    assert accounts == {"qcp-app"}
    assert named(objects, "ServiceAccount", "qcp-app")["automountServiceAccountToken"] is False
    for binding in of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding"):
        assert {"kind": "ServiceAccount", "name": "qcp-app", "namespace": NAMESPACE} not in binding["subjects"]
        assert all(s.get("name") != "qcp-app" for s in binding["subjects"])


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

    # Egress of every app pod: DNS, Kafka (TLS listener), PostgreSQL, MongoDB.
    needed = {("UDP", 53), ("TCP", 53), ("TCP", 9093), ("TCP", 5432), ("TCP", 27017)}
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


# =========================================================================== ingress

# Never reachable from outside the cluster: probes and their details, metrics (Prometheus scrapes the pods),
# the API documents, and the platform-wide operations (ops run them from inside the cluster).
OFF_THE_INGRESS = ("/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/ready", "/health",
                   "/operations/republish", "/operations/republish/{job_id}", "/rebuilds", "/rebuilds/{rebuild_id}")


def _routed(paths: list[Obj], request_path: str) -> bool:
    """Kubernetes Ingress matching: Exact is the whole path, Prefix matches whole path elements."""
    for path in paths:
        wanted, kind = path["path"], path["pathType"]
        if kind == "Exact" and request_path == wanted:
            return True
        if kind in ("Prefix", "ImplementationSpecific"):
            prefix = wanted.rstrip("/")
            if prefix == "" or request_path == prefix or request_path.startswith(prefix + "/"):
                return True
    return False


@cache
def api_paths(service: str) -> tuple[str, ...]:
    """The public API paths of a service, from its OpenAPI document (its routes and the shared audit digests)."""
    from fastapi import FastAPI

    from infra.http.audit import build_digest_router, event_store_digests

    app = FastAPI()
    app.include_router(definition(service).build_router())
    if service in EVENT_STORE_SERVICES:
        app.include_router(build_digest_router(event_store_digests))
    return tuple(sorted(path for path in app.openapi()["paths"] if path not in OFF_THE_INGRESS))


@pytest.mark.parametrize("name", ["base", "production"])
def test_the_ingress_routes_only_the_apis(name: str) -> None:
    objects = render(name)
    (ingress,) = of_kind(objects, "Ingress")
    assert ingress["spec"].get("tls"), "TLS at the entrance"
    assert "defaultBackend" not in ingress["spec"], "nothing unrouted falls through to a service"
    hosts = {}
    for rule in ingress["spec"]["rules"]:
        paths = rule["http"]["paths"]
        backends = {p["backend"]["service"]["name"] for p in paths}
        assert len(backends) == 1, f"{rule['host']}: one service per host"
        (backend,) = backends
        hosts[backend.removesuffix("-api")] = paths
        assert all(p["backend"]["service"]["port"] == {"name": "http"} for p in paths)
        assert all(p["path"] not in ("", "/") for p in paths), "no catch-all"
    assert set(hosts) == set(SERVICES)
    for service, paths in hosts.items():
        for hidden in OFF_THE_INGRESS:
            assert not _routed(paths, hidden), f"{service}: {hidden} is routed"
        for path in api_paths(service):
            assert _routed(paths, path), f"{service}: {path} is not routed"
        # A concrete request for each: an id in place of each path parameter.
        for path in api_paths(service):
            assert _routed(paths, re.sub(r"\{[^}]+\}", "x", path)), path


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
