"""docker-compose.yml: valid for the Compose v2 CLI and the compose-spec schema, safe defaults."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.support import (
    COMPOSE,
    COMPOSE_DEMO,
    COMPOSE_SCHEMA,
    ENV_EXAMPLE,
    PROMETHEUS_DIR,
    ROOT,
    compose_cli,
    load_yaml,
    run,
)

pytestmark = pytest.mark.slow

VARIANTS = {
    "default": ([COMPOSE], ""),
    "postgres": ([COMPOSE], "postgres"),
    "demo": ([COMPOSE, COMPOSE_DEMO], ""),
}


class _ComposeLoader(yaml.SafeLoader):
    """Reads Compose's merge tags (!override, !reset) as the plain values they carry."""


_ComposeLoader.add_constructor("!override", lambda loader, node: (
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node) if isinstance(node, yaml.MappingNode)
    else loader.construct_scalar(node)))  # type: ignore[arg-type]


def _compose(tmp_path: Path, files: list[Path], *args: str, profiles: str = "",
             password: str | None = "not-admin") -> Any:
    """Run the Compose CLI in a clean environment: no user .env, no COMPOSE_* leaking in."""
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    if password is not None:
        env["GRAFANA_ADMIN_PASSWORD"] = password
    if profiles:
        env["COMPOSE_PROFILES"] = profiles
    cmd: list[str | Path] = [compose_cli(), "--project-directory", ROOT, "--env-file", empty_env]
    for f in files:
        cmd += ["-f", f]
    return run([*cmd, *args], env=env)


def _resolved(tmp_path: Path, variant: str) -> dict[str, Any]:
    files, profiles = VARIANTS[variant]
    result = _compose(tmp_path, files, "config", "--format", "json", profiles=profiles)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_compose_cli_accepts_the_file(tmp_path: Path, variant: str) -> None:
    """`docker compose config -q` (the real v2 CLI) accepts each way of running the stack."""
    files, profiles = VARIANTS[variant]
    result = _compose(tmp_path, files, "config", "-q", profiles=profiles)
    assert result.returncode == 0, result.stderr


def test_compose_cli_rejects_a_broken_file(tmp_path: Path) -> None:
    """The CLI check can fail: a service with an unknown key is refused."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace(
        "    restart: unless-stopped", "    restart: unless-stopped\n    restrat: always", 1),
        encoding="utf-8")
    result = _compose(tmp_path, [broken], "config", "-q")
    assert result.returncode != 0
    assert "restrat" in result.stderr


def test_grafana_admin_password_has_no_default(tmp_path: Path) -> None:
    """Without GRAFANA_ADMIN_PASSWORD the stack refuses to start and says where to set it."""
    result = _compose(tmp_path, [COMPOSE], "config", "-q", password=None)
    assert result.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in result.stderr
    assert "set it in .env" in result.stderr


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_DEMO])
def test_files_match_the_compose_spec_schema(path: Path) -> None:
    """The files as written validate against the compose-spec JSON schema."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_ComposeLoader)
    jsonschema.Draft7Validator(schema).validate(document)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resolved_config_matches_the_schema(tmp_path: Path, variant: str) -> None:
    """What the CLI resolves (interpolated, merged with the demo override) is schema-valid."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(_resolved(tmp_path, variant))


def test_schema_rejects_a_typo() -> None:
    """The schema check can fail: a misspelt service key is an error."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    document = load_yaml(COMPOSE)
    document["services"]["grafana"]["helthcheck"] = document["services"]["grafana"]["healthcheck"]
    with pytest.raises(jsonschema.ValidationError, match="helthcheck"):
        jsonschema.Draft7Validator(schema).validate(document)


def test_services_are_local_healthy_restarting_and_ordered(tmp_path: Path) -> None:
    """Ports on 127.0.0.1, healthchecks, restarts, health-gated depends_on, named volumes."""
    config = _resolved(tmp_path, "postgres")
    services = config["services"]
    assert set(services) == {"pricewatch", "prometheus", "grafana", "postgres"}
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert volume.get("read_only"), f"{name}: bind mounts are read-only config"
            else:
                assert volume["type"] == "volume"
                assert volume["source"] in config["volumes"]
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    pg = services["pricewatch"]["depends_on"]["postgres"]
    assert pg["condition"] == "service_healthy"
    assert pg["required"] is False
    assert "postgres" not in _resolved(tmp_path, "default")["services"], "postgres is opt-in"


def test_postgres_switch_reaches_pricewatch(tmp_path: Path) -> None:
    """SQLite on /data by default; .env's PRICEWATCH_DATABASE_URL is what pricewatch gets."""
    env = _resolved(tmp_path, "default")["services"]["pricewatch"]["environment"]
    assert env["PRICEWATCH_DATABASE_URL"] == "sqlite:////data/pricewatch.db"
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert re.search(r"^# COMPOSE_PROFILES=postgres$", example, re.M)
    url = re.search(r"^# PRICEWATCH_DATABASE_URL=(postgresql://\S+@postgres:5432/\S+)$", example,
                    re.M)
    assert url is not None, "the documented switch names the postgres service"
    pg = _resolved(tmp_path, "postgres")["services"]["postgres"]["environment"]
    assert url.group(1).startswith(f"postgresql://{pg['POSTGRES_USER']}:")
    assert url.group(1).endswith(f"/{pg['POSTGRES_DB']}")


def test_demo_override_runs_the_demo_on_its_own_volume(tmp_path: Path) -> None:
    """The demo variant runs `pricewatch demo` on all interfaces without the user's config."""
    service = _resolved(tmp_path, "demo")["services"]["pricewatch"]
    assert service["command"] == ["demo", "--listen", "0.0.0.0", "--dir", "/data"]
    assert [v["source"] for v in service["volumes"]] == ["pricewatch-demo-data"]


def test_mounted_files_exist_and_prometheus_scrapes_the_service() -> None:
    """Every bind-mounted path exists, and Prometheus scrapes pricewatch's service and port."""
    services = load_yaml(COMPOSE)["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("./") and source != "./config.yaml":  # config.yaml: the user's
                assert (ROOT / source).exists(), (name, source)
    scrape = load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]
    targets = {t for job in scrape if job["job_name"] == "pricewatch"
               for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {"pricewatch:9108"}
    assert any(p.endswith(":9108") for p in services["pricewatch"]["ports"])


def test_env_example_documents_every_variable() -> None:
    """Each ${VAR} the compose files read is named in .env.example."""
    used = set()
    for path in (COMPOSE, COMPOSE_DEMO):
        used |= set(re.findall(r"\$\{(\w+)", path.read_text(encoding="utf-8")))
    documented = set(re.findall(r"^#?\s*(\w+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    assert used <= documented, used - documented


def test_pricewatch_healthcheck_is_the_images() -> None:
    """Compose repeats the Dockerfile's HEALTHCHECK command exactly (one /healthz probe)."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    image = re.search(r"^\s+CMD (\[.*\])$", dockerfile, re.M)
    assert image is not None
    service = load_yaml(COMPOSE)["services"]["pricewatch"]["healthcheck"]["test"]
    assert service == ["CMD", *json.loads(image.group(1))]
