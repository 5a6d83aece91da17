"""Command palette entries (ctrl+p): jump to a cluster or to a node by name.

The provider asks the app for its contexts and nodes through :class:`FleetNavigator`, so it
works with any app that implements those three methods.
"""

from __future__ import annotations

from functools import partial
from typing import Iterable, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

MAX_NODE_HITS = 200


class FleetNavigator(Protocol):
    """What the palette needs from the app."""

    def palette_contexts(self) -> list[str]: ...

    def palette_nodes(self) -> Iterable[tuple[str, str]]: ...  # (context, node name)

    def show_cluster(self, context: str | None) -> None: ...

    def show_node(self, context: str, name: str) -> None: ...


class FleetCommands(Provider):
    """Clusters and nodes as palette commands."""

    @property
    def navigator(self) -> FleetNavigator:
        """The app, seen as a navigator."""
        return cast(FleetNavigator, self.app)

    async def discover(self) -> Hits:
        """With an empty query: every cluster and the all-clusters view."""
        navigator = self.navigator
        yield DiscoveryHit("Show all clusters", partial(navigator.show_cluster, None), help="The merged view")
        for context in navigator.palette_contexts():
            yield DiscoveryHit(f"Cluster {context}", partial(navigator.show_cluster, context), help="Switch to this cluster")

    async def search(self, query: str) -> Hits:
        """Clusters and nodes whose name matches the query."""
        navigator = self.navigator
        matcher = self.matcher(query)
        for context in navigator.palette_contexts():
            text = f"Cluster {context}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(navigator.show_cluster, context), help="Switch to this cluster")
        if len(query.strip()) < 2:
            return
        hits = 0
        for context, name in navigator.palette_nodes():
            text = f"Node {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(navigator.show_node, context, name), help=f"in {context}")
                hits += 1
                if hits >= MAX_NODE_HITS:
                    return
