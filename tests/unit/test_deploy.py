"""The deploy files: Prometheus rules, Alertmanager, compose, Dockerfile, systemd.

Real tools check what they can: ``promtool`` (Debian's ``prometheus``), ``amtool`` and
``prometheus-alertmanager`` (Debian's ``prometheus-alertmanager``) and ``systemd-analyze``.
A missing Prometheus or Alertmanager tool fails the test, in CI and locally alike (never a
skip). There is no Docker engine here and the docker client may lack the compose plugin, so
``docker compose config`` runs only where it exists; the structural checks always run.

The Alertmanager config references secret files (``*_file`` options) that exist only in a
deployment: ``amtool check-config`` accepts them missing (Alertmanager reads them when it
notifies), so the committed file is checked as is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from monitor.errors import ConfigError
from monitor.observability.metrics import Metrics
from monitor.observability.source_metrics import SourceMetrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
RULES = PROM / "rules" / "liqmon.yml"
PROM_TESTS = sorted((PROM / "tests").glob("*.yml"))
AM = DEPLOY / "alertmanager"
AM_CONFIG = AM / "alertmanager.yml"
AM_TEMPLATES = AM / "templates" / "liqmon.tmpl"
COMPOSE = DEPLOY / "compose.yaml"
WEBHOOK_PLACEHOLDER = "http://liqmon-webhook:9095/alerts"
TOKEN_PLACEHOLDER = "@@TELEGRAM_BOT_TOKEN@@"  # noqa: S105 - the placeholder, not a token
INSTALL_HINT = "install Debian's prometheus and prometheus-alertmanager (scripts/test does)"
DAEMON_KINDS = {
    "cascade",
    "margin_hike_cascade",
    "contagion",
    "liquidity_stress",
    "threshold",
    "data_gap",
    "deleveraging",
}
RULE_KINDS = DAEMON_KINDS | {"venue_surge", "source", "pipeline"}
ANNOTATIONS = {"summary", "description", "value", "runbook"}


def tool(name: str) -> str:
    """Return the path of a required tool, or fail the test (never skip)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s not found on PATH: %s" % (name, INSTALL_HINT))
    return path


def run(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in load(RULES)["groups"] for r in g["rules"] if "alert" in r]


def recording_rules() -> list[dict[str, Any]]:
    return [r for g in load(RULES)["groups"] for r in g["rules"] if "record" in r]


# --------------------------------------------------------------------------------------
# Prometheus
# --------------------------------------------------------------------------------------


def test_promtool_check_config():
    result = run(tool("promtool"), "check", "config", str(PROM / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    # The rule_files glob found the rules (check config checks them too).
    assert "liqmon.yml" in result.stdout + result.stderr


def test_prometheus_config_scrapes_liqmon_and_alerts():
    config = load(PROM / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    assert config["rule_files"] == ["rules/*.yml"]
    am = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == ["alertmanager:9093"]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "liqmon"]
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {"aggregate:9464", "ingest:9464"}


def test_promtool_check_rules():
    result = run(tool("promtool"), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules():
    result = run(tool("promtool"), "test", "rules", *map(str, PROM_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(PROM_TESTS), result.stdout


def test_promtool_tests_fail_when_a_rule_changes(tmp_path: Path):
    # Arrange: a copy of the rules with the bus-lag threshold moved, tests unchanged.
    (tmp_path / "rules").mkdir()
    shutil.copytree(PROM / "tests", tmp_path / "tests")
    text = RULES.read_text(encoding="utf-8")
    mutated = text.replace("liqmon_bus_consumer_lag_events) > 10000", "lag_events) > 30000")
    mutated = mutated.replace("lag_events) > 30000", "liqmon_bus_consumer_lag_events) > 30000")
    assert mutated != text
    (tmp_path / "rules" / "liqmon.yml").write_text(mutated, encoding="utf-8")
    # Act
    result = run(tool("promtool"), "test", "rules", str(tmp_path / "tests" / "pipeline.yml"))
    # Assert
    assert result.returncode != 0
    assert "LiqmonBusLag" in result.stdout + result.stderr


def test_for_durations_can_be_rewritten_with_one_regex(tmp_path: Path):
    text = RULES.read_text(encoding="utf-8")
    for_lines = re.findall(r"(?m)^\s+for: \S+$", text)
    assert len(for_lines) == len(alert_rules())
    short = re.sub(r"(?m)^(\s+for: )\S+$", r"\g<1>1s", text)
    (tmp_path / "liqmon.yml").write_text(short, encoding="utf-8")
    result = run(tool("promtool"), "check", "rules", str(tmp_path / "liqmon.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_have_labels_and_annotations():
    names = set()
    for rule in alert_rules():
        names.add(rule["alert"])
        labels = rule["labels"]
        assert labels["severity"] in {"warning", "critical"}, rule["alert"]
        assert labels["kind"] in RULE_KINDS, rule["alert"]
        assert not {"team", "owner", "person"} & set(labels), rule["alert"]
        assert set(rule["annotations"]) == ANNOTATIONS, rule["alert"]
        assert "deploy/README.md#runbooks" in rule["annotations"]["runbook"]
        assert "for" in rule, rule["alert"]
    assert names >= {
        "LiqmonCascadeFiring",
        "LiqmonMarginHikeCascade",
        "LiqmonContagion",
        "LiqmonThreshold",
        "LiqmonVenueLiquidationSurge",
        "LiqmonSourceDown",
        "LiqmonSourceStale",
        "LiqmonParseErrors",
        "LiqmonEventsDropped",
        "LiqmonBusLag",
        "LiqmonAlertSinkFailing",
        "LiqmonDown",
    }
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert "| %s |" % name in readme, "%s missing from the deploy/README.md table" % name


def promtool_tests() -> Iterator[dict[str, Any]]:
    for path in PROM_TESTS:
        yield from load(path)["tests"]


def test_every_alert_rule_is_unit_tested_firing_and_silent():
    firing: set[tuple[str, str]] = set()
    silent: set[str] = set()
    for case in promtool_tests():
        for check in case.get("alert_rule_test", []):
            if check.get("exp_alerts"):
                for exp in check["exp_alerts"]:
                    firing.add((check["alertname"], exp["exp_labels"]["severity"]))
                    assert set(exp["exp_annotations"]) == ANNOTATIONS
            else:
                silent.add(check["alertname"])
    for rule in alert_rules():
        assert (rule["alert"], rule["labels"]["severity"]) in firing, rule["alert"]
        assert rule["alert"] in silent, "%s: no test where it stays silent" % rule["alert"]


def test_every_recording_rule_is_unit_tested():
    exprs = " ".join(
        check["expr"] for case in promtool_tests() for check in case.get("promql_expr_test", [])
    )
    for rule in recording_rules():
        assert rule["record"] in exprs, rule["record"]


def test_promtool_group_eval_order_names_every_group():
    groups = [g["name"] for g in load(RULES)["groups"]]
    assert groups[0] == "liqmon.recording"
    for path in PROM_TESTS:
        assert load(path)["group_eval_order"] == groups, path.name


def catalogue() -> set[str]:
    """Every sample name the daemon exposes (counters with ``_total``, histogram parts), and
    histogram names (the family a runbook names)."""
    registry = CollectorRegistry()
    Metrics(registry)
    SourceMetrics(registry).init_stream("okx", "prices", "exact")
    families = list(registry.collect())
    samples = {s.name for family in families for s in family.samples}
    return samples | {f.name for f in families if f.type == "histogram"}


def test_every_metric_in_rules_and_rule_tests_is_in_the_catalogue():
    known = catalogue()
    recorded = {r["record"] for r in recording_rules()}
    for path in [RULES, *PROM_TESTS]:
        text = path.read_text(encoding="utf-8")
        for name in set(re.findall(r"\bliqmon_[a-z0-9_]+", text)):
            assert name in known, "%s: %s is not in monitor/observability/metrics.py" % (
                path.name,
                name,
            )
        for name in set(re.findall(r"\bliqmon:[a-z0-9_:]+", text)):
            assert name in recorded, "%s: %s is not a recording rule" % (path.name, name)


def test_rate_and_increase_only_on_counters():
    text = RULES.read_text(encoding="utf-8")
    calls = re.findall(r"\b(?:rate|increase)\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", text)
    assert calls
    for name in calls:
        assert name.endswith(("_total", "_count", "_sum", "_bucket")), name


def test_catalogue_test_catches_an_unknown_metric():
    known = catalogue()
    assert "liqmon_source_up" in known
    assert "liqmon_events_dropped_total" in known
    assert "liqmon_events_dropped" not in known  # a counter's bare name is not a series


# --------------------------------------------------------------------------------------
# Alertmanager
# --------------------------------------------------------------------------------------


def test_amtool_check_config():
    result = run(tool("amtool"), "check-config", str(AM_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout
    assert "FAILED" not in result.stdout


def test_alertmanager_config_holds_no_secrets():
    text = AM_CONFIG.read_text(encoding="utf-8")
    config = load(AM_CONFIG)
    assert text.count(WEBHOOK_PLACEHOLDER) == 1
    assert config["route"]["receiver"] == "liqmon-webhook"
    (default,) = [r for r in config["receivers"] if r["name"] == "liqmon-webhook"]
    assert set(default) == {"name", "webhook_configs"}
    for receiver in config["receivers"]:
        urls = [w["url"] for w in receiver["webhook_configs"]]
        assert urls == [WEBHOOK_PLACEHOLDER], receiver["name"]
        for telegram in receiver.get("telegram_configs", []):
            assert telegram["bot_token"] == TOKEN_PLACEHOLDER
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack
    assert "smtp_auth_password" not in config["global"]
    assert "slack_api_url" not in config["global"]
    for key, value in config["global"].items():
        if key.endswith("_file"):
            assert value.startswith("/etc/alertmanager/secrets/"), key
    assert "hooks.slack.com" not in text


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ("alertname=LiqmonCascadeFiring severity=critical kind=cascade scope=BTC", "liqmon-page"),
        ("alertname=LiqmonCascadeFiring severity=warning kind=cascade scope=BTC", "liqmon-market"),
        (
            "alertname=LiqmonMarginHikeCascade severity=critical kind=margin_hike_cascade "
            "scope=metal",
            "liqmon-page",
        ),
        ("alertname=LiqmonContagion severity=critical kind=contagion scope=market", "liqmon-page"),
        ("alertname=LiqmonThreshold severity=warning kind=threshold scope=ETH", "liqmon-market"),
        (
            "alertname=LiqmonVenueLiquidationSurge severity=warning kind=venue_surge "
            "exchange=bybit",
            "liqmon-market",
        ),
        ("alertname=LiqmonSourceDown severity=warning kind=source exchange=okx", "liqmon-ops"),
        ("alertname=LiqmonBusLag severity=warning kind=pipeline bus=kafka", "liqmon-ops"),
        ("alertname=LiqmonDown severity=critical kind=pipeline", "liqmon-ops"),
        ("alertname=SomethingElse severity=warning", "liqmon-webhook"),
    ],
)
def test_alertmanager_routes(labels: str, receiver: str):
    result = run(
        tool("amtool"),
        "config",
        "routes",
        "test",
        "--config.file=%s" % AM_CONFIG,
        "--verify.receivers=%s" % receiver,
        *labels.split(),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_critical_market_routes_page_quickly_and_warnings_wait_longer():
    routes = load(AM_CONFIG)["route"]
    assert routes["group_by"] == ["alertname", "scope", "exchange"]
    page, market = routes["routes"][0], routes["routes"][1]
    assert page["receiver"] == "liqmon-page"
    assert page["group_wait"] == "10s"
    assert market["group_wait"] == "1m"


TEMPLATE_DATA = {
    "receiver": "liqmon-page",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "LiqmonCascadeFiring",
                "severity": "critical",
                "kind": "cascade",
                "scope": "BTC",
            },
            "annotations": {
                "summary": "Liquidation cascade on BTC: burst peaked at 6.0x the USD floor",
                "description": "d",
                "value": "6.25",
                "runbook": "deploy/README.md#runbooks: r <b>",
            },
            "startsAt": "2026-02-05T14:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        },
        {
            "status": "resolved",
            "labels": {
                "alertname": "LiqmonSourceDown",
                "severity": "warning",
                "kind": "source",
                "exchange": "okx",
                "stream": "liquidations",
            },
            "annotations": {"summary": "Source down: okx liquidations", "value": "0"},
            "startsAt": "2026-02-05T14:00:00Z",
            "endsAt": "2026-02-05T14:10:00Z",
        },
    ],
    "groupLabels": {"alertname": "LiqmonCascadeFiring", "scope": "BTC"},
    "commonLabels": {
        "alertname": "LiqmonCascadeFiring",
        "severity": "critical",
        "kind": "cascade",
        "scope": "BTC",
    },
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:9093",
}


def render(template: str, data_path: Path) -> str:
    result = run(
        tool("amtool"),
        "template",
        "render",
        "--template.glob=%s" % AM_TEMPLATES,
        "--template.data=%s" % data_path,
        '--template.text={{ template "%s" . }}' % template,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize(
    "template",
    ["liqmon.slack.text", "liqmon.telegram.message", "liqmon.email.text", "liqmon.email.html"],
)
def test_notification_templates_show_kind_scope_severity_summary_value(
    template: str, tmp_path: Path
):
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA), encoding="utf-8")
    text = render(template, data)
    for part in ("cascade", "BTC", "Liquidation cascade on BTC", "6.25", "okx liquidations"):
        assert part in text, (part, text)
    assert "CRITICAL" in text.upper()
    if template == "liqmon.telegram.message":
        assert "&lt;b&gt;" in text  # annotations are escaped for parse_mode HTML


def test_notification_titles(tmp_path: Path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA), encoding="utf-8")
    title = render("liqmon.slack.title", data)
    assert title.strip() == "[FIRING:1] CRITICAL cascade LiqmonCascadeFiring BTC"
    assert render("liqmon.email.subject", data) == title
    for name in re.findall(r'template "([a-z.]+)"', AM_CONFIG.read_text(encoding="utf-8")):
        assert '{{ define "%s"' % name in AM_TEMPLATES.read_text(encoding="utf-8"), name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(url: str, body: object | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - a loopback URL built by the test
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw else None


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """Run deploy/alertmanager/entrypoint.sh with Debian's Alertmanager; yield its base URL."""
    binary = tool("prometheus-alertmanager")
    src = tmp_path / "etc"
    shutil.copytree(AM, src)
    (src / "secrets").mkdir()
    (src / "secrets" / "telegram_bot_token").write_text("123456:test-token\n", encoding="utf-8")
    dead = free_port()  # nothing listens there: deliveries fail fast, inhibition is unaffected
    (src / "secrets" / "webhook_url").write_text("http://127.0.0.1:%d/x\n" % dead, "utf-8")
    port = free_port()
    env = {
        **os.environ,
        "LIQMON_AM_SRC_DIR": str(src),
        "LIQMON_AM_OUT_DIR": str(tmp_path / "rendered"),
        "ALERTMANAGER_BIN": binary,
    }
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen(
        [
            "/bin/sh",
            str(src / "entrypoint.sh"),
            "--web.listen-address=127.0.0.1:%d" % port,
            "--storage.path=%s" % (tmp_path / "data"),
            "--cluster.listen-address=",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(base + "/-/ready", timeout=1).close()  # noqa: S310
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    text = (tmp_path / "alertmanager.log").read_text(encoding="utf-8")
                    pytest.fail("alertmanager did not start: %s" % text[-2000:])
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    rendered = (tmp_path / "rendered" / "alertmanager.yml").read_text(encoding="utf-8")
    assert "123456:test-token" in rendered
    assert "http://127.0.0.1:%d/x" % dead in rendered
    assert WEBHOOK_PLACEHOLDER not in rendered


def alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": severity, **labels}}


def inhibited(base: str, expected: set[str], timeout_s: float = 10) -> set[str]:
    """Poll until the set of inhibited alerts (as ``name/key``) equals `expected`."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = {
            "%s/%s/%s"
            % (
                a["labels"]["alertname"],
                a["labels"]["severity"],
                a["labels"].get("scope") or a["labels"].get("exchange", ""),
            )
            for a in http_json(base + "/api/v2/alerts")
            if a["status"]["inhibitedBy"]
        }
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.mark.integration
def test_alertmanager_inhibitions(alertmanager: str):
    # Arrange / Act: alerts as Prometheus would send them.
    http_json(
        alertmanager + "/api/v2/alerts",
        [
            alert("LiqmonCascadeFiring", "critical", kind="cascade", scope="BTC"),
            alert("LiqmonCascadeFiring", "warning", kind="cascade", scope="BTC"),
            alert("LiqmonCascadeFiring", "warning", kind="cascade", scope="ETH"),
            alert("LiqmonSourceDown", "warning", kind="source", exchange="okx", stream="prices"),
            alert("LiqmonSourceStale", "warning", kind="source", exchange="okx", stream="prices"),
            alert("LiqmonSourceStale", "warning", kind="source", exchange="gate", stream="prices"),
            alert("LiqmonVenueLiquidationSurge", "warning", kind="venue_surge", exchange="okx"),
            alert("LiqmonVenueLiquidationSurge", "warning", kind="venue_surge", exchange="gate"),
            alert("LiqmonVenueLiquidationSurge", "warning", kind="venue_surge", exchange="bybit"),
        ],
    )
    # Assert: the BTC warning, okx's stale stream and the okx and gate surges are muted.
    expected = {
        "LiqmonCascadeFiring/warning/BTC",
        "LiqmonSourceStale/warning/okx",
        "LiqmonVenueLiquidationSurge/warning/okx",
        "LiqmonVenueLiquidationSurge/warning/gate",
    }
    assert inhibited(alertmanager, expected) == expected
    # Act: liqmon itself down mutes everything else.
    http_json(
        alertmanager + "/api/v2/alerts",
        [alert("LiqmonDown", "critical", kind="pipeline", instance="aggregate:9464")],
    )
    everything = {
        "LiqmonCascadeFiring/critical/BTC",
        "LiqmonCascadeFiring/warning/BTC",
        "LiqmonCascadeFiring/warning/ETH",
        "LiqmonSourceDown/warning/okx",
        "LiqmonSourceStale/warning/okx",
        "LiqmonSourceStale/warning/gate",
        "LiqmonVenueLiquidationSurge/warning/okx",
        "LiqmonVenueLiquidationSurge/warning/gate",
        "LiqmonVenueLiquidationSurge/warning/bybit",
    }
    assert inhibited(alertmanager, everything) == everything


# --------------------------------------------------------------------------------------
# Compose, Dockerfile, systemd
# --------------------------------------------------------------------------------------

SERVICES = {"kafka", "ingest", "aggregate", "prometheus", "alertmanager", "grafana"}


def compose_plugin() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = run(docker, "compose", "version")
    return docker if probe.returncode == 0 else None


def test_docker_compose_config_where_the_plugin_exists(tmp_path: Path):
    docker = compose_plugin()
    if docker is None:
        # No compose plugin (as on the reference machine): the structural tests below cover
        # the file. This is a documented branch, not a skip of anything that can run.
        return
    env_file = tmp_path / "env"
    shutil.copy(DEPLOY / ".env.example", env_file)
    refused = run(docker, "compose", "--env-file", str(env_file), "-f", str(COMPOSE), "config")
    assert refused.returncode != 0  # the example leaves the API token empty: compose refuses
    with env_file.open("a", encoding="utf-8") as out:
        out.write("LIQMON_HTTP__API_TOKEN=%s\n" % ("ab" * 32))
    result = run(docker, "compose", "--env-file", str(env_file), "-f", str(COMPOSE), "config")
    assert result.returncode == 0, result.stderr


def compose() -> dict[str, Any]:
    return load(COMPOSE)


def test_compose_services_ports_and_healthchecks():
    services = compose()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        assert "healthcheck" in service, name
    for name in ("ingest", "aggregate"):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}
        assert service["command"][0] == name
        assert "0.0.0.0:9464" in service["command"]
        assert "/healthz" in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["LIQMON_BUS__KIND"] == "kafka"
        assert service["environment"]["LIQMON_BUS__KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_compose_kafka_runs_in_kraft_mode():
    kafka = compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert "INTERNAL://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def bind_sources(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith("."):
            yield source, target


def test_compose_mounts_exist_in_the_repository():
    services = compose()["services"]
    mounts: dict[str, str] = {}
    for service in services.values():
        for source, target in bind_sources(service):
            mounts[target] = source
            path = (DEPLOY / source).resolve()
            if not path.is_relative_to(DEPLOY / "secrets"):  # secrets: the operator's, ignored
                assert path.exists(), source
    assert mounts["/etc/prometheus"] == "./prometheus"
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    assert mounts["/etc/alertmanager/secrets"] == "./secrets/alertmanager"
    # Grafana's provisioning reads the boards where compose mounts grafana/dashboards.
    provider = load(DEPLOY / "grafana" / "provisioning" / "dashboards" / "liqmon.yml")
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == "../grafana/dashboards"
    # The alertmanager entrypoint and config come from deploy/alertmanager.
    am = services["alertmanager"]
    assert am["entrypoint"] == ["/bin/sh", "/etc/alertmanager/entrypoint.sh"]
    assert mounts["/etc/alertmanager/alertmanager.yml"] == "./alertmanager/alertmanager.yml"


def env_example() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_env_example_liqmon_variables_are_liqmon_keys():
    """Sourced into a shell or a systemd EnvironmentFile, the file must not break liqmon."""
    from monitor.config import load as load_config

    env = {k: v for k, v in env_example().items() if k.startswith("LIQMON_")}
    assert env["LIQMON_HTTP__API_TOKEN"] == ""  # no placeholder to forget to change
    env["LIQMON_HTTP__API_TOKEN"] = "ab" * 32
    settings = load_config(None, env=env)
    assert settings.log.level == env["LIQMON_LOG__LEVEL"]
    with pytest.raises(ConfigError, match="placeholder"):
        load_config(None, env={**env, "LIQMON_HTTP__API_TOKEN": "change-me"})


def test_the_example_config_is_valid_and_is_what_the_unit_installs():
    from monitor.cli import main

    assert main(["check-config", "--config", str(DEPLOY / "liqmon.yaml")]) == 0
    unit = (DEPLOY / "systemd" / "liqmon.service").read_text(encoding="utf-8")
    assert "deploy/liqmon.yaml /etc/liqmon/liqmon.yaml" in unit
    assert "--config /etc/liqmon/liqmon.yaml" in unit


def test_env_example_lists_every_compose_variable():
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text(encoding="utf-8")))
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert used == example
    assert ".env" in (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()


def dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_instructions():
    instructions = dockerfile()
    words = [w for w, _ in instructions]
    first = dict(reversed(instructions))  # the first value of each instruction
    last = dict(instructions)
    assert first["FROM"] == "python:3.11-slim"
    runs = " ".join(r for w, r in instructions if w == "RUN")
    assert "pip install --require-hashes -r runtime.lock" in runs  # exactly the lock
    assert "pip install --no-deps --no-build-isolation ." in runs
    assert last["USER"] not in {"root", "0"}
    assert words.index("USER") < words.index("ENTRYPOINT")
    assert last["EXPOSE"] == "9464"
    assert "/healthz" in last["HEALTHCHECK"]
    assert json.loads(last["ENTRYPOINT"]) == ["liqmon"]
    assert json.loads(last["CMD"]) == ["run", "--metrics-addr", "0.0.0.0:9464"]
    for w, rest in instructions:
        if w == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_dockerignore_keeps_the_context_small():
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert lines[lines.index("*")] == "*"
    assert {"!pyproject.toml", "!README.md", "!monitor/"} <= set(lines)


UNIT = DEPLOY / "systemd" / "liqmon.service"


def unit_entries() -> list[tuple[str, str, str]]:
    section = ""
    out = []
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out.append((section, key, value))
    return out


def test_systemd_unit_structure():
    entries = {(s, k): v for s, k, v in unit_entries()}
    assert entries[("Service", "Type")] == "simple"
    assert entries[("Service", "User")] == "liqmon"
    assert entries[("Service", "Restart")] == "on-failure"
    assert entries[("Service", "NoNewPrivileges")] == "yes"
    assert entries[("Service", "ProtectSystem")] == "strict"
    assert entries[("Service", "ReadWritePaths")] == "/var/lib/liqmon"
    assert entries[("Service", "EnvironmentFile")] == "/etc/liqmon/liqmon.env"
    assert entries[("Service", "ExecStart")] == (
        "/usr/local/bin/liqmon run --config /etc/liqmon/liqmon.yaml"
    )
    assert "LIQMON_SOURCES__CACHE_DIR=/var/lib/liqmon/cache" in entries[("Service", "Environment")]
    assert entries[("Install", "WantedBy")] == "multi-user.target"


def test_systemd_analyze_verify(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        # Not a skip: test_systemd_unit_structure checks the unit without systemd.
        return
    # verify needs ExecStart's binary to exist: point it at this checkout's liqmon.
    liqmon = Path(sys.executable).parent / "liqmon"
    assert liqmon.exists()
    text = UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/liqmon", str(liqmon))
    (tmp_path / "liqmon.service").write_text(text, encoding="utf-8")
    result = run(analyze, "verify", str(tmp_path / "liqmon.service"))
    assert result.returncode == 0, result.stderr
    # verify reports bad lines as warnings with exit code 0: any line about the unit fails.
    assert "liqmon.service" not in result.stderr, result.stderr
