"""deploy/k8s: every manifest is valid for the pinned Kubernetes versions (strict schema), and says what the hub
needs (its real health endpoints, its real settings, non-root, read-only, secrets as files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import ValidationError

from service.app import create_app
from service.config import Settings
from tests.deploy._files import manifest_documents

# The oldest Kubernetes release the manifests support, and the newest checked; strict mode refuses unknown fields.
KUBERNETES_VERSIONS = ["1.33.0", "1.36.0"]
DOCUMENTS = manifest_documents()


def _id(item: tuple[Path, dict[str, Any]]) -> str:
    path, document = item
    return f"{path.name}:{document['kind']}/{document['metadata']['name']}"


def _kind(kind: str) -> list[dict[str, Any]]:
    return [document for _, document in DOCUMENTS if document["kind"] == kind]


def _pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec = document["spec"]
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: dict[str, Any] = spec["template"]["spec"]
    return result


def test_every_kind_is_there() -> None:
    """The objects docs/operations.md applies are all present."""
    kinds = {document["kind"] for _, document in DOCUMENTS}
    assert {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
        "CronJob",
        "Job",
        "Secret",
        "ConfigMap",
    } <= kinds


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("item", DOCUMENTS, ids=_id)
def test_manifest_is_valid(item: tuple[Path, dict[str, Any]], version: str) -> None:
    """Each document passes the Kubernetes JSON schema of `version` in strict mode."""
    _, document = item
    kubernetes_validate.validate(document, version, strict=True)


def test_strict_validation_catches_a_misplaced_field() -> None:
    """The check above really checks: a field in the wrong place is refused (strict mode)."""
    deployment = next(iter(_kind("Deployment")))
    broken = {
        **deployment,
        "spec": {**deployment["spec"], "readinessProbe": {"httpGet": {"path": "/readyz"}}},
    }
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_probes_use_the_hubs_health_endpoints() -> None:
    """Readiness is /readyz (database and migrations), liveness /healthz — both routes the hub really has."""
    routes = {getattr(route, "path", None) for route in create_app(Settings()).routes}
    (deployment,) = _kind("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (container,) = _pod_spec(deployment)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz"} <= routes


@pytest.mark.parametrize("kind", ["Deployment", "Job", "CronJob"])
def test_pods_are_unprivileged_and_read_only(kind: str) -> None:
    """Non-root, no privilege escalation, no capabilities, read-only root with writable /tmp, secrets as files."""
    for document in _kind(kind):
        pod = _pod_spec(document)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]  # noqa: S108 (a path inside the pod)
            assert "secret" in volumes[mounts["/run/secrets/madoguchi"]]
            env = {item["name"]: item.get("value") for item in container.get("env", [])}
            assert env["CREDENTIALS_DIRECTORY"] == "/run/secrets/madoguchi"
            # No secret travels as an environment variable.
            assert not any("valueFrom" in item for item in container.get("env", []))


def test_settings_name_real_hub_settings() -> None:
    """Every HUB_* key of the ConfigMap and the Secret is a hub setting (a typo would be silently ignored)."""
    fields = {f"HUB_{name.upper()}" for name in Settings.model_fields}
    (hub_config,) = [
        document for document in _kind("ConfigMap") if document["metadata"]["name"] == "madoguchi-hub"
    ]
    (secret,) = _kind("Secret")
    keys = set(hub_config["data"]) | {key for key in secret["stringData"] if key.startswith("HUB_")}
    assert keys <= fields, keys - fields
    assert {"HUB_SECRET_KEY", "HUB_TURN_SECRET", "HUB_DATABASE_URL"} <= set(secret["stringData"])
    # Key files named by the ConfigMap are in the Secret volume.
    for setting in ("HUB_KEK_FILE", "HUB_AUDIT_SIGNING_KEY_FILE"):
        assert Path(hub_config["data"][setting]).name in secret["stringData"]
    # The example holds placeholders only.
    assert all("REPLACE" in value for value in secret["stringData"].values())


def test_signaling_websocket_gets_long_proxy_timeouts() -> None:
    """nginx closes a proxied connection after 60 s without data by default; the live link must outlast that."""
    from service.signaling.service import SIGNALING_PATH

    ingresses = _kind("Ingress")
    (signaling,) = [
        ingress
        for ingress in ingresses
        if any(
            path["path"] == SIGNALING_PATH
            for rule in ingress["spec"]["rules"]
            for path in rule["http"]["paths"]
        )
    ]
    annotations = signaling["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600


def test_metrics_are_not_public() -> None:
    """/metrics has its own Ingress that admits only the controller itself, so outsiders get 403."""
    (metrics,) = [
        ingress
        for ingress in _kind("Ingress")
        if any(
            path["path"] == "/metrics" for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
        )
    ]
    assert (
        metrics["metadata"]["annotations"]["nginx.ingress.kubernetes.io/whitelist-source-range"]
        == "127.0.0.1/32"
    )
