"""Shared test fixtures: running simulators, API clients built for them, and a real-``kubectl`` runner.

Everything here talks real HTTP(S) to 127.0.0.1. Tests import the plain helpers directly
(``from conftest import new_pod``) and request the fixtures by name:

- ``start_simulator(specs, **kwargs)`` starts a ``Simulator`` that is stopped when the test ends;
- ``sim`` is a ready simulator with one cluster, ``SIM_CLUSTER``, holding three kind nodes;
- ``api_client_for(sim, name)`` builds a ``kubernetes.client.ApiClient`` from its own
  ``Configuration`` (never the global default);
- ``kubectl`` runs the real ``kubectl`` with a private ``HOME`` per test (kubectl caches discovery
  under ``~/.kube/cache``) and the kubeconfig you give it; it skips the test when no ``kubectl``
  is on the PATH.
"""

from __future__ import annotations

import base64
import os
import socket
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s_client

from knm_tui.sim import ClusterSpec, Simulator
from knm_tui.sim.fixtures import load_objects

REAL_OBJECTS = Path(__file__).resolve().parent / "fixtures" / "real-objects"
"""Node, Pod, Lease and PDB objects from real clusters (see SOURCES.md there)."""


def real_objects(file_name: str) -> list[dict]:
    """The objects in one real-object fixture file, whatever its shape."""
    return load_objects(REAL_OBJECTS / file_name)

SIM_CLUSTER = "sim"
"""The name of the cluster (and kubeconfig context) the ``sim`` fixture serves."""

KIND_THREE_NODES = REAL_OBJECTS / "kind-nodelist-3node-notready-worker-sonobuoy-healthsummary.json"
"""A kind NodeList: ``kind-control-plane`` and ``kind-worker2`` Ready, ``kind-worker`` NotReady."""

KUBECTL_TIMEOUT_SECONDS = 30.0


# ---------------------------------------------------------------------------- object builders
def new_node(name: str, *, ready: str = "True", labels: dict[str, str] | None = None, unschedulable: bool = False,
             taints: list[dict[str, Any]] | None = None, kubelet_version: str = "v1.32.4",
             internal_ip: str = "10.0.0.10") -> dict[str, Any]:
    """A small but realistic Node whose Ready condition has status ``ready`` (``""``: no Ready condition)."""
    heartbeat = "2024-05-01T10:00:00Z"
    conditions = [
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "message": "kubelet has sufficient memory available", "lastHeartbeatTime": heartbeat,
         "lastTransitionTime": "2024-04-01T09:00:00Z"},
        {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
         "message": "kubelet has no disk pressure", "lastHeartbeatTime": heartbeat,
         "lastTransitionTime": "2024-04-01T09:00:00Z"},
    ]
    if ready:
        conditions.append({"type": "Ready", "status": ready, "reason": "KubeletReady" if ready == "True" else "KubeletNotReady",
                           "message": "kubelet is posting ready status", "lastHeartbeatTime": heartbeat,
                           "lastTransitionTime": "2024-04-01T09:00:00Z"})
    spec: dict[str, Any] = {"podCIDR": "10.244.1.0/24", "providerID": f"kind://docker/kind/{name}"}
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = [dict(taint) for taint in taints]
    resources = {"cpu": "4", "memory": "16318784Ki", "pods": "110", "ephemeral-storage": "102626232Ki"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              **(labels or {})}},
        "spec": spec,
        "status": {
            "capacity": dict(resources), "allocatable": dict(resources), "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": internal_ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": "0" * 32, "systemUUID": "00000000-0000-0000-0000-000000000000",
                         "bootID": "11111111-1111-1111-1111-111111111111", "kernelVersion": "6.8.0-1015-aws",
                         "osImage": "Ubuntu 24.04.1 LTS", "containerRuntimeVersion": "containerd://1.7.22",
                         "kubeletVersion": kubelet_version, "kubeProxyVersion": kubelet_version,
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def new_lease(node: str, renew_time: str, holder: str | None = None) -> dict[str, Any]:
    """The kube-node-lease Lease of ``node`` renewed at ``renew_time`` (RFC 3339 with microseconds)."""
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node, "namespace": "kube-node-lease",
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node}]},
            "spec": {"holderIdentity": holder or node, "leaseDurationSeconds": 40, "renewTime": renew_time}}


def new_pod(name: str, node: str | None, *, namespace: str = "default", labels: dict[str, str] | None = None,
            phase: str = "Running", grace_seconds: int = 30, owner: dict[str, Any] | None = None,
            empty_dir: bool = False, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A realistic Pod bound to ``node`` (``None``: unbound and Pending unless ``phase`` says otherwise)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if owner:
        metadata["ownerReferences"] = [dict(owner, controller=True, blockOwnerDeletion=True)]
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
        "restartPolicy": "Always", "schedulerName": "default-scheduler",
        "serviceAccountName": "default", "terminationGracePeriodSeconds": grace_seconds,
    }
    if empty_dir:
        spec["volumes"] = [{"name": "scratch", "emptyDir": {}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"}]
    status: dict[str, Any] = {"phase": phase if node or phase != "Running" else "Pending"}
    if node:
        spec["nodeName"] = node
        ready = "True" if phase == "Running" else "False"
        if phase in ("Succeeded", "Failed"):
            exit_code, reason = (0, "Completed") if phase == "Succeeded" else (1, "Error")
            state = {"terminated": {"exitCode": exit_code, "reason": reason,
                                    "startedAt": "2024-01-01T00:00:00Z", "finishedAt": "2024-01-01T00:05:00Z"}}
        else:
            state = {"running": {"startedAt": "2024-01-01T00:00:00Z"}}
        status.update({
            "hostIP": "172.18.0.2", "podIP": "10.244.1.7",
            "conditions": [{"type": "Ready", "status": ready, "lastProbeTime": None,
                            "lastTransitionTime": "2024-01-01T00:00:00Z"}],
            "containerStatuses": [{"name": "main", "ready": ready == "True", "restartCount": 0,
                                   "image": "registry.k8s.io/pause:3.10", "imageID": "", "started": ready == "True",
                                   "state": state}],
        })
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def new_pdb(name: str, match_labels: dict[str, str], *, namespace: str = "default",
            min_available: int | str | None = None, max_unavailable: int | str | None = None) -> dict[str, Any]:
    """A policy/v1 PodDisruptionBudget selecting ``match_labels`` (status is computed by the server)."""
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(match_labels)}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def new_daemonset(name: str, namespace: str = "kube-system") -> dict[str, Any]:
    """An apps/v1 DaemonSet whose pods carry ``app=<name>``."""
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": f"registry.k8s.io/{name}:v1"}]}}},
            "status": {"currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0,
                       "numberReady": 1}}


def daemonset_owner(daemonset: dict[str, Any]) -> dict[str, Any]:
    """The ownerReference a DaemonSet puts on its pods (``daemonset`` as stored, with its uid)."""
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": daemonset["metadata"]["name"],
            "uid": daemonset["metadata"]["uid"]}


# ---------------------------------------------------------------------------- simulators
@pytest.fixture
def start_simulator() -> Iterator[Callable[..., Simulator]]:
    """Start simulators (``start_simulator(specs, **Simulator kwargs)``); all are stopped at teardown."""
    started: list[Simulator] = []

    def start(specs: list[ClusterSpec], **kwargs: Any) -> Simulator:
        simulator = Simulator(specs, **kwargs).start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in reversed(started):
        simulator.stop()


@pytest.fixture
def sim(start_simulator: Callable[..., Simulator]) -> Simulator:
    """A running simulator with one cluster, ``SIM_CLUSTER``, serving the three nodes of ``KIND_THREE_NODES``."""
    return start_simulator([ClusterSpec(SIM_CLUSTER, nodes_from=str(KIND_THREE_NODES))])


def api_client_for(simulator: Simulator, name: str, *, token: str | None = None,
                   ca_directory: Path | None = None, retries: int | bool | None = None) -> k8s_client.ApiClient:
    """An ``ApiClient`` for cluster ``name`` with its own ``Configuration``.

    ``token`` overrides the cluster's bearer token. Over TLS the simulator's certificate is
    written to ``ca_directory`` (required then) and trusted. ``retries`` goes to
    ``Configuration.retries`` (``False``: fail on the first connection error or timeout).
    """
    configuration = k8s_client.Configuration()
    configuration.host = simulator.url(name)
    configuration.retries = retries
    bearer = token if token is not None else simulator.cluster(name).token
    if bearer:
        configuration.api_key = {"authorization": bearer}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    if configuration.host.startswith("https://"):
        if ca_directory is None:
            raise ValueError("a TLS simulator needs ca_directory to hold its certificate")
        entry = next(c["cluster"] for c in simulator.kubeconfig()["clusters"] if c["name"] == name)
        ca_path = ca_directory / f"{name}-ca.crt"
        ca_path.write_bytes(base64.b64decode(entry["certificate-authority-data"]))
        configuration.ssl_ca_cert = str(ca_path)
        configuration.verify_ssl = True
    return k8s_client.ApiClient(configuration)


@pytest.fixture
def api_client(sim: Simulator) -> Iterator[k8s_client.ApiClient]:
    """An ``ApiClient`` for the ``sim`` fixture's cluster."""
    client = api_client_for(sim, SIM_CLUSTER)
    yield client
    client.close()


# ---------------------------------------------------------------------------- kubectl
class Kubectl:
    """Runs the real ``kubectl`` with a private ``HOME`` and a given kubeconfig."""

    def __init__(self, home: Path, kubeconfig: Path | None = None,
                 timeout: float = KUBECTL_TIMEOUT_SECONDS) -> None:
        self.home = home
        self.kubeconfig = kubeconfig
        self.timeout = timeout

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        """The environment kubectl runs with: this HOME and KUBECONFIG, nothing else from the user's kube setup."""
        config = kubeconfig or self.kubeconfig
        if config is None:
            raise ValueError("set Kubectl.kubeconfig or pass kubeconfig=")
        env = {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}
        env.update(HOME=str(self.home), KUBECONFIG=str(config), NO_COLOR="1")
        return env

    def __call__(self, *args: str, kubeconfig: Path | None = None, timeout: float | None = None,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl *args`` to completion; returns the CompletedProcess (text stdout/stderr)."""
        return subprocess.run(["kubectl", *args], env=self.env(kubeconfig), capture_output=True, text=True,
                              input=input, timeout=timeout or self.timeout, check=False)

    def popen(self, *args: str, kubeconfig: Path | None = None) -> subprocess.Popen[str]:
        """Start ``kubectl *args`` in the background (stdout piped, line-buffered text)."""
        return subprocess.Popen(["kubectl", *args], env=self.env(kubeconfig), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, bufsize=1)


@pytest.fixture
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """A ``Kubectl`` runner with its own fresh HOME; skips the test when ``kubectl`` is not on the PATH."""
    if shutil.which("kubectl") is None:
        pytest.skip("the kubectl command is not on the PATH")
    home = tmp_path_factory.mktemp("kubectl-home")
    return Kubectl(home)


@pytest.fixture
def sim_kubectl(sim: Simulator, kubectl: Kubectl, tmp_path: Path) -> Kubectl:
    """The ``kubectl`` runner pointed at the ``sim`` fixture's kubeconfig."""
    kubectl.kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    return kubectl


class BlackHole:
    """A TCP port that accepts connections and never answers (a stalled server)."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def close(self) -> None:
        self.socket.close()
