"""The compose file, its nginx configuration and the Kubernetes manifests, checked for real."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from streaming.management.commands import serve
from tests.e2e.server import REPO_ROOT
from tests.service_env import REQUIRE_SERVICES

DOCKER = REPO_ROOT / "docker"
KUBERNETES = DOCKER / "kubernetes"
NGINX_CONF = DOCKER / "nginx" / "sidekick.conf"
KUBERNETES_VERSION = "1.30.0"
INSTANCES = ("sidekick-1", "sidekick-2")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_services_and_order(compose):
    services = compose["services"]

    assert set(services) == {"postgres", "redis", "migrate", *INSTANCES, "nginx"}
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in INSTANCES:
        instance = services[name]
        assert instance["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert instance["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert instance["environment"]["DATABASE_URL"].startswith("postgres://")
        probe = " ".join(instance["healthcheck"]["test"])
        assert "/readyz" in probe
    for name in INSTANCES:
        assert services["nginx"]["depends_on"][name]["condition"] == "service_healthy"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def _directives(block: str) -> dict[str, str]:
    return {
        match[1]: match[2].strip()
        for match in re.finditer(r"^\s*(\w+)\s+([^;{]*);", block, re.MULTILINE)
    }


def _location(conf: str, path: str) -> str:
    match = re.search(rf"location = {re.escape(path)} \{{(.*?)\n    \}}", conf, re.DOTALL)
    assert match, f"no location = {path}"
    return match[1]


def test_nginx_streams_without_buffering(compose):
    conf = NGINX_CONF.read_text()
    stream = _directives(_location(conf, "/stream"))

    assert stream["proxy_buffering"] == "off"
    assert stream["proxy_http_version"] == "1.1"
    assert stream["proxy_set_header"]  # Connection "" and the forwarded headers
    assert 'proxy_set_header Connection ""' in _location(conf, "/stream")
    assert stream["proxy_read_timeout"] == "1h"
    upstream = re.search(r"upstream sidekick \{(.*?)\}", conf, re.DOTALL)
    assert upstream
    assert {f"{name}:8000" for name in INSTANCES} <= set(
        re.findall(r"server (\S+?)[;\s]", upstream[1])
    )
    mount = "./nginx/sidekick.conf:/etc/nginx/conf.d/default.conf:ro"
    assert mount in compose["services"]["nginx"]["volumes"]


def _nginx() -> str:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        message = "nginx is not installed (scripts/install-system-deps.sh ops)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    return binary


def _nginx_test(conf_text: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    # The upstream host names exist only inside compose's network: map them to this host.
    for name in INSTANCES:
        conf_text = conf_text.replace(f"server {name}:8000", "server 127.0.0.1:8000")
    (workdir / "sidekick.conf").write_text(conf_text)
    (workdir / "logs").mkdir(exist_ok=True)
    main = workdir / "nginx.conf"
    main.write_text(
        f"pid {workdir / 'nginx.pid'};\nevents {{}}\n"
        f"http {{\n    include {workdir / 'sidekick.conf'};\n}}\n"
    )
    return subprocess.run(
        [_nginx(), "-t", "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_nginx_accepts_the_configuration(tmp_path):
    done = _nginx_test(NGINX_CONF.read_text(), tmp_path)

    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_nginx_check_catches_a_planted_error(tmp_path):
    broken = NGINX_CONF.read_text().replace("proxy_buffering off;", "proxy_buffering sometimes;")

    done = _nginx_test(broken, tmp_path)

    assert done.returncode != 0
    assert "proxy_buffering" in done.stderr


def _kubernetes_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    command = [str(REPO_ROOT / ".venv" / "bin" / "kubernetes-validate"), "--strict", "--quiet"]
    command += ["--kubernetes-version", KUBERNETES_VERSION, *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_kubernetes_manifests_validate():
    manifests = sorted(KUBERNETES.glob("*.yaml"))
    kinds = {yaml.safe_load(path.read_text())["kind"] for path in manifests}

    done = _kubernetes_validate(*manifests)

    assert done.returncode == 0, done.stdout + done.stderr
    assert kinds == {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Job",
    }


@pytest.mark.parametrize(
    ("original", "planted"),
    [
        ("replicas: 2", "replicas: two"),
        ("runAsNonRoot: true", "runAsNonRoot: true\n        runAsRoot: false"),
    ],
)
def test_kubernetes_validation_catches_a_planted_error(tmp_path, original, planted):
    text = (KUBERNETES / "deployment.yaml").read_text()
    assert original in text
    broken = tmp_path / "deployment.yaml"
    broken.write_text(text.replace(original, planted, 1))

    done = _kubernetes_validate(broken)

    assert done.returncode != 0
    assert "did not validate" in done.stdout + done.stderr


def test_deployment_probes_shutdown_window_and_security():
    deployment = yaml.safe_load((KUBERNETES / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert deployment["spec"]["replicas"] >= 2
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["lifecycle"]["preStop"]
    assert pod["terminationGracePeriodSeconds"] > 30
    # SIGKILL never cuts the graceful shutdown short: the grace period (counted from preStop)
    # holds the preStop pause plus the shutdown bound, and the supervisor's margin past it.
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    shutdown = float(settings.SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS)
    assert pod["terminationGracePeriodSeconds"] >= pause + shutdown + serve.STOP_MARGIN_SECONDS
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    sources = {next(iter(source)) for source in container["envFrom"]}
    assert sources == {"configMapRef", "secretRef"}
