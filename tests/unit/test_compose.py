"""docker-compose.yml describes the deployed shape (no Docker engine needed to check it):
the eight services with their local entry points, a 3-node JetStream cluster that fsyncs
every write, PostgreSQL, the streams job, tracing, no secret in clear, no missing file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from contracts.vocabulary import Mode
from infra.nats.cluster import cluster_configs
from interforces.stack.services import AGENCY_SERVICES, SERVICES

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|_KEY$", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def _nats_nodes(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: svc for name, svc in services.items() if str(svc.get("image", "")).startswith("nats:")
    }


def _bind_sources(svc: dict[str, Any]) -> list[str]:
    """Host paths of the bind mounts of a service (named volumes have no ./ or / prefix)."""
    sources = []
    for volume in svc.get("volumes", []):
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith((".", "/")):
            sources.append(source)
    return sources


def _conf_of(node: dict[str, Any]) -> Path:
    (conf,) = [s for s in _bind_sources(node) if s.endswith(".conf")]
    return ROOT / conf


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_every_service_runs_with_its_local_entry_point(
    services: dict[str, dict[str, Any]],
) -> None:
    for spec in SERVICES:
        assert spec.name in services, f"{spec.name} missing from docker-compose.yml"
        command = services[spec.name]["command"]
        words = command.split() if isinstance(command, str) else command
        assert words == ["python", "-m", spec.module]


def test_services_reach_the_three_nodes_and_the_collector(
    services: dict[str, dict[str, Any]],
) -> None:
    nodes = set(_nats_nodes(services))
    for spec in SERVICES:
        env = _env(services[spec.name])
        hosts = {urlsplit(url).hostname for url in env["NATS_URL"].split(",")}
        assert hosts == nodes
        otlp = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert otlp.hostname == "otel-collector"
        assert otlp.hostname in services
        assert "streams" in services[spec.name]["depends_on"]


def test_three_nats_nodes_fsync_always_and_route_to_each_other(
    services: dict[str, dict[str, Any]],
) -> None:
    nodes = _nats_nodes(services)
    assert len(nodes) == 3
    for name, node in nodes.items():
        text = _conf_of(node).read_text(encoding="utf-8")
        assert re.search(r"^\s*sync_interval:\s*always\s*$", text, re.MULTILINE)
        assert re.search(r"^jetstream\s*\{", text, re.MULTILINE)
        routes = set(re.findall(r"nats-route://([\w.-]+):6222", text))
        assert routes == set(nodes) - {name}


def test_checked_in_cluster_configs_are_the_generated_ones() -> None:
    for file_name, text in cluster_configs().items():
        assert (ROOT / "infra" / "nats" / file_name).read_text(encoding="utf-8") == text, (
            f"{file_name} drifted: run `interforces infra nats-config --cluster`"
        )


def test_streams_are_declared_for_the_cluster_before_the_services(
    services: dict[str, dict[str, Any]],
) -> None:
    command = " ".join(services["streams"]["command"])
    assert "interforces infra streams --profile cluster" in command
    assert set(services["streams"]["depends_on"]) == set(_nats_nodes(services))
    for spec in SERVICES:
        condition = services[spec.name]["depends_on"]["streams"]["condition"]
        assert condition == "service_completed_successfully"


def test_postgres_takes_its_password_from_a_secret_file(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:")
    env = _env(postgres)
    assert "POSTGRES_PASSWORD" not in env
    assert env["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    timeline = _env(services["timeline"])
    url = urlsplit(timeline["DATABASE_URL"])
    assert url.hostname == "postgres"
    assert url.password is None
    (passfile,) = parse_qs(url.query)["passfile"]
    assert passfile.startswith("/run/secrets/")
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    for secret in compose["secrets"].values():
        path = Path(secret["file"])
        assert path.parts[0] == "secrets"
        assert "secrets/" in ignored, "secrets/ must be git-ignored"


def test_no_secret_is_written_in_clear(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for key, value in _env(svc).items():
            if SECRET_NAME.search(key):
                assert value.startswith("/"), f"{name}: {key} is not a path to its secret"
            for url in value.split(","):
                if "://" in url:
                    assert urlsplit(url.strip()).password is None, f"{name}: password in {key}"


def test_tracing_goes_through_the_collector_to_jaeger(
    services: dict[str, dict[str, Any]],
) -> None:
    assert str(services["jaeger"]["image"]).startswith("jaegertracing/all-in-one:")
    (config,) = _bind_sources(services["otel-collector"])
    collector = yaml.safe_load((ROOT / config).read_text(encoding="utf-8"))
    pipeline = collector["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert "4318" in collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    for exporter in pipeline["exporters"]:
        endpoint = collector["exporters"][exporter]["endpoint"]
        assert endpoint.split(":")[0] == "jaeger"
    for processor in pipeline["processors"]:
        assert processor in collector["processors"]


def test_every_referenced_local_file_exists(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, svc in services.items():
        for source in _bind_sources(svc):
            assert (ROOT / source).exists(), f"{name}: {source} does not exist"
        build = svc.get("build")
        if build is not None:
            assert (ROOT / build["context"]).is_dir()
            for line in build.get("dockerfile_inline", "").splitlines():
                if line.startswith("COPY "):
                    for source in line.split()[1:-1]:
                        assert (ROOT / build["context"] / source).exists(), f"{name}: {source}"


def test_each_agency_keeps_its_private_store_on_a_volume(
    services: dict[str, dict[str, Any]],
) -> None:
    # mediation's case notes and every agency's refused reports outlive a recreated container
    for agency in AGENCY_SERVICES:
        data_dir = _env(services[agency.value])["IFC_DATA_DIR"]
        targets = [str(v).split(":")[1] for v in services[agency.value]["volumes"]]
        assert f"{data_dir}/{agency.value}" in targets


@pytest.mark.parametrize(
    ("module", "variable"),
    [
        ("services.coordinator", "IFC_COORDINATOR_MODES"),
        ("services.timeline", "IFC_TIMELINE_MODES"),
    ],
)
def test_each_mode_has_an_active_and_a_standby_coordinator_and_projector(
    services: dict[str, dict[str, Any]], module: str, variable: str
) -> None:
    # docs/scale-out.md: the instances of a mode share its durable consumer; the holder of
    # the consumer's lease reads it in stream order, the others stand by
    command = ["python", "-m", module]
    instances = {name: svc for name, svc in services.items() if svc.get("command") == command}
    assert len(instances) >= 2, f"{module}: one instance per mode"
    served: list[str] = []
    for name, svc in instances.items():
        assert svc.get("deploy", {}).get("replicas", 1) >= 2, f"{name}: a standby"
        served.extend(json.loads(_env(svc)[variable]))
    assert sorted(served) == sorted(mode.value for mode in Mode)
