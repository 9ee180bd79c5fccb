"""docker-compose.yml: valid for the Compose v2 CLI and the compose-spec schema, safe defaults."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.support import (
    COMPOSE,
    COMPOSE_BROWSER,
    COMPOSE_CLUSTER,
    COMPOSE_DEMO,
    COMPOSE_POSTGRES_PORT,
    COMPOSE_SCHEMA,
    DATASOURCES,
    ENV_EXAMPLE,
    PROMETHEUS_DIR,
    ROOT,
    compose_cli,
    load_yaml,
    run,
)

pytestmark = pytest.mark.slow

VARIANTS = {
    "default": [COMPOSE],
    "demo": [COMPOSE, COMPOSE_DEMO],
    "postgres-port": [COMPOSE, COMPOSE_POSTGRES_PORT],
    "browser": [COMPOSE, COMPOSE_BROWSER],
    "cluster": [COMPOSE, COMPOSE_CLUSTER],
}
PASSWORDS = {"GRAFANA_ADMIN_PASSWORD": "not-admin", "POSTGRES_PASSWORD": "pg-secret"}
# The header of config.example.yaml explains the syntax with these names; they are not settings.
PLACEHOLDERS = {"VAR", "ENV"}


class _ComposeLoader(yaml.SafeLoader):
    """Reads Compose's merge tags (!override, !reset) as the plain values they carry."""


for _tag in ("!override", "!reset"):
    _ComposeLoader.add_constructor(_tag, lambda loader, node: (
        loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node) if isinstance(node, yaml.MappingNode)
        else loader.construct_scalar(node)))  # type: ignore[arg-type]


def _compose(tmp_path: Path, files: list[Path], *args: str, dotenv: str | None = None,
             passwords: dict[str, str] | None = None) -> Any:
    """Run the Compose CLI on copies of ``files`` in a project directory of its own, with
    ``dotenv`` as its .env (none by default) and a clean environment (no COMPOSE_* leaking in,
    and no .env of the developer's checkout)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    for f in files:
        shutil.copy(f, project / f.name)
    if dotenv is not None:
        (project / ".env").write_text(dotenv, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           **(PASSWORDS if passwords is None else passwords)}
    cmd: list[str | Path] = [compose_cli(), "--project-directory", project]
    for f in files:
        cmd += ["-f", project / f.name]
    return run([*cmd, *args], env=env, cwd=project)


def _resolved(tmp_path: Path, variant: str, *, dotenv: str | None = None) -> dict[str, Any]:
    result = _compose(tmp_path, VARIANTS[variant], "config", "--format", "json", dotenv=dotenv)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _config_variables() -> set[str]:
    """The ${NAME}s config.example.yaml reads (with or without a default)."""
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)(?::-[^}]*)?\}", text)) - PLACEHOLDERS


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_compose_cli_accepts_the_file(tmp_path: Path, variant: str) -> None:
    """`docker compose config -q` (the real v2 CLI) accepts each way of running the stack."""
    result = _compose(tmp_path, VARIANTS[variant], "config", "-q")
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


@pytest.mark.parametrize("missing", sorted(PASSWORDS))
def test_passwords_have_no_default(tmp_path: Path, missing: str) -> None:
    """Without GRAFANA_ADMIN_PASSWORD or POSTGRES_PASSWORD the stack refuses to start and says
    where to set it."""
    passwords = {k: v for k, v in PASSWORDS.items() if k != missing}
    result = _compose(tmp_path, [COMPOSE], "config", "-q", passwords=passwords)
    assert result.returncode != 0
    assert missing in result.stderr
    assert "set it in .env" in result.stderr


def test_a_dotenv_with_a_secret_reaches_the_config(tmp_path: Path) -> None:
    """With an .env naming every ${VAR} of config.example.yaml, `config -q` passes and the
    rendered pricewatch service carries each of them, with its value, into the container."""
    names = _config_variables()
    assert {"NTFY_TOPIC", "SMTP_PASSWORD", "HOOK_TOKEN"} <= names, names
    secrets = {name: f"s3cret-{name.lower()}" for name in sorted(names)}
    dotenv = "".join(f"{k}={v}\n" for k, v in {**PASSWORDS, **secrets}.items())
    result = _compose(tmp_path, [COMPOSE], "config", "-q", dotenv=dotenv, passwords={})
    assert result.returncode == 0, result.stderr
    environment = _resolved(tmp_path, "default", dotenv=dotenv)["services"]["pricewatch"][
        "environment"]
    missing = {k: v for k, v in secrets.items() if environment.get(k) != v}
    assert not missing, f"not passed to the pricewatch container: {sorted(missing)}"


def test_env_example_names_every_config_variable() -> None:
    """.env.example lists each ${VAR} config.example.yaml reads, so a user knows where to set it."""
    documented = set(re.findall(r"^#?\s*(\w+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    assert _config_variables() <= documented, _config_variables() - documented


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_DEMO, COMPOSE_POSTGRES_PORT,
                                  COMPOSE_BROWSER, COMPOSE_CLUSTER])
def test_files_match_the_compose_spec_schema(path: Path) -> None:
    """The files as written validate against the compose-spec JSON schema."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_ComposeLoader)
    jsonschema.Draft7Validator(schema).validate(document)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resolved_config_matches_the_schema(tmp_path: Path, variant: str) -> None:
    """What the CLI resolves (interpolated, merged with the overrides) is schema-valid."""
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
    config = _resolved(tmp_path, "default")
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
    for name in ("pricewatch", "grafana"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name


def test_postgres_is_the_default_and_publishes_no_port(tmp_path: Path) -> None:
    """pricewatch writes to the postgres service by default, which has no host port; the
    port override publishes it on 127.0.0.1 only."""
    services = _resolved(tmp_path, "default")["services"]
    pg = services["postgres"]
    assert "profiles" not in pg
    assert not pg.get("ports"), "a host's own PostgreSQL must keep its port"
    env = pg["environment"]
    url = services["pricewatch"]["environment"]["PRICEWATCH_DATABASE_URL"]
    assert url == (f"postgresql://{env['POSTGRES_USER']}:{PASSWORDS['POSTGRES_PASSWORD']}"
                   f"@postgres:5432/{env['POSTGRES_DB']}")
    published = _resolved(tmp_path, "postgres-port")["services"]["postgres"]["ports"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in published] == [
        ("127.0.0.1", "5432", 5432)]


def test_grafana_reads_the_history_from_the_compose_database(tmp_path: Path) -> None:
    """The provisioned PostgreSQL datasource points at the postgres service, its user and
    database, with the password compose hands Grafana: history works out of the box."""
    services = _resolved(tmp_path, "default")["services"]
    pg = services["postgres"]["environment"]
    grafana = services["grafana"]
    assert grafana["environment"]["POSTGRES_PASSWORD"] == PASSWORDS["POSTGRES_PASSWORD"]
    assert grafana["depends_on"]["postgres"]["condition"] == "service_healthy"
    (source,) = [d for d in load_yaml(DATASOURCES)["datasources"]
                 if d["type"] == "grafana-postgresql-datasource"]
    assert source["url"] == "postgres:5432"
    assert source["user"] == pg["POSTGRES_USER"]
    assert source["jsonData"]["database"] == pg["POSTGRES_DB"]
    assert source["secureJsonData"]["password"] == "$POSTGRES_PASSWORD"


def test_sqlite_is_one_line_of_dotenv_away(tmp_path: Path) -> None:
    """The .env.example line that switches the container to SQLite is what pricewatch gets."""
    line = re.search(r"^# (PRICEWATCH_DATABASE_URL=sqlite:////data/\S+)$",
                     ENV_EXAMPLE.read_text(encoding="utf-8"), re.M)
    assert line is not None
    dotenv = "".join(f"{k}={v}\n" for k, v in PASSWORDS.items()) + line.group(1) + "\n"
    env = _resolved(tmp_path, "default", dotenv=dotenv)["services"]["pricewatch"]["environment"]
    assert env["PRICEWATCH_DATABASE_URL"] == "sqlite:////data/pricewatch.db"


def test_the_config_directory_is_mounted_not_the_file(tmp_path: Path) -> None:
    """pricewatch gets ./config as a read-only directory at /config, and its -c file is in it,
    so an editor's replaced file is what the reload watcher sees."""
    service = _resolved(tmp_path, "default")["services"]["pricewatch"]
    binds = [v for v in service["volumes"] if v["type"] == "bind"]
    assert [(Path(v["source"]).name, v["target"], v["read_only"]) for v in binds] == [
        ("config", "/config", True)]
    assert not binds[0]["source"].endswith((".yaml", ".yml"))
    config_file = service["command"][service["command"].index("-c") + 1]
    assert Path(config_file).parent == Path("/config")
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"PRICEWATCH_CONFIG={config_file}" in dockerfile, "exec'd commands find it too"


def test_demo_override_runs_the_demo_on_volumes_of_its_own(tmp_path: Path) -> None:
    """The demo variant runs `pricewatch demo` on all interfaces without the user's config, and
    its PostgreSQL data lives apart from the user's."""
    services = _resolved(tmp_path, "demo")["services"]
    service = services["pricewatch"]
    assert service["command"] == ["demo", "--listen", "0.0.0.0", "--dir", "/data"]
    assert [v["source"] for v in service["volumes"]] == ["pricewatch-demo-data"]
    assert [v["source"] for v in services["postgres"]["volumes"]] == ["postgres-demo-data"]


def test_mounted_files_exist_and_prometheus_scrapes_the_service() -> None:
    """Every bind-mounted path exists, and Prometheus scrapes pricewatch's service and port."""
    services = load_yaml(COMPOSE)["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("./"):  # the config directory is the user's (${...} source)
                assert (ROOT / source).exists(), (name, source)
    scrape = load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]
    targets = {t for job in scrape if job["job_name"] == "pricewatch"
               for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {"pricewatch:9108"}
    assert any(p.endswith(":9108") for p in services["pricewatch"]["ports"])


def test_cluster_override_scales_replicas_prometheus_finds_them(tmp_path: Path) -> None:
    """The cluster variant runs `run --cluster`, publishes no host port (so `--scale
    pricewatch=3` does not collide), and Prometheus discovers every replica by DNS."""
    services = _resolved(tmp_path, "cluster")["services"]
    service = services["pricewatch"]
    assert "--cluster" in service["command"]
    assert not service.get("ports")
    mounts = {v["source"].rsplit("/", 1)[-1] for v in services["prometheus"]["volumes"]}
    assert {"prometheus.yml", "rules.yml"} <= mounts
    config = load_yaml(PROMETHEUS_DIR / "cluster" / "prometheus.yml")
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "pricewatch")
    assert job["dns_sd_configs"][0]["names"] == ["pricewatch"]
    assert job["dns_sd_configs"][0]["port"] == 9108


def test_env_example_documents_every_variable() -> None:
    """Each ${VAR} the compose files read is named in .env.example."""
    used = set()
    for path in (COMPOSE, COMPOSE_DEMO, COMPOSE_POSTGRES_PORT, COMPOSE_BROWSER):
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


def test_browser_override_adds_a_private_matching_browser_service(tmp_path: Path) -> None:
    """docker-compose.browser.yml: the official Playwright image publishes no port, is
    healthy before pricewatch starts, runs the release the pricewatch image is built with
    (one PLAYWRIGHT_VERSION), and pricewatch is told its endpoint."""
    services = _resolved(tmp_path, "browser")["services"]
    browser, pricewatch = services["browser"], services["pricewatch"]
    assert browser["image"].startswith("mcr.microsoft.com/playwright:v")
    assert "ports" not in browser
    assert pricewatch["depends_on"]["browser"]["condition"] == "service_healthy"
    version = pricewatch["build"]["args"]["PLAYWRIGHT_VERSION"]
    assert browser["image"] == f"mcr.microsoft.com/playwright:v{version}-noble"
    assert f"playwright@{version}" in browser["command"]
    assert pricewatch["build"]["args"]["PRICEWATCH_EXTRAS"] == "browser"
    assert pricewatch["environment"]["PRICEWATCH_BROWSER_ENDPOINT"] == "ws://browser:3000/"
    pinned = _resolved(tmp_path, "browser", dotenv="PLAYWRIGHT_VERSION=1.50.0\n")["services"]
    assert pinned["browser"]["image"].endswith(":v1.50.0-noble")
    assert pinned["pricewatch"]["build"]["args"]["PLAYWRIGHT_VERSION"] == "1.50.0"
