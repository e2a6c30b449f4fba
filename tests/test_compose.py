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


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="Debian's docker-compose is not installed (scripts/test.sh installs it as root)")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD": "example-only", "HOME": str(tmp_path)}
    done = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(done.stdout)
    assert set(rendered["services"]) == SERVICES


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_refuses_a_missing_database_password(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD" in done.stderr
