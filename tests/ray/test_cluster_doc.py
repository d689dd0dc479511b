"""docs/cluster.md: its KubeRay, Deployment and `ray up` files are valid against their schemas
(no cluster runs here) and agree with each other."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from k8s_schemas import DEPLOYMENT, RAY_CLUSTER

DOC = Path(__file__).parents[2] / "docs" / "cluster.md"


def _files() -> dict[str, Any]:
    """Each ```yaml block of the doc whose first line names its file (``# name.yaml``)."""
    found = {}
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S):
        first = block.splitlines()[0]
        if first.startswith("# ") and first.endswith(".yaml"):
            found[first[2:]] = yaml.safe_load(block)
    return found


FILES = _files()


def _containers(pod_template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod_template["spec"]["containers"])


def test_the_doc_shows_the_three_files() -> None:
    assert set(FILES) == {"raycluster.yaml", "pauta-worker.yaml", "cluster.yaml"}


def test_the_raycluster_is_valid_and_autoscales() -> None:
    cluster = FILES["raycluster.yaml"]
    jsonschema.validate(cluster, RAY_CLUSTER)
    spec = cluster["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    for group in spec["workerGroupSpecs"]:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        custom = group["rayStartParams"].get("resources")
        if custom is not None:
            # Ray reads the value as a quoted JSON object
            assert isinstance(json.loads(json.loads(custom)), dict)
    templates = [spec["headGroupSpec"]["template"]]
    templates += [g["template"] for g in spec["workerGroupSpecs"]]
    for template in templates:
        for container in _containers(template):
            env = {e["name"]: e for e in container["env"]}
            assert env["RAY_AUTH_MODE"]["value"] == "token"
            assert "secretKeyRef" in env["RAY_AUTH_TOKEN"]["valueFrom"], "never in the clear"


def test_a_misspelt_field_is_caught() -> None:
    cluster = json.loads(json.dumps(FILES["raycluster.yaml"]))
    cluster["spec"]["enableInTreeAutoScaling"] = True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cluster, RAY_CLUSTER)


def test_the_pauta_worker_reaches_that_cluster_with_its_token() -> None:
    worker = FILES["pauta-worker.yaml"]
    jsonschema.validate(worker, DEPLOYMENT)
    [container] = _containers(worker["spec"]["template"])
    assert container["command"][:4] == ["pauta", "worker", "--executor", "ray"]
    env = {e["name"]: e for e in container["env"]}
    name = FILES["raycluster.yaml"]["metadata"]["name"]
    assert env["PAUTA_RAY_ADDRESS"]["value"] == f"{name}-head-svc:6379"
    assert env["PAUTA_RESULTS_URL"]["value"].startswith("s3://"), "a store every node reaches"
    assert "secretKeyRef" in env["RAY_AUTH_TOKEN"]["valueFrom"]
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert worker["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_ray_up_config_passes_rays_own_validation() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = FILES["cluster.yaml"]
    # as `ray up` does: the provider's defaults filled in, then Ray's schema
    validate_config(prepare_config(json.loads(json.dumps(config))))
    assert config["head_node_type"] in config["available_node_types"]
    assert config["available_node_types"]["a100"]["resources"] == {"a100": 1}


def test_a_misspelt_ray_up_field_is_caught() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = json.loads(json.dumps(FILES["cluster.yaml"]))
    config["idle_timeout_minute"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(config))
