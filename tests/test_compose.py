"""docker-compose.yml: valid for Compose and shaped as the deployment needs.

No Docker engine runs here; ``docker-compose config`` (Debian's docker-compose) validates the
file against the Compose schema without one. The structural checks run everywhere.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = {"redis", "postgres", "migrate", "rasa", "actions", "app", "lb"}
HAPROXY_CFG = ROOT / "deploy" / "compose" / "haproxy.cfg"
ONE_SHOT = {"migrate"}  # runs to completion; the others wait for it to have succeeded


def _load() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies() -> None:
    services = _load()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        if name not in ONE_SHOT:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services
            wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert cond == {"condition": wanted}, f"{name} → {dep}"
    assert set(services["app"]["depends_on"]) == {"migrate", "redis", "lb"}
    assert "migrate" in services["actions"]["depends_on"]
    assert "redis" in services["rasa"]["depends_on"]
    assert services["migrate"]["command"] == ["python", "-m", "hotline", "db", "upgrade"]
    assert "db upgrade" not in " ".join(services["app"]["command"])  # not once per replica


def test_gateways_rasa_and_actions_run_as_replicas_behind_the_balancer() -> None:
    """Issue 15: the topology of `hotline run --replicas 2`; every call between the kinds goes
    through HAProxy, which finds the replicas through Docker's DNS."""
    compose = _load()
    services = compose["services"]
    for name in ("app", "rasa", "actions"):
        assert services[name]["deploy"]["replicas"] >= 2, name
    assert compose["x-app-env"]["HOTLINE_RASA_URL"] == "http://lb:5005"
    assert services["rasa"]["environment"]["ACTION_ENDPOINT_URL"] == "http://lb:5055/webhook"
    config = HAPROXY_CFG.read_text(encoding="utf-8")
    for template in ("app:8080", "rasa:5005", "actions:5055"):
        assert f" {template}" in config and "server-template" in config, template
    for port in (":8080", ":5005", ":5055"):
        assert f"bind {port}" in config
    assert "resolvers docker" in config and "127.0.0.11:53" in config
    assert "option forwardfor" in config
    subnet = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert services["app"]["environment"]["HOTLINE_TRUSTED_PROXIES"] == subnet
    assert "./deploy/compose/haproxy.cfg:" in services["lb"]["volumes"][0]


@pytest.mark.skipif(shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
                    reason="haproxy is not installed (scripts/test.sh installs it as root)")
def test_haproxy_accepts_the_balancers_configuration() -> None:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    done = subprocess.run([binary, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr


def test_rasa_builds_on_the_public_image_with_this_projects_files() -> None:
    service = _load()["services"]["rasa"]
    dockerfile = (ROOT / service["build"]["dockerfile"]).read_text(encoding="utf-8")
    assert "FROM rasa/rasa:3.6.21-full" in dockerfile
    for needed in ("config.yml", "endpoints.yml", "nlu", "models/current.tar.gz"):
        assert needed in dockerfile
    for path in ("config.yml", "endpoints.yml", "credentials.yml", "domain", "nlu"):
        assert (ROOT / path).exists()


def test_no_secret_is_written_in_the_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert "${POSTGRES_PASSWORD:?" in text
    assert "TELEGRAM_TOKEN: ${TELEGRAM_TOKEN" in text
    assert "${RASA_TOKEN:?" in text


def test_rasa_and_actions_are_internal_and_rasa_needs_its_token() -> None:
    """Issue 10: only the balancer publishes a port; Rasa and the action server sit on an
    internal network, and Rasa's HTTP API needs the token (the healthcheck and the app send
    it)."""
    compose = _load()
    services = compose["services"]
    assert services["lb"]["ports"] == ["8080:8080"]
    for name in SERVICES - {"lb"}:
        assert not services[name].get("ports"), f"{name} publishes a port"
    for name in SERVICES - {"app", "lb"}:
        assert services[name]["networks"] == ["backend"], name
    assert compose["networks"]["backend"]["internal"] is True
    assert set(services["app"]["networks"]) == {"backend", "default"}
    assert set(services["lb"]["networks"]) == {"backend", "default"}
    rasa = services["rasa"]
    assert "--auth-token=${RASA_TOKEN:?set RASA_TOKEN}" in rasa["command"]
    assert rasa["environment"]["HOTLINE_RASA_TOKEN"].startswith("${RASA_TOKEN:?")
    assert "token=" in " ".join(rasa["healthcheck"]["test"])
    assert services["app"]["environment"]["HOTLINE_RASA_TOKEN"].startswith("${RASA_TOKEN:?")
    assert "HOTLINE_RASA_TOKEN" not in compose["x-app-env"]  # the action server needn't know it


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="Debian's docker-compose is not installed (scripts/test.sh installs it as root)")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD": "example-only", "HOME": str(tmp_path),
           "RASA_TOKEN": "example-token"}
    done = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(done.stdout)
    assert set(rendered["services"]) == SERVICES
    services = rendered["services"]
    command = services["rasa"]["command"]
    assert "--auth-token=example-token" in command
    assert services["app"]["environment"]["HOTLINE_RASA_TOKEN"] == "example-token"
    assert [p["published"] for p in services["lb"]["ports"]] == [8080]
    assert not any(services[name].get("ports") for name in SERVICES - {"lb"})
    assert services["app"]["deploy"]["replicas"] == 2
    assert rendered["networks"]["backend"]["internal"] is True


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_refuses_a_missing_rasa_token(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD": "example-only", "HOME": str(tmp_path)}
    done = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert done.returncode != 0
    assert "RASA_TOKEN" in done.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_refuses_a_missing_database_password(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD" in done.stderr
