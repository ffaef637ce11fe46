"""The deployment files of the generated projects, read as Kubernetes and Docker read them:
images pinned to the project's version, credentials only in Secrets, every pod behind a
NetworkPolicy (the Dask cluster reachable by the project's own pods only), the REST service's
probes, scaling and disruption budget, and every migration in the database image."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .dockerfile_runner import dockerignore_rules, excluded

BATCH = {"data_volume": "moderate", "data_churn": "cadence", "realtime_sla": "no"}
PROJECTS = {
    "batch-pandas": {**BATCH, "caller": "file_based"},
    "batch-dask": {**BATCH, "data_volume": "high", "caller": "file_based"},
    "batch-spark": {"deployment_strategy": "batch", "batch_engine": "spark"},
    "precompute": {"deployment_strategy": "precompute"},
    "stream": {"deployment_strategy": "stream"},
    "stream-legal": {"deployment_strategy": "stream", "legal_review": "yes"},
    "rest": {"deployment_strategy": "rest"},
    "rest-stateful-legal": {
        "deployment_strategy": "rest",
        "stateful": "yes",
        "legal_review": "yes",
        "peak_rps": "2600",
    },
}
HARDENED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
"""The securityContext every container of every manifest has, whatever code it runs."""
SKIPPED_EVERYWHERE = "CKV_K8S_21"
"""The one checkov check no manifest passes (none names a namespace), each says so at its top;
every other skip is an annotation of the resource it concerns, with its reason."""
SKIP = re.compile(r"CKV2?_K8S_\d+=\S.*")
CREDENTIALS = re.compile(r"\w+://[^\s/@:]+:[^\s/@]+@")


@pytest.fixture(scope="module")
def bake(cookies_session) -> Callable[[str], Path]:
    projects: dict[str, Path] = {}

    def bake(name: str) -> Path:
        if name not in projects:
            answers = PROJECTS.get(name, {"deployment_strategy": name})
            result = cookies_session.bake(extra_context=answers)
            assert result.exception is None, result.exception
            projects[name] = Path(result.project_path)
        return projects[name]

    return bake


def manifest_files(project: Path) -> list[Path]:
    """The Kubernetes manifests: deploy/ (batch, precompute) and k8s/ (stream)."""
    return [
        path for folder in ("deploy", "k8s") for path in sorted((project / folder).rglob("*.yaml"))
    ]


def manifests(project: Path) -> list[dict[str, Any]]:
    return [
        document
        for path in manifest_files(project)
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
    ]


def pod_specs(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = document.get("spec", {})
    if document["kind"] == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif document["kind"] in {"Job", "Deployment"}:
        yield spec["template"]["spec"]


def pod_templates(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pods a ConfigMap describes for others to start (Spark's executors: Spark sets
    their image)."""
    if document["kind"] == "ConfigMap":
        for name, text in document.get("data", {}).items():
            if name.endswith(".yaml") and (pod := yaml.safe_load(text))["kind"] == "Pod":
                yield pod["spec"]


@pytest.mark.parametrize("name", PROJECTS)
def test_images_carry_the_project_version(bake, name: str) -> None:
    project = bake(name)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    version = pyproject["project"]["version"]
    images = [
        container["image"]
        for document in manifests(project)
        for pod in pod_specs(document)
        for container in pod["containers"]
    ]
    assert images
    assert all(image == f"{project.name}:{version}" for image in images), images


@pytest.mark.parametrize("name", PROJECTS)
def test_credentials_come_from_secrets_only(bake, name: str) -> None:
    for document in manifests(bake(name)):
        for pod in pod_specs(document):
            for container in pod["containers"]:
                for variable in container.get("env", []):
                    assert not CREDENTIALS.search(str(variable.get("value", ""))), variable
                    source = variable.get("valueFrom", {})
                    # fieldRef: the pod's own name and namespace (the downward API).
                    assert set(source) <= {"secretKeyRef", "fieldRef"}, variable
    if name == "precompute":
        (job,) = [d for d in manifests(bake(name)) if d["kind"] == "Job"]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        (source,) = [v for v in container["env"] if v["name"].endswith("_SOURCE")]
        assert "secretKeyRef" in source["valueFrom"]


def test_only_the_projects_own_pods_reach_the_dask_cluster(bake) -> None:
    project = bake("batch-dask")
    documents = manifests(project)
    policies = {
        document["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: document
        for document in documents
        if document["kind"] == "NetworkPolicy"
    }
    assert set(policies) == {"score", "dask-scheduler", "dask-worker"}
    assert "ingress" not in policies.pop("score")["spec"], "the job itself accepts nothing"
    allowed = {"dask-scheduler": ["score", "dask-worker"]}
    allowed["dask-worker"] = ["score", "dask-scheduler", "dask-worker"]
    for component, policy in policies.items():
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        (rule,) = policy["spec"]["ingress"]
        (peer,) = rule["from"]
        selector = peer["podSelector"]
        assert selector["matchLabels"] == {"app.kubernetes.io/name": project.name}
        (expression,) = selector["matchExpressions"]
        assert expression["key"] == "app.kubernetes.io/component"
        assert expression["operator"] == "In"
        assert expression["values"] == allowed[component]
    scheduler_ports = policies["dask-scheduler"]["spec"]["ingress"][0]["ports"]
    assert scheduler_ports == [{"protocol": "TCP", "port": 8786}]
    # Every pod those policies name is one of the manifests' pods.
    components = {
        template["metadata"]["labels"]["app.kubernetes.io/component"]
        for document in documents
        if document["kind"] in {"CronJob", "Deployment"}
        for template in [
            document["spec"]["jobTemplate"]["spec"]["template"]
            if document["kind"] == "CronJob"
            else document["spec"]["template"]
        ]
    }
    assert components == {"score", "dask-scheduler", "dask-worker"}


def test_spark_executors_run_the_project_image_and_only_its_pods_reach_them(bake) -> None:
    project = bake("batch-spark")
    documents = {(d["kind"], d["metadata"]["name"]): d for d in manifests(project)}
    cronjob = documents["CronJob", f"{project.name}-score"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert ("ServiceAccount", pod["serviceAccountName"]) in documents
    conf_dir = next(v["value"] for v in container["env"] if v["name"] == "SPARK_CONF_DIR")
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == conf_dir]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    config = documents["ConfigMap", volume["configMap"]["name"]]["data"]
    defaults = dict(
        line.split(None, 1)
        for line in config["spark-defaults.conf"].splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert defaults["spark.kubernetes.container.image"] == container["image"]
    template_file = Path(defaults["spark.kubernetes.executor.podTemplateFile"])
    assert template_file.parent == Path(conf_dir) and template_file.name in config
    executor = yaml.safe_load(config[template_file.name])
    assert executor["metadata"]["labels"]["app.kubernetes.io/component"] == "spark-executor"
    assert executor["spec"]["securityContext"]["runAsNonRoot"] is True
    driver = documents["Service", defaults["spark.driver.host"]]
    assert driver["spec"]["selector"]["app.kubernetes.io/component"] == "score"
    assert {port["port"] for port in driver["spec"]["ports"]} == {
        int(defaults["spark.driver.port"]),
        int(defaults["spark.driver.blockManager.port"]),
    }
    policies = {
        document["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: document
        for document in documents.values()
        if document["kind"] == "NetworkPolicy"
    }
    assert set(policies) == {"score", "spark-executor"}
    (rule,) = policies["score"]["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": project.name,
        "app.kubernetes.io/component": "spark-executor",
    }
    (rule,) = policies["spark-executor"]["spec"]["ingress"]
    (peer,) = rule["from"]
    (expression,) = peer["podSelector"]["matchExpressions"]
    assert expression["values"] == ["score", "spark-executor"]


def pod_labels(document: dict[str, Any]) -> dict[str, str] | None:
    spec = document.get("spec", {})
    if document["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    if document["kind"] in {"Job", "Deployment"}:
        return spec["template"]["metadata"]["labels"]
    return None


@pytest.mark.parametrize("name", PROJECTS)
def test_every_pod_is_selected_by_a_network_policy(bake, name: str) -> None:
    documents = manifests(bake(name))
    selectors = [
        document["spec"]["podSelector"]["matchLabels"]
        for document in documents
        if document["kind"] == "NetworkPolicy"
    ]
    pods = [labels for document in documents if (labels := pod_labels(document)) is not None]
    assert pods
    for labels in pods:
        assert any(selector.items() <= labels.items() for selector in selectors), labels
    for document in documents:
        if document["kind"] == "NetworkPolicy":
            assert document["spec"]["policyTypes"] == ["Ingress"]


@pytest.mark.parametrize("name", ["rest", "rest-stateful-legal"])
def test_the_rest_service_is_probed_scaled_and_kept_serving_through_disruptions(
    bake, name: str
) -> None:
    project = bake(name)
    documents = {d["kind"]: d for d in manifests(project) if d["kind"] != "Secret"}
    assert set(documents) == {
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"
    }  # fmt: skip
    deployment = documents["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (port,) = container["ports"]
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    assert f"EXPOSE {port['containerPort']}" in dockerfile
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": port["name"]}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    env = {variable["name"]: variable for variable in container["env"]}
    prefix = next(path.name for path in (project / "src").iterdir()).upper()
    assert env[f"{prefix}_WORKERS"]["value"] == "1", "one worker per container"
    assert container["resources"]["requests"]["cpu"] == "1", "and one core for it"
    # Sized from the peak rate at 500 requests per second a worker, never below two replicas.
    answers = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    replicas = max(2, -(-int(answers["peak_rps"]) // 500))
    assert deployment["spec"]["replicas"] == replicas
    autoscaler = documents["HorizontalPodAutoscaler"]["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert autoscaler["minReplicas"] == replicas < autoscaler["maxReplicas"]
    budget = documents["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"] == labels
    assert budget["maxUnavailable"] < replicas
    service = documents["Service"]["spec"]
    assert service["selector"] == labels
    assert [p["targetPort"] for p in service["ports"]] == [port["name"]]
    (rule,) = documents["NetworkPolicy"]["spec"]["ingress"]
    assert rule == {"ports": [{"protocol": "TCP", "port": port["containerPort"]}]}
    if name == "rest-stateful-legal":
        assert "secretKeyRef" in env[f"{prefix}_STATE_URL"]["valueFrom"]
        (mount,) = container["volumeMounts"]
        assert mount["mountPath"] == "/app/audit"


@pytest.mark.parametrize("name", PROJECTS)
def test_every_container_runs_as_non_root_on_a_read_only_root_without_capabilities(
    bake, name: str
) -> None:
    containers = [
        container
        for document in manifests(bake(name))
        for pod in [*pod_specs(document), *pod_templates(document)]
        for container in [*pod["containers"], *pod.get("initContainers", [])]
    ]
    assert containers
    for container in containers:
        context = container.get("securityContext", {})
        assert {key: context.get(key) for key in HARDENED} == HARDENED, container["name"]


def checkov() -> str:
    found = shutil.which(
        "checkov", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    assert found, "checkov is missing: make install (pyproject.toml pins it in the dev extras)"
    return found


@pytest.mark.parametrize("name", PROJECTS)
def test_checkov_passes_every_manifest_but_the_checks_it_skips_with_a_reason(
    bake, name: str
) -> None:
    files = manifest_files(bake(name))
    for path in files:
        header = path.read_text(encoding="utf-8").split("\napiVersion:", 1)[0]
        assert SKIPPED_EVERYWHERE in header, f"{path.name} does not explain {SKIPPED_EVERYWHERE}"
    skips = [
        value
        for document in manifests(bake(name))
        for key, value in document["metadata"].get("annotations", {}).items()
        if key.startswith("checkov.io/skip")
    ]
    assert all(SKIP.fullmatch(value) for value in skips), skips
    command = [checkov(), "--framework", "kubernetes", "--skip-download", "--quiet", "--compact"]
    command += ["--skip-check", SKIPPED_EVERYWHERE, "--output", "json"]
    result = subprocess.run(
        [*command, *(argument for path in files for argument in ("--file", str(path)))],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    report = json.loads(result.stdout)
    (summary,) = [r["summary"] for r in (report if isinstance(report, list) else [report])]
    assert summary["resource_count"] > 0 and summary["parsing_errors"] == 0, summary
    assert summary["failed"] == 0, result.stdout
    assert result.returncode == 0, result.stderr


def test_the_database_image_carries_every_committed_migration(bake) -> None:
    project = bake("database")
    rules = dockerignore_rules((project / ".dockerignore").read_text(encoding="utf-8"))
    assert not excluded(Path("migrations/postgres/20260101T000000000000Z-0.up.sql"), rules)
    assert (project / "migrations").is_dir()
    builder = (project / "Dockerfile").read_text(encoding="utf-8").split("AS runtime")[0]
    copy = builder.index("COPY migrations/ migrations/")
    assert copy < builder.index("-db compile"), "earlier versions are copied before compiling"


@pytest.mark.parametrize("name", ["rest", "batch-pandas"])
def test_other_images_leave_migrations_out(bake, name: str) -> None:
    project = bake(name)
    assert "migrations" not in (project / ".dockerignore").read_text(encoding="utf-8")
    assert not (project / "migrations").exists()
