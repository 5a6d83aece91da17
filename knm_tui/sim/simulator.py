"""Run several simulated clusters in-process and hand out a kubeconfig that reaches them.

Used by tests, ``knm-tui --demo`` and the benchmarks; ``python -m knm_tui.sim`` wraps it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from knm_tui.sim.clock import SimClock, format_micro_time
from knm_tui.sim.cluster import SimCluster
from knm_tui.sim.faults import Faults, WatchLimits
from knm_tui.sim.server import ClusterServer
from knm_tui.sim.tls import TLSMaterial, make_tls_material

BASE_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class ClusterSpec:
    """How to populate and run one simulated cluster."""

    name: str
    world: object | None = None  # a knm_tui.sim.world.WorldSpec
    nodes_from: str | None = None
    churn_events_per_second: float = 0.0
    churn_options: dict = field(default_factory=dict)  # extra Churner knobs, e.g. flapping_share
    history_limit: int = 10_000
    token: str | None = None
    watch_limits: WatchLimits = field(default_factory=WatchLimits)
    seed: int = 0
    encode_at_start: bool = True  # JSON-encode every object while loading (False: on first read)


class Simulator:
    """A set of simulated clusters, each served on its own 127.0.0.1 port."""

    def __init__(self, specs: list[ClusterSpec], *, tls: bool = False, clock: SimClock | None = None,
                 token: str | None = None, unreachable_contexts: tuple[str, ...] = ()) -> None:
        if not specs and not unreachable_contexts:
            raise ValueError("a simulator needs at least one cluster")
        names = [spec.name for spec in specs] + list(unreachable_contexts)
        if len(set(names)) != len(names):
            raise ValueError("cluster names must be unique")
        self.specs = specs
        self.clock = clock or SimClock()
        self.tls = tls
        self.token = token
        self.unreachable_contexts = unreachable_contexts
        self.clusters: dict[str, SimCluster] = {}
        self.servers: dict[str, ClusterServer] = {}
        self.churners: dict[str, object] = {}
        self._tls_material: TLSMaterial | None = None
        self._unreachable_ports: dict[str, int] = {}

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "Simulator":
        """Populate every cluster and start serving."""
        if self.tls:
            self._tls_material = make_tls_material()
        ssl_context = self._tls_material.server_context() if self._tls_material else None
        try:
            for spec in self.specs:
                cluster = SimCluster(spec.name, clock=self.clock, token=spec.token or self.token,
                                     history_limit=spec.history_limit, faults=Faults(seed=spec.seed),
                                     watch_limits=spec.watch_limits)
                populate(cluster, spec)
                self.clusters[spec.name] = cluster
                server = ClusterServer(cluster, ssl_context)
                server.start()
                self.servers[spec.name] = server
                if spec.churn_events_per_second > 0:
                    self.start_churn(spec.name, spec.churn_events_per_second, seed=spec.seed,
                                     **spec.churn_options)
            for name in self.unreachable_contexts:
                self._unreachable_ports[name] = _closed_port()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop churn, servers and background work; remove TLS files."""
        for churner in self.churners.values():
            churner.stop()
        self.churners.clear()
        for server in self.servers.values():
            server.stop()
        for cluster in self.clusters.values():
            cluster.close()
        if self._tls_material is not None:
            self._tls_material.remove()
            self._tls_material = None

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start_churn(self, name: str, events_per_second: float, seed: int = 0, **options: float) -> object:
        """Start (or replace) the living-cluster churn on one cluster; ``options`` go to ``Churner``."""
        from knm_tui.sim.churn import Churner

        old = self.churners.pop(name, None)
        if old is not None:
            old.stop()
        churner = Churner(self.clusters[name], events_per_second, seed=seed, **options)
        churner.start()
        self.churners[name] = churner
        return churner

    # ------------------------------------------------------------ access
    def cluster(self, name: str) -> SimCluster:
        """The SimCluster called ``name``."""
        return self.clusters[name]

    def url(self, name: str) -> str:
        """The URL of cluster ``name`` (or of the closed port of an unreachable context)."""
        if name in self._unreachable_ports:
            scheme = "https" if self.tls else "http"
            return f"{scheme}://127.0.0.1:{self._unreachable_ports[name]}"
        return self.servers[name].url

    def kubeconfig(self, current: str | None = None) -> dict:
        """A kubeconfig with one context (and cluster and user) per simulated cluster."""
        clusters, users, contexts = [], [], []
        names = [spec.name for spec in self.specs] + list(self.unreachable_contexts)
        for name in names:
            cluster_entry: dict = {"server": self.url(name)}
            if self._tls_material is not None:
                import base64
                cluster_entry["certificate-authority-data"] = base64.b64encode(self._tls_material.cert_pem).decode()
            clusters.append({"name": name, "cluster": cluster_entry})
            sim_cluster = self.clusters.get(name)
            token = sim_cluster.token if sim_cluster is not None else self.token
            user_entry = {"token": token} if token else {}
            users.append({"name": f"{name}-admin", "user": user_entry})
            contexts.append({"name": name, "context": {"cluster": name, "user": f"{name}-admin"}})
        return {"apiVersion": "v1", "kind": "Config", "preferences": {},
                "current-context": current or names[0],
                "clusters": clusters, "users": users, "contexts": contexts}

    def write_kubeconfig(self, path: str | os.PathLike, current: str | None = None) -> Path:
        """Write the kubeconfig to ``path`` with mode 0600 and return the path."""
        target = Path(path)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            yaml.safe_dump(self.kubeconfig(current), handle, sort_keys=False)
        os.chmod(target, 0o600)
        return target


def populate(cluster: SimCluster, spec: ClusterSpec) -> None:
    """Load a cluster's objects from a generated world or a dump of real nodes."""
    store = cluster.store
    if spec.nodes_from:
        from knm_tui.sim.fixtures import load_nodes

        nodes = load_nodes(spec.nodes_from)
        store.load("namespaces", [_namespace(name) for name in BASE_NAMESPACES])
        store.load("nodes", nodes)
        store.load("leases", [_lease_for(node, cluster.clock) for node in nodes])
        return
    from knm_tui.sim.world import WorldSpec, build_world

    world_spec = spec.world or WorldSpec(name=spec.name, seed=spec.seed)
    world = build_world(world_spec, cluster.clock.now())
    for resource, objects in (("namespaces", world.namespaces), ("nodes", world.nodes),
                              ("leases", world.leases), ("daemonsets", world.daemonsets),
                              ("pods", world.pods), ("poddisruptionbudgets", world.pdbs),
                              ("events", world.events)):
        store.load(resource, objects, encode=spec.encode_at_start)


def _namespace(name: str) -> dict:
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def _lease_for(node: dict, clock: SimClock) -> dict:
    """A kube-node-lease Lease for a node loaded from a dump, renewed at its last heartbeat."""
    name = node["metadata"]["name"]
    heartbeat = None
    for condition in (node.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            heartbeat = condition.get("lastHeartbeatTime")
    renew = heartbeat.replace("Z", ".000000Z") if isinstance(heartbeat, str) and heartbeat.endswith("Z") and "." not in heartbeat \
        else heartbeat or format_micro_time(clock.now() - timedelta(seconds=10))
    owner = {"apiVersion": "v1", "kind": "Node", "name": name}
    if node["metadata"].get("uid"):
        owner["uid"] = node["metadata"]["uid"]
    return {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [owner]},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew}}


def _closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (bound briefly, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
