"""Prometheus, its alert rules and Grafana in docker-compose agree with what the services export.

No Docker here: the compose file, the Prometheus configuration, the rules and the dashboards are
parsed and held against the code — every metric a rule or a dashboard names is one the services
register (and /metrics answers it after some traffic), every scrape target is a compose service
on the port it serves, every dashboard reads the provisioned datasource.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.enrollment.entrypoints.api.app import create_app as enrollment_app
from services.enrollment.settings import Settings as EnrollmentSettings
from services.settlement.entrypoints.api.app import create_app as settlement_app
from services.settlement.settings import Settings as SettlementSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
PROMETHEUS = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
RULE_FILES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = yaml.safe_load(
    (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
)
BUILTIN = {"up"}  # what Prometheus records about every scrape itself
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, labels and keywords left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    grouping = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
    expr = re.sub(grouping, "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        if expr[match.end() :].lstrip().startswith("(") or match[0] in KEYWORDS:
            continue  # a function or an aggregation
        names.add(match[0])
    return names


def rules() -> list[dict]:
    return [
        rule
        for f in RULE_FILES
        for g in yaml.safe_load(f.read_text())["groups"]
        for rule in g["rules"]
    ]


def dashboard_exprs() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            found += [(f"{path.name}: {panel['title']}", t["expr"]) for t in panel["targets"]]
    return found


def exported() -> set[str]:
    """Every sample name the services' registered metrics write on /metrics."""
    enrollment_app(EnrollmentSettings())  # every module that defines a metric is imported
    settlement_app(SettlementSettings())
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
    }
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return names


def test_the_parser_finds_metric_names_and_only_them():
    expr = 'sum by (fund) (increase(x_total{entry="a b"}[1h])) / on() month(vector(time() + 8))'
    assert metric_names(expr) == {"x_total"}
    assert metric_names("up == 0 and max(g) > 1 unless h") == {"up", "g", "h"}


def test_every_metric_a_rule_or_a_dashboard_names_is_one_the_services_export():
    known = exported() | BUILTIN
    assert {"enrollment_tax_messages_total", "settlement_consumer_lag"} <= known
    named = [(f"rule {r['alert']}", r["expr"]) for r in rules()] + dashboard_exprs()
    assert len(named) > 10
    unknown = {f"{where}: {name}" for where, expr in named for name in metric_names(expr) - known}
    assert unknown == set()
    for where, expr in named:
        assert metric_names(expr), f"{where} reads no metric"


async def test_both_services_answer_their_http_counters_on_metrics_after_traffic(tmp_path):
    enrollment = EnrollmentSettings(
        enrollment_database_url=f"sqlite:///{tmp_path / 'e.db'}", payment_consumer_enabled=False
    )
    settlement = SettlementSettings(SETTLEMENT_DATABASE_URL=f"sqlite:///{tmp_path / 's.db'}")
    for prefix, app in (
        ("enrollment", enrollment_app(enrollment, run_relay=False)),
        ("settlement", settlement_app(settlement)),
    ):
        transport = httpx.ASGITransport(app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
        ):
            assert (await http.get("/console")).status_code == 401  # no session
            assert (await http.get("/no/such/page")).status_code == 404
            text = (await http.get("/metrics")).text
        samples = {
            (s.name, s.labels.get("route"), s.labels.get("status"))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        counter = f"{prefix}_http_requests_total"
        assert {(counter, "/console", "401"), (counter, "unmatched", "404")} <= samples
        ours = {name for name, _, _ in samples if name.startswith(prefix)}
        assert ours <= exported()


def test_the_alerts_the_issue_asks_for_are_there_with_a_severity_and_a_summary():
    by_name = {rule["alert"]: rule for rule in rules()}
    wanted = {
        "SettlementConsumerLagging": "settlement_consumer_lag",
        "EnrollmentRelayLagging": "enrollment_relay_lag_seconds",
        "SettlementDeadLettersGrowing": "settlement_consumer_events_total",
        "EnrollmentServerErrors": "enrollment_http_requests_total",
        "SettlementServerErrors": "settlement_http_requests_total",
        "NoPaymentAppliedInCollectionSeason": "enrollment_tax_messages_total",
    }
    for alert, metric in wanted.items():
        assert metric in metric_names(by_name[alert]["expr"]), alert
    for rule in by_name.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_prometheus_scrapes_each_service_on_the_port_it_serves_and_loads_the_rules():
    prometheus = COMPOSE["prometheus"]
    mounts = dict(
        v.rsplit(":", 1)[0].split(":", 1) for v in prometheus["volumes"] if v.startswith("./")
    )
    assert (ROOT / mounts["./deploy/prometheus/prometheus.yml"].lstrip("./")).is_file() is False
    assert mounts["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert mounts["./deploy/prometheus/rules"] == "/etc/prometheus/rules"
    assert PROMETHEUS["rule_files"] == ["/etc/prometheus/rules/*.yml"] and RULE_FILES
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    for service, port in (("enrollment", 8001), ("settlement", 8002)):
        assert jobs[service]["static_configs"][0]["targets"] == [f"{service}:{port}"]
        assert COMPOSE[service]["ports"] == [f"{port}:{port}"]
    consumer = jobs["settlement-consumer"]["dns_sd_configs"][0]
    command = COMPOSE["settlement-consumer"]["command"]
    assert consumer["names"] == ["settlement-consumer"]
    assert str(consumer["port"]) == command[command.index("--metrics-port") + 1]
    assert set(prometheus["depends_on"]) == {"enrollment", "settlement", "settlement-consumer"}


def test_the_settlement_workers_share_one_metrics_directory_that_starts_empty():
    for service in ("settlement", "settlement-consumer"):
        folder = COMPOSE[service]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert COMPOSE[service]["tmpfs"] == [folder]  # a fresh directory on every start


def test_grafana_provisions_the_datasource_and_the_dashboards_kept_here():
    grafana = COMPOSE["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"] if v.startswith("./")}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./deploy/grafana/dashboards"] == "/var/lib/grafana/dashboards"
    providers = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml").read_text()
    )["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"
    (source,) = DATASOURCES["datasources"]
    assert source["url"] == "http://prometheus:9090" and COMPOSE["prometheus"]["ports"] == [
        "9090:9090"
    ]
    assert {path.stem for path in DASHBOARDS} == {"enrollment", "settlement"}
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
    assert len(uids) == len(DASHBOARDS)
