"""A Kubernetes API simulator that kubectl and the kubernetes client cannot tell from the real thing.

``Simulator`` runs clusters in-process (tests, ``--demo``, benchmarks); ``python -m knm_tui.sim``
runs them standalone.
"""

from knm_tui.sim.clock import SimClock
from knm_tui.sim.cluster import SimCluster
from knm_tui.sim.simulator import ClusterSpec, Simulator

__all__ = ["ClusterSpec", "SimClock", "SimCluster", "Simulator"]
