"""The dashboard and the alerts read only metrics the code exports (or kube-state-metrics'), and every alert
has its runbook line (offline: the manifests' files and the code, no Prometheus)."""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from infra.metrics import ServiceMetrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "k8s" / "components" / "prometheus-monitoring"
README = ROOT / "deploy" / "k8s" / "README.md"
CODE = ("infra", "services", "qcp", "contracts")
CONSTRUCTORS = {"Counter": ("_total",), "Gauge": ("",), "Histogram": ("_bucket", "_sum", "_count"),
                "Summary": ("_sum", "_count", "")}

# kube-state-metrics' series the readiness alerts and the KEDA panels read (KEDA's HPA is keda-hpa-<ScaledObject>).
KUBE_STATE_METRICS = {
    "kube_pod_status_ready",
    "kube_deployment_status_replicas_available",
    "kube_deployment_spec_replicas",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "kube_horizontalpodautoscaler_spec_min_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
}

PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "and", "or", "unless",
                   "bool", "inf", "nan"}


def _series_names(name: str, kind: str) -> set[str]:
    base = name.removesuffix("_total") if kind == "Counter" else name
    return {base + suffix for suffix in CONSTRUCTORS[kind]}


@cache
def exported() -> frozenset[str]:
    """Series names the code exports: ServiceMetrics' registry, and any metric constructed anywhere in the code."""
    names: set[str] = set()
    kinds = {"counter": "Counter", "gauge": "Gauge", "histogram": "Histogram", "summary": "Summary"}
    for family in ServiceMetrics("any").registry.collect():
        names |= _series_names(family.name, kinds[family.type])
    for directory in CODE:
        for path in (ROOT / directory).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                        and node.module and node.module.startswith("prometheus_client") for alias in node.names}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CONSTRUCTORS
                        and node.func.id in imported and node.args and isinstance(node.args[0], ast.Constant)
                        and isinstance(node.args[0].value, str)):
                    names |= _series_names(node.args[0].value, node.func.id)
    return frozenset(names)


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions, keywords or labels."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)  # string literals (label values, regexes)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    text = re.sub(r"\boffset\s+\d+[smhdwy]", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_KEYWORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def _documents(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((MONITORING / name).read_text()) if doc]


@cache
def dashboard() -> dict:
    (config_map,) = _documents("grafana-dashboard.yaml")
    assert config_map["kind"] == "ConfigMap" and config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = config_map["data"].values()
    return json.loads(text)


def dashboard_expressions() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard()["panels"] for target in panel.get("targets", [])]


def alert_rules() -> list[dict]:
    (rule,) = _documents("prometheus-rules.yaml")
    assert rule["kind"] == "PrometheusRule"
    return [item for group in rule["spec"]["groups"] for item in group["rules"]]


def test_the_expression_reader_finds_metric_names_and_only_them() -> None:
    expression = ('histogram_quantile(0.95, sum by (service, le) (rate(qcp_http_request_duration_seconds_bucket'
                  '{service=~"a|b", status!="5xx"}[5m]))) / on (service) group_left max(qcp_relay_lag_events offset 10m)'
                  ' > bool 3 and kube_pod_status_ready{condition="false"}')
    assert metric_names(expression) == {"qcp_http_request_duration_seconds_bucket", "qcp_relay_lag_events",
                                        "kube_pod_status_ready"}


def test_the_exported_names_come_from_the_code() -> None:
    assert {"qcp_http_request_duration_seconds_bucket", "qcp_dead_letters_total", "qcp_relay_lag_events",
            "qcp_feed_records_total", "qcp_stats_rebuild_events_read"} <= exported()
    assert "qcp_dead_letters" not in exported() and "qcp_not_a_metric" not in exported()


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_metric_read_is_exported_by_the_code_or_kube_state_metrics(source: str) -> None:
    expressions = dashboard_expressions() if source == "dashboard" else [
        (rule["alert"], rule["expr"]) for rule in alert_rules()]
    assert expressions
    unknown = {f"{where}: {name}" for where, expression in expressions for name in metric_names(expression)
               if name not in exported() | KUBE_STATE_METRICS}
    assert not unknown, sorted(unknown)


def test_the_dashboard_shows_every_metric_the_services_export() -> None:
    read = {name for _, expression in dashboard_expressions() for name in metric_names(expression)}
    families = {family.name for family in ServiceMetrics("any").registry.collect()}
    missing = {family for family in families if not any(name.startswith(family) for name in read)}
    assert not missing, sorted(missing)


def test_the_dashboard_is_well_formed() -> None:
    board = dashboard()
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert board["uid"] == "qc-platform"
    for panel in board["panels"]:
        assert panel["type"] == "row" or panel["targets"], panel["title"]


def test_every_alert_has_a_runbook_line_in_the_readme() -> None:
    readme = README.read_text()
    section = readme.split("\n## Runbook", 1)[1].split("\n## ", 1)[0]
    alerts = [rule["alert"] for rule in alert_rules()]
    assert len(alerts) == len(set(alerts))
    missing = [alert for alert in alerts if f"`{alert}`" not in section]
    assert not missing, missing
    assert "## Image" in readme  # the image section stays beside it


def test_the_alerts_the_operators_asked_for_are_there() -> None:
    alerts = {rule["alert"]: rule for rule in alert_rules()}
    assert alerts["QcpConsumerLagGrowing"]["for"] == "10m"
    assert "qcp_dead_letters_total" in alerts["QcpDeadLetter"]["expr"]
    assert "qcp_relay_stalled_seconds" in alerts["QcpRelayStalled"]["expr"]
    assert "kube_pod_status_ready" in alerts["QcpPodNotReady"]["expr"]
    assert 'outcome="quarantined"' in alerts["QcpFeedQuarantineGrowing"]["expr"]
