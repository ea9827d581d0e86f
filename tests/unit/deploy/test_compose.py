"""docker-compose.yml and the Dockerfiles agree with the code they run.

No Docker engine runs here, so the compose file is parsed (PyYAML) and held against what the
services actually read: their Settings classes, their console scripts, SPEC §6's ports and the
topics `make run` creates.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from deploy.devstack import TOPICS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

# SPEC §6: the ports and environment names other tools depend on.
SPEC_PORTS = {"enrollment": 8001, "settlement": 8002}
SPEC_ENV = {
    "enrollment": {"ENROLLMENT_DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"},
    "settlement": {"SETTLEMENT_DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SETTLEMENT_POLICY"},
}
DATABASE_ENV = {"enrollment": "ENROLLMENT_DATABASE_URL", "settlement": "SETTLEMENT_DATABASE_URL"}


def interpolate(value: object) -> str:
    """Compose's `${NAME:-default}` with nothing set: the default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) for item in env)
    return {name: interpolate(value) for name, value in env.items()}


def env_names_read_by(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings class reads (it matches case-insensitively)."""
    prefix = settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(prefix + name)
    return {name.upper() for name in names}


def dockerfile(service: str) -> str:
    build = SERVICES[service]["build"]
    return (ROOT / build["context"] / build["dockerfile"]).read_text()


def instruction(text: str, name: str) -> str:
    """The argument of a Dockerfile instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = re.findall(rf"^{name}\s+(.+)$", joined, re.MULTILINE)
    assert found, f"no {name} instruction"
    return found[-1].strip()


def test_the_production_shape_is_kafka_two_databases_and_both_services():
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    # KRaft formats its storage only with a cluster id that is a UUID in URL-safe base64.
    cluster_id = SERVICES["kafka"]["environment"]["CLUSTER_ID"]
    assert len(cluster_id) == 22 and len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    for db in ("enrollment-db", "settlement-db"):
        assert SERVICES[db]["image"] == "postgres:16"
        assert "pg_isready" in " ".join(SERVICES[db]["healthcheck"]["test"])
        assert any(v.endswith(":/var/lib/postgresql/data") for v in SERVICES[db]["volumes"])
    assert {"enrollment", "settlement"} <= SERVICES.keys()


@pytest.mark.parametrize("service", ["enrollment", "settlement"])
def test_each_service_publishes_its_spec_port(service):
    port = SPEC_PORTS[service]
    assert SERVICES[service]["ports"] == [f"{port}:{port}"]
    text = dockerfile(service)
    assert instruction(text, "EXPOSE") == str(port)
    assert f"127.0.0.1:{port}/healthz" in instruction(text, "HEALTHCHECK")


@pytest.mark.parametrize("service", ["enrollment", "settlement"])
def test_every_variable_compose_sets_is_one_the_service_reads(service):
    settings = importlib.import_module(f"services.{service}.settings").Settings
    read = env_names_read_by(settings)
    assert SPEC_ENV[service] <= read, "the Settings class lost a name SPEC §6 pins"
    assert set(environment(service)) <= read
    assert SPEC_ENV[service] <= set(environment(service))


@pytest.mark.parametrize("service", ["enrollment", "settlement"])
def test_each_service_uses_its_own_postgresql_and_waits_for_it(service):
    db = f"{service}-db"
    url = make_url(environment(service)[DATABASE_ENV[service]])
    db_env = environment(db)
    assert url.get_backend_name() == "postgresql"
    assert (url.host, url.port, url.database) == (db, 5432, db_env["POSTGRES_DB"])
    assert (url.username, url.password) == (db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"])
    assert SERVICES[service]["depends_on"][db] == {"condition": "service_healthy"}


def test_containers_reach_kafka_as_kafka_9092_and_the_host_as_localhost_9092():
    kafka = environment("kafka")
    # "NAME://host:port,…" → which listener is advertised as an address, where each one binds
    name_of = {
        address: name
        for name, address in (
            item.split("://") for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
        )
    }
    binds = dict(item.split("://") for item in kafka["KAFKA_LISTENERS"].split(","))
    host_port, container_port = SERVICES["kafka"]["ports"][0].split(":")
    assert host_port == "9092"
    assert binds[name_of["localhost:9092"]].endswith(f":{container_port}")
    assert binds[name_of["kafka:9092"]].endswith(":9092")
    for service in ("enrollment", "settlement"):
        assert environment(service)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_the_topics_created_are_the_ones_make_run_creates():
    assert environment("kafka-topics")["TOPICS"].split() == TOPICS
    for service in ("enrollment", "settlement"):
        condition = SERVICES[service]["depends_on"]["kafka-topics"]["condition"]
        assert condition == "service_completed_successfully"


def test_settlement_runs_the_spec_policy():
    assert environment("settlement")["SETTLEMENT_POLICY"] == "liaocheng-2024"


@pytest.mark.parametrize("service", ["enrollment", "settlement"])
def test_each_image_runs_its_console_script_as_a_non_root_user(service):
    text = dockerfile(service)
    assert instruction(text, "FROM") == "python:3.11-slim"
    assert instruction(text, "USER") not in ("root", "0")
    cmd = json.loads(instruction(text, "CMD"))
    assert cmd == [service, "serve", "--host", "0.0.0.0", "--port", str(SPEC_PORTS[service])]
    assert SCRIPTS[service] == f"services.{service}.entrypoints.cli:main"
    cli = importlib.import_module(f"services.{service}.entrypoints.cli").cli
    assert "serve" in cli.commands, f"`{service} serve` is what the image runs"


def test_the_ci_entry_point_runs_make_test_which_installs_lints_and_tests():
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: lint typecheck\n\t\$\(BIN\)/python -m pytest", makefile, re.M)
    assert re.search(r"^typecheck: \$\(STAMP\)\n\t\$\(BIN\)/mypy \$\(PURE_CORE\)", makefile, re.M)
    assert re.search(r"^lint: \$\(STAMP\)\n\t\$\(BIN\)/ruff check", makefile, re.MULTILINE)
    assert "-m venv $(VENV)" in makefile
    assert "pip install --quiet -e '.[dev]'" in makefile


def test_settlement_serves_with_two_workers_and_consumes_in_its_own_process():
    from click.testing import CliRunner

    from services.settlement.entrypoints.cli import cli

    serve = SERVICES["settlement"]["command"]
    consume = SERVICES["settlement-consumer"]["command"]
    assert serve[:2] == ["settlement", "serve"] and "--no-consumer" in serve
    assert serve[serve.index("--workers") + 1] == "2"
    # the consumer answers Prometheus on a port of its own (it has no HTTP server otherwise)
    assert consume == ["settlement", "consume", "--metrics-port", "9102"]
    assert environment("settlement-consumer") == environment("settlement")
    assert SERVICES["settlement-consumer"]["build"] == SERVICES["settlement"]["build"]
    # every option named in compose is one the real commands accept
    for command in (serve, consume):
        result = CliRunner().invoke(cli, [*command[1:], "--help"])
        assert result.exit_code == 0, result.output
        for option in (word for word in command if word.startswith("--")):
            assert option in result.output


def test_settlement_reads_only_its_own_names_not_a_generic_database_url(monkeypatch):
    from services.settlement.settings import Settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://someone-else/db")
    monkeypatch.setenv("POLICY", "not-ours")
    monkeypatch.delenv("SETTLEMENT_DATABASE_URL", raising=False)
    monkeypatch.delenv("SETTLEMENT_POLICY", raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///var/settlement.db"
    assert settings.policy == "liaocheng-2024"
    monkeypatch.setenv("SETTLEMENT_DATABASE_URL", "postgresql://settlement@db/settlement")
    assert Settings().database_url == "postgresql://settlement@db/settlement"


def test_staff_token_keys_reach_the_services_as_secrets_named_by_the_environment():
    """Enrollment signs with the private key, settlement verifies with the public one (SPEC §8):
    each *_KEY_FILE names a secret mounted in that container, and each secret is a host file
    the operator's environment chooses (var/ by default, where `enrollment staff keys` writes)."""
    secrets = COMPOSE["secrets"]
    for name in ("staff_token_private_key", "staff_token_public_key"):
        assert secrets[name]["file"].startswith("${STAFF_TOKEN_")
    expected = {
        "enrollment": {"STAFF_TOKEN_PRIVATE_KEY_FILE", "STAFF_TOKEN_PUBLIC_KEY_FILE"},
        "settlement": {"STAFF_TOKEN_PUBLIC_KEY_FILE"},
        "settlement-consumer": {"STAFF_TOKEN_PUBLIC_KEY_FILE"},
    }
    for service, names in expected.items():
        env = environment(service)
        mounted = set(SERVICES[service].get("secrets", []))
        assert {n for n in env if n.startswith("STAFF_TOKEN_")} == names
        for name in names:
            secret = env[name].removeprefix("/run/secrets/")
            assert env[name].startswith("/run/secrets/") and secret in mounted and secret in secrets
