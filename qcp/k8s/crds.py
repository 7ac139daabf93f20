"""The operators' own CustomResourceDefinitions, from their released artifacts at pinned versions.

* CloudNativePG, KEDA, the MongoDB Community Operator and the Prometheus Operator ship their CRDs
  in their Go modules; ``go mod download`` fetches the module (checked against the Go checksum
  database) and the CRD files are copied out of it.
* Strimzi publishes no CRD file to a package registry; its CRDs are generated from the annotated
  model classes of its API jar (``io.strimzi:api`` on Maven Central) by Strimzi's own CRD generator,
  with the arguments Strimzi's build uses. The generator is taken at 0.45.0, the last version
  published on Maven Central; the schema comes from the API jar's classes. Compared with the CRD
  files of Strimzi's 0.48.0 release, the schemas are the same but for the few CEL rules the newer
  generator adds (on ``metricsConfig``) and a ``deprecated: false`` flag.

Everything lands once in ``<cache>/k8s-crds-<hash of the pins>/`` and is read from there after.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from qcp.stack import _proc
from qcp.stack.config import StackConfig
from qcp.stack.errors import StackError

from . import K8sToolError
from .kustomize import GO_ENV, go_binary

Obj = dict[str, Any]


@dataclass(frozen=True)
class GoModuleCrds:
    """The CRD files of one operator's Go module: every YAML file in ``folder``."""

    operator: str
    module: str
    version: str
    folder: str


GO_MODULE_CRDS = (
    GoModuleCrds("cloudnative-pg", "github.com/cloudnative-pg/cloudnative-pg", "v1.27.0", "config/crd/bases"),
    GoModuleCrds("keda", "github.com/kedacore/keda/v2", "v2.17.2", "config/crd/bases"),
    GoModuleCrds("mongodb-community", "github.com/mongodb/mongodb-kubernetes-operator", "v0.13.0",
                 "config/crd/bases"),
    GoModuleCrds("prometheus-operator", "github.com/prometheus-operator/prometheus-operator", "v0.85.0",
                 "example/prometheus-operator-crd"),
)

STRIMZI_VERSION = "0.48.0"
STRIMZI_CRD_GENERATOR_VERSION = "0.45.0"
# As in Strimzi's api/pom.xml: (served versions, model classes). KafkaTopic and KafkaUser still
# serve their older versions; the storage version is v1beta2 for all.
STRIMZI_CRDS = (
    ("v1beta2", ("kafka.Kafka", "nodepool.KafkaNodePool", "rebalance.KafkaRebalance", "connect.KafkaConnect",
                 "connector.KafkaConnector", "mirrormaker2.KafkaMirrorMaker2", "bridge.KafkaBridge")),
    ("v1alpha1,v1beta1,v1beta2", ("topic.KafkaTopic", "user.KafkaUser")),
)
STRIMZI_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>qcp</groupId><artifactId>strimzi-crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>{api}</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>{generator}</version>
    </dependency>
  </dependencies>
</project>
"""


def pins() -> str:
    """The pinned sources, in words (for messages and for the cache folder's name)."""
    return ", ".join([*(f"{m.module}@{m.version}" for m in GO_MODULE_CRDS),
                      f"io.strimzi:api:{STRIMZI_VERSION} (crd-generator {STRIMZI_CRD_GENERATOR_VERSION})"])


def crd_dir(cache_dir: Path | None = None) -> Path:
    cache_dir = cache_dir or StackConfig().cache_dir
    return cache_dir / f"k8s-crds-{hashlib.sha256(pins().encode()).hexdigest()[:12]}"


def ensure_crds(cache_dir: Path | None = None, echo: _proc.Echo = print) -> Path:
    """The folder holding the CRD files, fetching them first if this cache does not hold them yet."""
    cache_dir = cache_dir or StackConfig().cache_dir
    target = crd_dir(cache_dir)
    if (target / "complete").is_file():
        return target
    with _proc.locked(target.with_suffix(".lock"), echo):
        if not (target / "complete").is_file():
            work = target.with_suffix(".tmp")
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            echo(f"k8s: fetching the operators' CRDs ({pins()}) into {target} (first run only)...")
            for source in GO_MODULE_CRDS:
                _copy_go_module_crds(source, work / source.operator)
            _generate_strimzi_crds(work / "strimzi", cache_dir / "maven-repo")
            (work / "complete").write_text(pins() + "\n")
            shutil.rmtree(target, ignore_errors=True)
            work.replace(target)
    return target


def _copy_go_module_crds(source: GoModuleCrds, into: Path) -> None:
    spec = f"{source.module}@{source.version}"
    with tempfile.TemporaryDirectory(prefix="qcp-crds-") as tmp:
        try:
            out = _proc.run([go_binary(), "mod", "download", "-json", spec], cwd=Path(tmp),
                            env={**os.environ, **GO_ENV}, timeout=900, what=f"go mod download {spec}")
        except StackError as exc:
            raise K8sToolError(f"could not download {spec} through the Go module proxy: {exc}") from None
    folder = Path(json.loads(out[out.index("{"):])["Dir"]) / source.folder
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise K8sToolError(f"{spec} holds no CRD file under {source.folder}")
    into.mkdir(parents=True)
    for path in files:
        shutil.copyfile(path, into / path.name)


def _generate_strimzi_crds(into: Path, maven_repo: Path) -> None:
    for tool in ("mvn", "java"):
        if not shutil.which(tool):
            raise K8sToolError(f"`{tool}` is needed once to fetch Strimzi's API jar and generate its CRDs")
    into.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="qcp-strimzi-") as tmp:
        work = Path(tmp)
        (work / "pom.xml").write_text(STRIMZI_POM.format(api=STRIMZI_VERSION, generator=STRIMZI_CRD_GENERATOR_VERSION))
        try:
            _proc.run(["mvn", "-q", "-B", f"-Dmaven.repo.local={maven_repo}", "dependency:build-classpath",
                       f"-Dmdep.outputFile={work / 'cp.txt'}", "-Dmdep.includeScope=compile"],
                      cwd=work, timeout=900, what="mvn dependency:build-classpath")
            classpath = (work / "cp.txt").read_text().strip()
            for versions, classes in STRIMZI_CRDS:
                _proc.run(
                    ["java", "-cp", classpath, "io.strimzi.crdgenerator.CrdGenerator", "--yaml",
                     "--target-kube", "1.16+", "--crd-api-version", "v1", "--api-versions", versions,
                     "--storage-version", "v1beta2",
                     *(f"io.strimzi.api.kafka.model.{cls}={into / (cls.split('.')[-1].lower() + '.yaml')}"
                       for cls in classes)],
                    cwd=work, timeout=600, what="Strimzi CrdGenerator")
        except StackError as exc:
            raise K8sToolError(f"could not generate Strimzi {STRIMZI_VERSION}'s CRDs from Maven Central's "
                               f"artifacts: {exc}") from None


class _CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1 reads a bare ``=`` (an enum value in some CRDs) as the "value" tag: keep it a string."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@cache
def load_crds(cache_dir: Path | None = None) -> tuple[Obj, ...]:
    """Every CustomResourceDefinition fetched (fetching them on first use; parsed once into JSON)."""
    folder = ensure_crds(cache_dir)
    parsed = folder / "crds.json"
    if not parsed.is_file():
        crds = [d for path in sorted(folder.rglob("*.yaml")) for d in yaml.load_all(path.read_text(), _CrdLoader)
                if d and d.get("kind") == "CustomResourceDefinition"]
        tmp = parsed.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(crds))
        tmp.replace(parsed)
    return tuple(json.loads(parsed.read_text()))
