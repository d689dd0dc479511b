"""JSON schemas of the Kubernetes objects docs/cluster.md shows, for the fields it uses.

Written from KubeRay's RayCluster CRD (``ray.io/v1``: ``spec.enableInTreeAutoscaling``,
``autoscalerOptions``, ``headGroupSpec``, ``workerGroupSpecs``) and the core Kubernetes API
(``apps/v1`` Deployment, ``core/v1`` PodSpec). Where the real schema is closed (a struct), so is
this one: a misspelt field fails here as it would be rejected or ignored by the API server.
"""

from __future__ import annotations

from typing import Any

# Kubernetes' resource.Quantity, as the CRDs write it
QUANTITY: dict[str, Any] = {
    "anyOf": [
        {"type": "integer"},
        {
            "type": "string",
            "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
            r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
        },
    ]
}
RESOURCES: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "limits": {"type": "object", "additionalProperties": QUANTITY},
        "requests": {"type": "object", "additionalProperties": QUANTITY},
    },
}
ENV_VAR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "value": {"type": "string"},
        "valueFrom": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "secretKeyRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key"],
                    "properties": {"name": {"type": "string"}, "key": {"type": "string"}},
                }
            },
        },
    },
}
CONTAINER: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "image": {"type": "string"},
        "command": {"type": "array", "items": {"type": "string"}},
        "args": {"type": "array", "items": {"type": "string"}},
        "env": {"type": "array", "items": ENV_VAR},
        "resources": RESOURCES,
        "ports": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["containerPort"],
                "properties": {
                    "containerPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "name": {"type": "string", "maxLength": 15},
                    "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
                },
            },
        },
    },
}
OBJECT_META: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
POD_TEMPLATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["spec"],
    "properties": {
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "required": ["containers"],
            "properties": {
                "containers": {"type": "array", "minItems": 1, "items": CONTAINER},
                "serviceAccountName": {"type": "string"},
                "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}
RAY_START_PARAMS: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
INT32: dict[str, Any] = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}

RAY_CLUSTER: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "ray.io/v1"},
        "kind": {"const": "RayCluster"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["headGroupSpec"],
            "properties": {
                "rayVersion": {"type": "string"},
                "enableInTreeAutoscaling": {"type": "boolean"},
                "autoscalerOptions": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "upscalingMode": {"enum": ["Default", "Aggressive", "Conservative"]},
                        "idleTimeoutSeconds": INT32,
                        "image": {"type": "string"},
                        "imagePullPolicy": {"enum": ["Always", "Never", "IfNotPresent"]},
                        "resources": RESOURCES,
                        "env": {"type": "array", "items": ENV_VAR},
                    },
                },
                "headGroupSpec": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["template"],
                    "properties": {
                        "serviceType": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                        "rayStartParams": RAY_START_PARAMS,
                        "template": POD_TEMPLATE,
                    },
                },
                "workerGroupSpecs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["groupName", "template"],
                        "properties": {
                            "groupName": {"type": "string"},
                            "replicas": INT32,
                            "minReplicas": INT32,
                            "maxReplicas": INT32,
                            "rayStartParams": RAY_START_PARAMS,
                            "template": POD_TEMPLATE,
                        },
                    },
                },
            },
        },
    },
}

DEPLOYMENT: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "apps/v1"},
        "kind": {"const": "Deployment"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "template"],
            "properties": {
                "replicas": INT32,
                "selector": {
                    "type": "object",
                    "required": ["matchLabels"],
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "template": POD_TEMPLATE,
            },
        },
    },
}
