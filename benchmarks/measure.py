"""What every benchmark report holds besides its figures: the machine, its load, peak memory, and the self-checks."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from services.stats.adapters.replay import TopicReader

MANIFESTS = Path(__file__).resolve().parent.parent / "deploy" / "k8s" / "base"


def machine() -> dict[str, Any]:
    """What the numbers were measured on: the stack (Kafka, PostgreSQL, FerretDB) runs on the same machine."""
    model = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines() if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    memory = next((line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), None)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(int(memory) / 1024 / 1024, 1) if memory else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "note": "Kafka (single node, KRaft), PostgreSQL and FerretDB 1.x share the machine with what is measured",
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 4)


def distribution(values: list[float]) -> dict[str, Any]:
    """p50/p95/p99/max of seconds, and how many values they were taken from."""
    return {"count": len(values), "p50": percentile(values, 0.50), "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99), "max": percentile(values, 1.0)}


def peak_rss_mib(pid: int) -> float | None:
    """A running process' peak resident set (VmHWM), in MiB; None once it is gone."""
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def own_peak_rss_mib() -> float:
    """This process' peak resident set (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def children_peak_rss_mib() -> float:
    """The largest peak resident set among this process' waited-for children (forked fold processes)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


@cache
def kubernetes_memory_limits() -> dict[str, str]:
    """Deployment name → its container's memory limit, as the base manifests declare it."""
    limits: dict[str, str] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(document, dict) or document.get("kind") != "Deployment":
                continue
            containers = document["spec"]["template"]["spec"].get("containers", [])
            memory = next((item.get("resources", {}).get("limits", {}).get("memory") for item in containers), None)
            if memory:
                limits[document["metadata"]["name"]] = memory
    return limits


def mebibytes(quantity: str) -> float:
    """A Kubernetes memory quantity (512Mi, 1Gi, 500M) in MiB."""
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    for suffix in ("Ki", "Mi", "Gi", "K", "M", "G"):
        if quantity.endswith(suffix):
            return round(float(quantity[: -len(suffix)]) * units[suffix], 1)
    return round(float(quantity) / 2**20, 1)


@dataclass
class Report:
    """One benchmark's JSON report: opened when the benchmark starts (load average then), written once at its end.

    `checks` are what the benchmark verified about what it counted; `fail` raises unless every one held, so a
    benchmark never reports a figure of work that was not done."""

    benchmark: str
    parameters: dict[str, Any] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_at_start: tuple[float, float, float] = field(default_factory=os.getloadavg)
    memory: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    monotonic_start: float = field(default_factory=time.monotonic)

    def process(self, name: str, peak_mib: float | None, deployment: str | None = None) -> None:
        """A process' peak RSS, beside the memory limit of the deployment it stands for (if any)."""
        limit = kubernetes_memory_limits().get(deployment) if deployment else None
        self.memory.append({
            "process": name, "peak_rss_mib": peak_mib, "deployment": deployment, "kubernetes_memory_limit": limit,
            "within_limit": None if limit is None or peak_mib is None else peak_mib <= mebibytes(limit),
        })

    def own_process(self, name: str = "benchmark (this process)", deployment: str | None = None) -> None:
        self.process(name, own_peak_rss_mib(), deployment)

    def check(self, name: str, expected: Any, found: Any) -> None:
        self.checks[name] = {"expected": expected, "found": found, "ok": expected == found}

    def fail_unless_checked(self) -> None:
        failed = {name: item for name, item in self.checks.items() if not item["ok"]}
        if failed:
            raise RuntimeError(f"{self.benchmark}: the benchmark's own checks failed, no figure is valid: {failed}")

    def write(self, output_dir: Path, body: dict[str, Any]) -> Path:
        """reports/bench-<benchmark>-<UTC timestamp>.json, with the checks and whether every one held."""
        report = {
            "benchmark": self.benchmark, "measured_at": self.started_at.isoformat(),
            "seconds": round(time.monotonic() - self.monotonic_start, 1), "machine": machine(),
            "load_average": {"start": self.load_at_start, "end": os.getloadavg()},
            "parameters": self.parameters, **body, "memory": self.memory, "checks": self.checks,
            "checked": bool(self.checks) and all(item["ok"] for item in self.checks.values()),
        }
        return _written(output_dir, self.benchmark, report)


def write_report(output_dir: Path, benchmark: str, body: dict[str, Any]) -> Path:
    """A report of a measurement that carries its own checks (the image's build and smoke test): when, where, what."""
    return _written(output_dir, benchmark, {"benchmark": benchmark, "measured_at": datetime.now(UTC).isoformat(),
                                            "machine": machine(), "load_average": os.getloadavg(), **body})


def _written(output_dir: Path, benchmark: str, report: dict[str, Any]) -> Path:
    """reports/bench-<benchmark>-<UTC timestamp>.json"""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"bench-{benchmark}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    return path


async def messages_on(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """How many messages each topic holds (0 for one that does not exist), from its partitions' offsets."""
    async with TopicReader(bootstrap, topics) as reader:
        ends, begins = await reader.end_offsets(), await reader.begin_offsets()
    counts = dict.fromkeys(topics, 0)
    for partition, end in ends.items():
        counts[partition.topic] += end - begins[partition]
    return counts
