"""deploy/k8s: valid Kubernetes objects (offline, against the API's JSON schemas bundled with
kubernetes-validate, strict: no unknown fields) shaped as the deployment needs — replicas for
the stateless parts, probes on the health endpoints, resource requests, secrets from a Secret,
a Job for migrations, state only on persistent volumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
VERSION = "1.30.0"
STATELESS = {"gateway": 2, "rasa": 2, "actions": 2}


def _objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                found.append((path.name, doc))
    return found


def _by(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _objects() if doc["kind"] == kind}


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return spec["containers"] + spec.get("initContainers", [])


@pytest.mark.parametrize("name,doc", _objects(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_object_is_valid_for_the_kubernetes_api(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, VERSION, strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert kustomization["namespace"] == "hotline"


def test_stateless_parts_run_replicated_with_probes_and_requests() -> None:
    deployments = _by("Deployment")
    assert set(deployments) == set(STATELESS)
    for name, replicas in STATELESS.items():
        workload = deployments[name]
        assert workload["spec"]["replicas"] >= replicas, name
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert container.get("readinessProbe") and container.get("livenessProbe"), name
            assert container["resources"]["requests"].get("cpu"), name
            assert container["resources"]["requests"].get("memory"), name
        assert not any("hostPath" in v for v in workload["spec"]["template"]["spec"].get(
            "volumes", [])), f"{name} keeps state on its node"
    gateway = deployments["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_state_lives_only_on_persistent_volumes() -> None:
    for name in ("redis", "postgres"):
        stateful = _by("StatefulSet")[name]
        assert stateful["spec"]["volumeClaimTemplates"], name
    claims = _by("PersistentVolumeClaim")
    assert claims["hotline-kb"]["spec"]["accessModes"] == ["ReadWriteMany"]  # shared KB edits


def test_migrations_run_as_a_job() -> None:
    job = _by("Job")["hotline-migrate"]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == ["python", "-m", "hotline", "db", "upgrade"]


def test_secrets_come_from_the_secret_and_no_real_one_is_written() -> None:
    secret = _by("Secret")["hotline-secrets"]
    assert set(secret["stringData"]) >= {"HOTLINE_DATABASE_URL", "HOTLINE_RASA_TOKEN",
                                         "POSTGRES_PASSWORD", "TELEGRAM_TOKEN"}
    assert all(v in ("",) or "change-me" in v for v in secret["stringData"].values())
    for _, doc in _objects():
        if doc["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        for container in _containers(doc):
            for env in container.get("env", []):
                if any(word in env["name"] for word in ("TOKEN", "PASSWORD", "DATABASE_URL")):
                    assert "valueFrom" in env, (doc["metadata"]["name"], env["name"])
    config = _by("ConfigMap")["hotline-config"]["data"]
    assert not any(word in key for key in config for word in ("TOKEN", "PASSWORD"))


def test_rasa_serves_its_api_behind_the_token_and_only_inside() -> None:
    rasa = _by("Deployment")["rasa"]["spec"]["template"]["spec"]["containers"][0]
    assert "--auth-token=$(HOTLINE_RASA_TOKEN)" in rasa["args"]
    policy = _by("NetworkPolicy")["internal-only"]
    guarded = policy["spec"]["podSelector"]["matchExpressions"][0]["values"]
    assert set(guarded) == {"rasa", "actions", "redis", "postgres"}
    ingress = _by("Ingress")["hotline"]
    backends = {p["backend"]["service"]["name"]
                for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert backends == {"gateway"}
