"""The deployment files of the generated projects, read as Kubernetes and Docker read them:
images pinned to the project's version, credentials only in Secrets, the Dask cluster
reachable by the project's own pods only, and every migration in the database image."""

from __future__ import annotations

import re
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
}
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


def manifests(project: Path) -> list[dict[str, Any]]:
    return [
        document
        for path in sorted((project / "deploy").rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
    ]


def pod_specs(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = document.get("spec", {})
    if document["kind"] == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif document["kind"] in {"Job", "Deployment"}:
        yield spec["template"]["spec"]


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
        (job,) = manifests(bake(name))
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
    assert set(policies) == {"dask-scheduler", "dask-worker"}
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
