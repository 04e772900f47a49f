"""The deployment configuration, checked by the tools that read it.

- docker-compose.yml against the Compose Specification (check-jsonschema's bundled schema);
- deploy/k8s: the base and both overlays rendered by kustomize, validated by kubeconform against
  the Kubernetes schemas bundled in the ``kubernetes-validate`` package (offline) and, for the
  Strimzi ``KafkaTopic``, against tests/deploy/schemas; plus the rules the manifests must keep;
- Prometheus (``promtool check config``, ``check rules``, ``test rules``), Alertmanager
  (``amtool check-config``), the Dockerfiles (hadolint);
- the Grafana dashboard, decoded strictly, its queries parsed by promtool and its metrics checked
  against what the services register.

External tools come from ``make deps`` (.cache/tools/bin, else PATH) or the dev dependencies
(.venv/bin). One that is missing skips its test, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, NoReturn

import dispatch_shared.metrics  # noqa: F401 - registers the shared metrics
import kubernetes_validate
import pytest
import routing.metrics  # noqa: F401 - registers routing's own metrics
import yaml
from dispatch_shared.kafka import all_topics
from dispatch_shared.settings import ServiceSettings
from intake.app import IntakeSettings
from prometheus_client import REGISTRY
from pydantic import BaseModel, ConfigDict, Field
from routing.app import RoutingSettings
from triage.app import TriageSettings

ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = ROOT / ".cache" / "tools" / "bin"
VENV_BIN = Path(sys.executable).parent
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dispatch-dashboard.json"
COMPOSE = ROOT / "docker-compose.yml"
SECRETS_TEMPLATE = K8S / "secrets.template.yaml"
CRD_SCHEMAS = Path(__file__).resolve().parent / "schemas"
SERVICES = ("intake", "triage", "routing")
PORTS = {"intake": 8001, "triage": 8002, "routing": 8003}
RENDERS = ("base", "overlays/dev", "overlays/prod")
# The Kubernetes release the manifests are validated for (a schema set kubernetes-validate ships).
KUBERNETES_VERSION = "1.33.0"
RUN_TIMEOUT_S = 300


def unavailable(reason: str) -> NoReturn:
    """Skip: a validator is not installed here. Under CI every validator must run, so fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI runs every validator: `make deps` installs it)")
    pytest.skip(f"{reason}; `make deps` installs it")


def tool(name: str) -> str:
    """The path of an external tool: ``make deps``'s .cache/tools/bin, the venv, then PATH."""
    for candidate in (TOOLS_DIR / name, VENV_BIN / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed")
    return found


def run(command: list[str], *, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a validator; its output is returned for the assertion message."""
    return subprocess.run(  # noqa: S603 - fixed tools on the repository's files
        command, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


def passed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def load_yaml_documents(text: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(text) if document]


# --- docker-compose ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def test_compose_file_matches_the_compose_specification() -> None:
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])
    assert passed(result), output(result)


def test_compose_schema_check_refuses_an_unknown_service_key(tmp_path: Path) -> None:
    broken = compose()
    broken["services"]["intake"]["healthcheck_interval"] = "5s"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)])
    assert not passed(result), output(result)


def test_compose_services_run_the_images_make_images_builds() -> None:
    services = compose()["services"]
    for name in SERVICES:
        service = services[name]
        assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile"
        assert service["image"] == f"dispatch-triage/{name}:${{IMAGE_TAG:-dev}}"
        # The image's CMD starts the service; a command here would override it.
        assert "command" not in service and "entrypoint" not in service, name


def test_compose_wires_prometheus_alertmanager_and_grafana() -> None:
    services = compose()["services"]
    prometheus_mounts = services["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus-compose.yml:/etc/prometheus/prometheus.yml:ro" in prometheus_mounts
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in prometheus_mounts
    assert (
        "./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
        in (services["alertmanager"]["volumes"])
    )
    grafana_mounts = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana_mounts
    dashboards_dir = grafana_provider()["options"]["path"]
    assert f"./deploy/grafana/dispatch-dashboard.json:{dashboards_dir}/dispatch-dashboard.json:ro" in (
        grafana_mounts
    )

    config = yaml.safe_load((PROMETHEUS / "prometheus-compose.yml").read_text(encoding="utf-8"))
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    # Every scraped service carries the `service` label the dashboard and alerts group by.
    groups = config["scrape_configs"][0]["static_configs"]
    assert {group["labels"]["service"]: group["targets"] for group in groups} == {
        name: [f"{name}:{port}"] for name, port in PORTS.items()
    }
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"


def grafana_provider() -> dict[str, Any]:
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "dispatch.yml").read_text(encoding="utf-8")
    )["providers"]
    assert len(providers) == 1
    provider: dict[str, Any] = providers[0]
    return provider


def test_kubernetes_prometheus_sends_alerts_to_alertmanager() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets and all(target.endswith(":9093") for target in targets)


# --- Kubernetes --------------------------------------------------------------------------------


def kustomize(directory: Path) -> str:
    """``kubectl kustomize`` (or a standalone kustomize) of one kustomization."""
    kubectl = shutil.which("kubectl")
    command = (
        [kubectl, "kustomize", str(directory)] if kubectl else [tool("kustomize"), "build", str(directory)]
    )
    result = run(command)
    assert passed(result), output(result)
    return result.stdout


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every render's resources, by kustomization (base, overlays/dev, overlays/prod)."""
    return {name: load_yaml_documents(kustomize(K8S / name)) for name in RENDERS}


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Kubernetes schemas of kubernetes-validate, made readable from plain files.

    The package's schemas name themselves (``$id``) and their shared definitions by kubernetes.io
    URLs, which its own validator maps to files; kubeconform would fetch them. Without the ``$id``
    and with the definitions referred to by file name they resolve beside each other, offline.
    """
    source = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{KUBERNETES_VERSION}-local-strict"
    )
    assert source.is_dir(), f"kubernetes-validate has no schemas for {KUBERNETES_VERSION}"
    target = tmp_path_factory.mktemp("kubernetes-schemas")
    for schema in source.glob("*.json"):
        text = schema.read_text(encoding="utf-8").replace('"/api/_definitions.json#', '"_definitions.json#')
        document = json.loads(text)
        document.pop("$id", None)
        (target / schema.name).write_text(json.dumps(document), encoding="utf-8")
    return target


def kubeconform(schema_dir: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return run(
        [
            tool("kubeconform"),
            "-strict",
            "-summary",
            "-kubernetes-version",
            KUBERNETES_VERSION,
            "-schema-location",
            f"{schema_dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            "-schema-location",
            f"{CRD_SCHEMAS}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
            *map(str, files),
        ]
    )


def test_manifests_pass_kubeconform(
    rendered: dict[str, list[dict[str, Any]]], schema_dir: Path, tmp_path: Path
) -> None:
    files = [SECRETS_TEMPLATE]
    for name, resources in rendered.items():
        path = tmp_path / f"{name.replace('/', '-')}.yaml"
        path.write_text(yaml.safe_dump_all(resources), encoding="utf-8")
        files.append(path)
    result = kubeconform(schema_dir, files)
    assert passed(result), output(result)
    # Nothing skipped: every kind, the Strimzi KafkaTopic too, had a schema.
    expected = sum(map(len, rendered.values())) + len(load_yaml_documents(SECRETS_TEMPLATE.read_text()))
    assert f"{expected} resources found" in result.stdout and "Skipped: 0" in result.stdout, output(result)


def test_kubeconform_refuses_unknown_fields_and_wrong_types(
    rendered: dict[str, list[dict[str, Any]]], schema_dir: Path, tmp_path: Path
) -> None:
    mistakes: list[tuple[str, str, object]] = [
        ("Deployment", "replica", 2),  # a misspelt field
        ("KafkaTopic", "partitions", "six"),  # a wrong type, in the schema written for it
        ("NetworkPolicy", "ingres", []),
    ]
    for kind, field, value in mistakes:
        resource = next(doc for doc in rendered["overlays/prod"] if doc["kind"] == kind)
        broken = json.loads(json.dumps(resource))
        broken["spec"][field] = value
        path = tmp_path / f"broken-{kind}.yaml"
        path.write_text(yaml.safe_dump(broken), encoding="utf-8")
        result = kubeconform(schema_dir, [path])
        assert not passed(result) and "is invalid" in result.stdout, f"{kind}: {output(result)}"


def of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in resources if doc["kind"] == kind}


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return found


def setting_names(service: str) -> set[str]:
    """The environment variables a service reads: its Settings fields (or their aliases)."""
    classes: dict[str, type[ServiceSettings]] = {
        "intake": IntakeSettings,
        "triage": TriageSettings,
        "routing": RoutingSettings,
    }
    settings = classes[service]
    names = {
        (field.validation_alias if isinstance(field.validation_alias, str) else name).upper()
        for name, field in settings.model_fields.items()
    }
    if service == "triage":
        names |= {"TRIAGE_POLICY_FILE", "TRIAGE_POLICY_OVERLAYS"}  # read by the policy store
    return names


def secret_keys() -> dict[str, set[str]]:
    return {
        doc["metadata"]["name"]: set(doc["stringData"])
        for doc in load_yaml_documents(SECRETS_TEMPLATE.read_text(encoding="utf-8"))
    }


def make_images(tag: str) -> set[str]:
    """The image references ``make images IMAGE_TAG=<tag>`` builds (a dry run)."""
    result = run(["make", "--no-print-directory", "-n", "images", f"IMAGE_TAG={tag}"])
    assert passed(result), output(result)
    return set(re.findall(r"^docker build .* -t (\S+) \.$", result.stdout, flags=re.MULTILINE))


@pytest.mark.parametrize("name", RENDERS)
def test_each_service_deploys_with_probes_identity_settings_and_limits(
    rendered: dict[str, list[dict[str, Any]]], name: str
) -> None:
    resources = rendered[name]
    deployments = of_kind(resources, "Deployment")
    config_maps = of_kind(resources, "ConfigMap")
    secrets = secret_keys()
    assert set(deployments) == set(SERVICES)
    for service, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "dispatch-triage", service
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(PORTS[service])
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False
        account = of_kind(resources, "ServiceAccount")[spec["serviceAccountName"]]
        assert account["automountServiceAccountToken"] is False
        (container,) = containers(deployment)
        # The image's CMD starts the service: no command or args may replace it.
        assert "command" not in container and "args" not in container, service
        assert container["ports"] == [{"name": "http", "containerPort": PORTS[service]}]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "http", (service, probe)
        # /readyz gates on the database and the consumer only (a Kafka outage does not take a
        # service out of its Service); liveness is the process alone.
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", service
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", service
        assert container["resources"]["requests"] and container["resources"]["limits"], service
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        known = setting_names(service)
        for source in container["envFrom"]:
            data = config_maps[source["configMapRef"]["name"]]["data"]
            assert set(data) <= known, f"{service}: settings it does not read: {set(data) - known}"
        for variable in container["env"]:
            ref = variable["valueFrom"]["secretKeyRef"]
            assert variable["name"] in known and ref["key"] in secrets[ref["name"]], (service, ref)


@pytest.mark.parametrize("name", RENDERS)
def test_each_service_has_its_service_budget_autoscaler_and_ingress_policy(
    rendered: dict[str, list[dict[str, Any]]], name: str
) -> None:
    resources = rendered[name]
    services = of_kind(resources, "Service")
    budgets = of_kind(resources, "PodDisruptionBudget")
    autoscalers = of_kind(resources, "HorizontalPodAutoscaler")
    policies = of_kind(resources, "NetworkPolicy")
    for service in SERVICES:
        selector = {"app.kubernetes.io/name": service}
        assert services[service]["spec"]["selector"] == selector
        assert services[service]["spec"]["ports"][0]["port"] == PORTS[service]
        assert budgets[service]["spec"]["selector"]["matchLabels"] == selector
        assert autoscalers[service]["spec"]["scaleTargetRef"]["name"] == service
        assert 1 <= autoscalers[service]["spec"]["minReplicas"] <= autoscalers[service]["spec"]["maxReplicas"]
        policy = policies[service]["spec"]
        assert policy["podSelector"]["matchLabels"] == selector and policy["policyTypes"] == ["Ingress"]
        assert [port["port"] for rule in policy["ingress"] for port in rule["ports"]] == [PORTS[service]]


@pytest.mark.parametrize("name", RENDERS)
def test_egress_is_dns_kafka_and_postgresql_only(
    rendered: dict[str, list[dict[str, Any]]], name: str
) -> None:
    egress = of_kind(rendered[name], "NetworkPolicy")["dispatch-egress"]["spec"]
    assert egress["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "dispatch-triage"}
    ports = {(port["protocol"], port["port"]) for rule in egress["egress"] for port in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 9092), ("TCP", 5432)}
    assert all(rule.get("to") for rule in egress["egress"]), "every egress rule names its peers"


@pytest.mark.parametrize("name", RENDERS)
def test_kafka_topics_are_the_contract_topics_with_the_services_settings(
    rendered: dict[str, list[dict[str, Any]]], name: str
) -> None:
    resources = rendered[name]
    topics = {doc["spec"]["topicName"]: doc for doc in of_kind(resources, "KafkaTopic").values()}
    assert set(topics) == set(all_topics())
    settings = of_kind(resources, "ConfigMap")
    (shared,) = (
        doc["data"] for map_name, doc in settings.items() if map_name.startswith("dispatch-settings")
    )
    clusters = {doc["metadata"]["labels"]["strimzi.io/cluster"] for doc in topics.values()}
    assert len(clusters) == 1 and shared["KAFKA_BOOTSTRAP_SERVERS"].startswith(
        f"{clusters.pop()}-kafka-bootstrap."
    )
    for topic, doc in topics.items():
        # What the services would create themselves (dispatch_shared.kafka.ensure_topics) is what is declared.
        expected_partitions = 1 if topic.endswith(".dlq") else int(shared["KAFKA_TOPIC_PARTITIONS"])
        assert doc["spec"]["partitions"] == expected_partitions, topic
        assert doc["spec"]["replicas"] == int(shared["KAFKA_REPLICATION_FACTOR"]), topic
        assert doc["spec"]["config"]["min.insync.replicas"] <= doc["spec"]["replicas"], topic


def test_overlays_set_their_namespace_images_and_replicas(rendered: dict[str, list[dict[str, Any]]]) -> None:
    seen: dict[str, tuple[str, int]] = {}
    for overlay, tag in (("overlays/dev", "dev"), ("overlays/prod", "1.0.0")):
        resources = rendered[overlay]
        (namespace,) = of_kind(resources, "Namespace")
        for doc in resources:
            expected = "kafka" if doc["kind"] == "KafkaTopic" else namespace
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == expected, (
                    overlay,
                    doc["kind"],
                    doc["metadata"]["name"],
                )
        images = {containers(doc)[0]["image"] for doc in of_kind(resources, "Deployment").values()}
        assert images == make_images(tag), overlay
        seen[overlay] = (
            namespace,
            of_kind(resources, "HorizontalPodAutoscaler")["intake"]["spec"]["minReplicas"],
        )
    assert seen["overlays/dev"][0] != seen["overlays/prod"][0]
    assert seen["overlays/dev"][1] < seen["overlays/prod"][1]


def test_make_images_fails_clearly_without_docker(tmp_path: Path) -> None:
    make = shutil.which("make")
    assert make is not None
    (tmp_path / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    result = subprocess.run(  # noqa: S603 - make with a PATH that holds bash alone
        [make, "--no-print-directory", "images"],
        cwd=ROOT,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "docker not found" in result.stderr, output(result)


# --- Prometheus, Alertmanager, Dockerfiles -----------------------------------------------------


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-compose.yml"])
def test_promtool_accepts_the_prometheus_config(config: str) -> None:
    result = run([tool("promtool"), "check", "config", config], cwd=PROMETHEUS)
    assert passed(result), output(result)


def test_promtool_accepts_the_alert_rules() -> None:
    result = run([tool("promtool"), "check", "rules", "alerts.yml"], cwd=PROMETHEUS)
    assert passed(result), output(result)


def test_promtool_alert_rule_cases_pass() -> None:
    result = run([tool("promtool"), "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS)
    assert passed(result), output(result)


def test_amtool_accepts_the_alertmanager_config() -> None:
    result = run([tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG)])
    assert passed(result), output(result)


def alert_labels() -> set[str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return {value for group in groups for rule in group["rules"] for value in rule.get("labels", {}).values()}


def test_alertmanager_routes_every_severity_the_rules_use() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    routed = {
        matcher.split("=", 1)[1].strip('"')
        for route in config["route"]["routes"]
        for matcher in route["matchers"]
        if matcher.startswith("severity=")
    }
    assert alert_labels() <= routed


DOCKERFILES = [ROOT / "services" / service / "Dockerfile" for service in SERVICES]


def test_hadolint_accepts_the_dockerfiles() -> None:
    # DL3025 (JSON form for CMD) also flags HEALTHCHECK's shell-form CMD, which needs the shell to
    # read the port variable; the real CMD lines are held to the JSON form below instead.
    result = run([tool("hadolint"), "--no-color", "--ignore", "DL3025", *map(str, DOCKERFILES)])
    assert passed(result), output(result)
    for dockerfile in DOCKERFILES:
        for line in dockerfile.read_text(encoding="utf-8").splitlines():
            if re.match(r"(CMD|ENTRYPOINT)\s", line):
                assert re.match(r"(CMD|ENTRYPOINT)\s+\[", line), f"{dockerfile}: {line}"


# --- Grafana -----------------------------------------------------------------------------------

DATASOURCE_VARIABLE = "${datasource}"
SERVICE_FILTER = 'service=~"$service"'


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSourceRef(Strict):
    type: Literal["prometheus"]
    uid: str


class GridPos(Strict):
    x: int = Field(ge=0, lt=24)
    y: int = Field(ge=0)
    w: int = Field(ge=1, le=24)
    h: int = Field(ge=1)


class Target(Strict):
    refId: str
    expr: str = Field(min_length=1)
    legendFormat: str
    datasource: DataSourceRef
    instant: bool = False


class ThresholdStep(Strict):
    color: str
    value: float | None


class Thresholds(Strict):
    mode: Literal["absolute", "percentage"]
    steps: list[ThresholdStep] = Field(min_length=1)


class FieldDefaults(Strict):
    unit: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None
    thresholds: Thresholds | None = None
    custom: dict[str, Any] = Field(default_factory=dict)


class FieldConfig(Strict):
    defaults: FieldDefaults
    overrides: list[dict[str, Any]]


class Panel(Strict):
    id: int
    type: Literal["timeseries", "stat", "bargauge"]
    title: str = Field(min_length=1)
    description: str = Field(min_length=20)
    datasource: DataSourceRef
    gridPos: GridPos
    fieldConfig: FieldConfig
    targets: list[Target] = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class VariableQuery(Strict):
    query: str
    refId: str


class Variable(Strict):
    name: str
    label: str
    type: Literal["datasource", "query"]
    hide: int
    current: dict[str, Any]
    query: str | VariableQuery
    datasource: DataSourceRef | None = None
    definition: str | None = None
    refresh: int | None = None
    multi: bool = False
    includeAll: bool = False
    allValue: str | None = None
    sort: int | None = None


class Templating(Strict):
    list: list[Variable]


class TimeRange(Strict):
    from_: str = Field(alias="from")
    to: str


class Dashboard(Strict):
    title: str
    uid: str
    description: str
    tags: list[str]
    editable: bool
    graphTooltip: int
    schemaVersion: int
    refresh: str
    time: TimeRange
    templating: Templating
    panels: list[Panel] = Field(min_length=1)


@pytest.fixture(scope="module")
def dashboard() -> Dashboard:
    return Dashboard.model_validate_json(DASHBOARD.read_text(encoding="utf-8"))


def exported_series() -> set[str]:
    """Every series name the services' metrics registry exposes (counters with _total, ...)."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    names: set[str] = set()
    for family in REGISTRY.collect():
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    return names


def recorded_series() -> set[str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def panel_queries(dashboard: Dashboard) -> Iterator[tuple[Panel, Target]]:
    for panel in dashboard.panels:
        for target in panel.targets:
            yield panel, target


def test_dashboard_variables_pick_the_datasource_and_the_services(dashboard: Dashboard) -> None:
    variables = {variable.name: variable for variable in dashboard.templating.list}
    assert variables["datasource"].type == "datasource" and variables["datasource"].query == "prometheus"
    service = variables["service"]
    assert service.datasource == DataSourceRef(type="prometheus", uid=DATASOURCE_VARIABLE)
    assert isinstance(service.query, VariableQuery) and "service" in service.query.query
    assert service.includeAll and service.allValue == ".*"


def test_every_panel_reads_the_datasource_variable(dashboard: Dashboard) -> None:
    for panel, target in panel_queries(dashboard):
        assert panel.datasource.uid == DATASOURCE_VARIABLE, panel.title
        assert target.datasource.uid == DATASOURCE_VARIABLE, panel.title


def test_panels_are_distinct_and_do_not_overlap(dashboard: Dashboard) -> None:
    ids = [panel.id for panel in dashboard.panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard.panels:
        box = panel.gridPos
        assert box.x + box.w <= 24, panel.title
        area = {(x, y) for x in range(box.x, box.x + box.w) for y in range(box.y, box.y + box.h)}
        assert not area & cells, f"{panel.title} overlaps another panel"
        cells |= area
        refs = [target.refId for target in panel.targets]
        assert len(refs) == len(set(refs)), panel.title


def test_every_query_reads_metrics_the_services_export(dashboard: Dashboard) -> None:
    exported = exported_series()
    recorded = recorded_series()
    for panel, target in panel_queries(dashboard):
        names = re.findall(r"(?<![\w:])([a-z_:][a-z0-9_:]*)\s*\{", target.expr)
        assert names, f"{panel.title}: no metric selector in {target.expr}"
        for metric in names:
            assert metric in exported or metric in recorded, f"{panel.title}: {metric} is not exported"
        # Every selector honours the service variable.
        for selector in re.findall(r"(?<![\w:])[a-z_:][a-z0-9_:]*\s*\{([^}]*)\}", target.expr):
            assert SERVICE_FILTER in selector, f"{panel.title}: a selector ignores $service"
        bare = re.findall(r"(?<![\w:])(dispatch_[a-z0-9_]+)(?![\w:{])", target.expr)
        assert not bare, f"{panel.title}: {bare} read without the service filter"


def test_the_slo_panels_read_the_receipt_to_unit_histogram(dashboard: Dashboard) -> None:
    slo = [
        panel
        for panel in dashboard.panels
        if "dispatch_call_assigned_seconds_bucket" in panel.targets[0].expr
    ]
    assert {panel.fieldConfig.defaults.unit for panel in slo} >= {"s", "percentunit"}
    quantiles = [
        t.expr for panel in slo for t in panel.targets if t.expr.startswith("histogram_quantile(0.9,")
    ]
    assert any("by (route, le)" in expr for expr in quantiles)


def test_promtool_parses_every_dashboard_query(dashboard: Dashboard, tmp_path: Path) -> None:
    grafana_values = {"$__rate_interval": "1m", "$__range": "6h", "$service": ".*"}
    rules = []
    for panel, target in panel_queries(dashboard):
        expr = target.expr
        for variable, value in grafana_values.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{panel.title}: unknown variable in {target.expr}"
        rules.append({"record": f"dashboard:panel_{panel.id}:{target.refId.lower()}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    result = run([tool("promtool"), "check", "rules", str(path)])
    assert passed(result), output(result)
