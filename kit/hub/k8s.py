"""Helm values for zero-to-jupyterhub: the same classroom as `kit.hub.deploy`, on Kubernetes.

`values_for` mirrors `kit.hub.config.configure` (roles, server token scopes,
trainee view, time zone, the exchange service) with KubeSpawner's storage and
the school's authenticator in place of system users. See ``docs/deploy.md`` for
what is tested (the shape of these values) and what is not (a cluster).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kit.course import Course, load_course
from kit.hub.config import (
    IDLE_SERVER_MINUTES,
    SERVER_TOKEN_SCOPES,
    SERVICE,
    off_extension_args,
)
from kit.hub.deploy import accounts_of, course_timezone

IMAGE = "casekit/singleuser"  # built from this repository: Python + `pip install casekit`


def values_for(course: Course, cohort: str, *, image: str = IMAGE, tag: str = "latest") -> dict:
    """Values for the ``jupyterhub/jupyterhub`` chart for one cohort."""
    accounts = accounts_of(course, cohort)
    trainees = sorted(a.username for a in accounts if a.role == "trainee")
    faculty = sorted(a.username for a in accounts if a.role == "instructor")
    exchange_url = f"http://{SERVICE}:8080"
    return {
        "hub": {
            "config": {
                "Authenticator": {
                    "allowed_users": trainees + faculty,
                    "admin_users": faculty,
                },
                # the school's sign-in goes here, e.g. GenericOAuthenticator or LDAPAuthenticator
                "JupyterHub": {"authenticator_class": "dummy"},
                "Spawner": {"server_token_scopes": SERVER_TOKEN_SCOPES},
            },
            "loadRoles": {
                "user": {"scopes": ["self", f"access:services!service={SERVICE}"]},
            },
            "services": {
                SERVICE: {"url": exchange_url, "oauth_no_confirm": True},
            },
            "db": {"type": "postgres"},
        },
        "singleuser": {
            "image": {"name": image, "tag": tag},
            "defaultUrl": "/voila/tree",
            "storage": {
                "type": "dynamic",
                "capacity": "2Gi",
                "homeMountPath": "/home/jovyan",
            },
            "extraEnv": {
                "TZ": course_timezone(course),
                "CASEKIT_LANGUAGE": course.language,
                "CASEKIT_EXCHANGE_URL": f"/services/{SERVICE}/",
            },
            "cmd": [
                "jupyterhub-singleuser",
                "--VoilaConfiguration.template=casekit",
                "--LabApp.news_url=None",
                *off_extension_args(),
            ],
            "networkPolicy": {"enabled": True},
            # measured on one machine (bench/bench_hub.py): see docs/deploy.md, "per 100 trainees"
            "memory": {"guarantee": "256M", "limit": "1G"},
            "cpu": {"guarantee": 0.05, "limit": 1},
        },
        # the class-start spike: nodes and images ready before the bell, memory back after it
        "scheduling": {
            "userScheduler": {"enabled": True},
            "podPriority": {"enabled": True},
            "userPlaceholder": {"enabled": True, "replicas": len(trainees)},
        },
        "prePuller": {"hook": {"enabled": True}, "continuous": {"enabled": True}},
        "cull": {"enabled": True, "timeout": IDLE_SERVER_MINUTES * 60, "every": 300},
        "custom": {
            "casekit": {
                "cohort": cohort,
                "sessions": [s.session for s in course.cohort(cohort).sessions],
                "exchange": {
                    "image": f"{image}:{tag}",
                    "command": ["python", "-m", "kit.hub.service", "/etc/casekit/plan.json"],
                    "inbox_volume": f"casekit-{cohort}-inbox",
                },
                "gradebook_url": "postgresql+psycopg://casekit@postgres/casekit",
                "dask_scheduler": "tcp://dask-scheduler:8786",
            }
        },
    }


def write_values(course: Course | Path | str, cohort: str, path: Path | str) -> Path:
    """Write `values_for` as YAML to `path`; return it."""
    c = course if isinstance(course, Course) else load_course(course)
    doc: dict[str, Any] = values_for(c, cohort)
    path = Path(path)
    header = (
        f"# zero-to-jupyterhub values for cohort {cohort}, written by `casekit hub --k8s`.\n"
        "# See docs/deploy.md: set the authenticator, the image and storage for your cluster.\n"
    )
    path.write_text(header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return path
