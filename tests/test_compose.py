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
SERVICES = {"redis", "postgres", "rasa", "actions", "app"}


def _load() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies() -> None:
    services = _load()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services
            assert cond == {"condition": "service_healthy"}, f"{name} → {dep}"
    assert set(services["app"]["depends_on"]) == {"postgres", "redis", "rasa"}
    assert "redis" in services["rasa"]["depends_on"]


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
    """Issue 10: only the app publishes a port; Rasa and the action server sit on an internal
    network, and Rasa's HTTP API needs the token (the healthcheck and the app send it)."""
    compose = _load()
    services = compose["services"]
    assert services["app"]["ports"] == ["8080:8080"]
    for name in SERVICES - {"app"}:
        assert not services[name].get("ports"), f"{name} publishes a port"
        assert services[name]["networks"] == ["backend"], name
    assert compose["networks"]["backend"]["internal"] is True
    assert set(services["app"]["networks"]) == {"backend", "default"}
    rasa = services["rasa"]
    assert rasa["command"][rasa["command"].index("--auth-token") + 1].startswith("${RASA_TOKEN:?")
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
    assert command[command.index("--auth-token") + 1] == "example-token"
    assert services["app"]["environment"]["HOTLINE_RASA_TOKEN"] == "example-token"
    assert [p["published"] for p in services["app"]["ports"]] == [8080]
    assert not any(services[name].get("ports") for name in SERVICES - {"app"})
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
