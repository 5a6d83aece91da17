"""``knm-tui --demo``: simulated clusters served on 127.0.0.1, reached like real ones.

The demo starts the simulator in-process with three clusters of different character and one
context whose server cannot be reached, all with live churn, and writes a kubeconfig for them to
a private temporary file (directory 0700, file 0600). The CLI then loads that kubeconfig and
builds the same ``Fleet`` it builds for real clusters: nothing in the sync path knows it is a demo.

- ``cloud-prod``: a 300-node managed cloud cluster, a few nodes unhealthy, cordoned or under pressure;
- ``staging``: 40 nodes, quiet;
- ``edge-stores``: 12 small edge nodes on poor links, flapping and sometimes unreachable;
- ``dc-legacy``: a context whose API server is down (a closed port), retried in the background.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from knm_tui.sim.simulator import ClusterSpec, Simulator

log = logging.getLogger(__name__)

UNREACHABLE_CONTEXT = "dc-legacy"
CURRENT_CONTEXT = "cloud-prod"
KUBECONFIG_NAME = "demo-kubeconfig.yaml"
DEMO_IMAGES_PER_NODE = (8, 25)  # fewer than a busy real node holds, so the demo starts fast


@dataclass(frozen=True)
class DemoCluster:
    """One simulated cluster of the demo."""

    name: str
    profile: str
    nodes: int
    pods_per_node: int
    churn_events_per_second: float
    unhealthy_share: float
    cordoned_share: float
    pressure_share: float
    npd_share: float
    seed: int
    flapping_share: float = 0.0
    unreachable_share: float = 0.02


DEMO_CLUSTERS: tuple[DemoCluster, ...] = (
    DemoCluster("cloud-prod", "cloud", nodes=300, pods_per_node=6, churn_events_per_second=20.0,
                unhealthy_share=0.01, cordoned_share=0.02, pressure_share=0.01, npd_share=0.05, seed=11),
    DemoCluster("staging", "staging", nodes=40, pods_per_node=6, churn_events_per_second=2.0,
                unhealthy_share=0.0, cordoned_share=0.05, pressure_share=0.0, npd_share=0.0, seed=22),
    DemoCluster("edge-stores", "edge", nodes=12, pods_per_node=6, churn_events_per_second=3.0,
                unhealthy_share=0.2, cordoned_share=0.0, pressure_share=0.1, npd_share=0.2, seed=33,
                flapping_share=0.25, unreachable_share=0.15),
)


@dataclass
class DemoEnvironment:
    """A running demo: its simulator and the private kubeconfig that reaches it."""

    simulator: Simulator
    kubeconfig_path: Path
    contexts: list[str]

    def stop(self) -> None:
        """Stop the simulator and delete the kubeconfig and its directory."""
        try:
            self.simulator.stop()
        finally:
            shutil.rmtree(self.kubeconfig_path.parent, ignore_errors=True)


def cluster_specs(clusters: tuple[DemoCluster, ...] = DEMO_CLUSTERS) -> list[ClusterSpec]:
    """Simulator specs for the demo clusters."""
    from knm_tui.sim.world import WorldSpec

    specs = []
    for cluster in clusters:
        world = WorldSpec(
            name=cluster.name,
            profile=cluster.profile,
            nodes=cluster.nodes,
            pods_per_node=cluster.pods_per_node,
            seed=cluster.seed,
            unhealthy_share=cluster.unhealthy_share,
            cordoned_share=cluster.cordoned_share,
            pressure_share=cluster.pressure_share,
            npd_share=cluster.npd_share,
            images_per_node=DEMO_IMAGES_PER_NODE,
        )
        specs.append(ClusterSpec(
            name=cluster.name,
            world=world,
            churn_events_per_second=cluster.churn_events_per_second,
            churn_options={"flapping_share": cluster.flapping_share,
                           "unreachable_share": cluster.unreachable_share},
            seed=cluster.seed,
            encode_at_start=False,  # the demo lists nodes and leases at once, pods only on demand
        ))
    return specs


def start_demo(clusters: tuple[DemoCluster, ...] = DEMO_CLUSTERS) -> DemoEnvironment:
    """Start the simulated clusters and write their kubeconfig to a private temporary file."""
    simulator = Simulator(cluster_specs(clusters), unreachable_contexts=(UNREACHABLE_CONTEXT,))
    directory = Path(tempfile.mkdtemp(prefix="knm-tui-demo-"))
    try:
        simulator.start()
        current = CURRENT_CONTEXT if any(c.name == CURRENT_CONTEXT for c in clusters) else clusters[0].name
        path = simulator.write_kubeconfig(directory / KUBECONFIG_NAME, current=current)
    except BaseException:
        simulator.stop()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    contexts = [cluster.name for cluster in clusters] + [UNREACHABLE_CONTEXT]
    log.info("demo: %d simulated clusters and 1 unreachable context; kubeconfig %s", len(clusters), path)
    return DemoEnvironment(simulator=simulator, kubeconfig_path=path, contexts=contexts)
