"""The sync engine against the simulator over real HTTP: prime, watch, faults, states, feed.

Every test starts real simulated clusters on 127.0.0.1 and a ``Fleet`` with short timeouts and
backoffs, then waits (with a deadline) for the state it names.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REAL_OBJECTS, BlackHole, new_node
from knm_tui.kube.cache import ChangeFeed, ClusterStatus, NodeCache, SyncState
from knm_tui.kube.config import load_kubeconfig
from knm_tui.kube.gcpause import collector_paused
from knm_tui.kube.jsonparse import parse_json
from knm_tui.kube.leaseview import LeaseView
from knm_tui.kube.nodeview import project_node
from knm_tui.kube.sync import Fleet, SyncSettings
from knm_tui.sim import ClusterSpec, Simulator

AZURE_SEVEN_NODES = REAL_OBJECTS / "azure-vmss-giantswarm-nodelist-7nodes-50images-health-service.json"
KIND_THREE_NODES = REAL_OBJECTS / "kind-nodelist-3node-notready-worker-sonobuoy-healthsummary.json"
TOKEN = "sync-test-token-QWERTYUIOPASDFGHJKL-0123456789"

FAST = SyncSettings(
    connect_timeout=1.0,
    read_timeout=1.0,
    watch_timeout_range=(1, 2),
    watch_read_margin=1.0,
    min_watch_seconds=0.3,
    node_watch_coalesce_seconds=0.0,
    lease_watch_coalesce_seconds=0.0,
    backoff_initial=0.05,
    backoff_max=0.3,
    auth_retry_seconds=1.0,
    lease_retry_seconds=1.0,
    stale_after_failures=3,
    stale_after_seconds=1.0,
)


# ---------------------------------------------------------------------------- helpers
def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def server_versions(sim: Simulator, cluster: str) -> dict[str, str]:
    """Node name -> resourceVersion as the simulator stores them now."""
    return {stored.obj["metadata"]["name"]: stored.obj["metadata"]["resourceVersion"]
            for stored in sim.cluster(cluster).store.items("nodes")}


def cache_versions(fleet: Fleet, context: str) -> dict[str, str]:
    """Node name -> resourceVersion as the fleet's cache holds them now."""
    return {view.name: view.resource_version for view in fleet.cache(context).nodes()}


def in_sync(fleet: Fleet, sim: Simulator, context: str) -> bool:
    """Whether the cache holds exactly the server's nodes at the server's versions."""
    return cache_versions(fleet, context) == server_versions(sim, context)


def is_live(fleet: Fleet, context: str) -> bool:
    return fleet.status(context).state is SyncState.LIVE


def requests_of(sim: Simulator, cluster: str, verb: str, resource: str = "nodes") -> list[Any]:
    """The simulator's record of ``verb`` requests on ``resource``."""
    return [r for r in sim.cluster(cluster).faults.requests() if r.verb == verb and r.resource == resource]


def query_value(record: Any, key: str) -> str:
    match = re.search(rf"(?:^|&){key}=([^&]*)", record.query)
    return match.group(1) if match else ""


def relabel(sim: Simulator, cluster: str, node: str, value: str) -> None:
    """A visible change: set the label ``test/value`` on a node."""

    def change(obj: dict[str, Any]) -> None:
        obj["metadata"].setdefault("labels", {})["test/value"] = value

    sim.cluster(cluster).store.mutate("nodes", "", node, change)


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def add_context(config: dict[str, Any], name: str, cluster: dict[str, Any], user: dict[str, Any]) -> None:
    """Add a context (with its own cluster and user entries) to a kubeconfig dict."""
    config["clusters"].append({"name": name, "cluster": cluster})
    config["users"].append({"name": f"{name}-user", "user": user})
    config["contexts"].append({"name": name, "context": {"cluster": name, "user": f"{name}-user"}})


class FleetRunner:
    """Starts fleets for a test and stops them at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.fleets: list[Fleet] = []

    def __call__(self, config: dict[str, Any] | Simulator, contexts: tuple[str, ...] = (),
                 settings: SyncSettings = FAST, **kwargs: Any) -> Fleet:
        if isinstance(config, Simulator):
            config = config.kubeconfig()
        path = write_kubeconfig(self.tmp_path / f"kubeconfig-{len(self.fleets)}", config)
        fleet = Fleet(load_kubeconfig(str(path)), contexts, settings=settings, **kwargs)
        self.fleets.append(fleet)
        fleet.start()
        return fleet

    def stop_all(self) -> None:
        for fleet in self.fleets:
            fleet.stop(timeout=5.0)


@pytest.fixture
def start_fleet(tmp_path: Path) -> Iterator[FleetRunner]:
    runner = FleetRunner(tmp_path)
    yield runner
    runner.stop_all()


@pytest.fixture
def azure(start_simulator: Callable[..., Simulator]) -> Simulator:
    """A simulator with cluster ``alpha``: seven real Azure nodes (with their leases), token auth."""
    return start_simulator([ClusterSpec("alpha", nodes_from=str(AZURE_SEVEN_NODES))], token=TOKEN)


def live_fleet(start_fleet: FleetRunner, sim: Simulator, context: str = "alpha", **kwargs: Any) -> Fleet:
    fleet = start_fleet(sim, **kwargs)
    wait_until(lambda: is_live(fleet, context), what=f"{context} to go live")
    return fleet


# ---------------------------------------------------------------------------- prime
def test_first_read_after_prime_equals_server_nodes_with_condition_times(
    azure: Simulator, start_fleet: FleetRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="knm_tui.kube.sync")
    fleet = start_fleet(azure)
    wait_until(lambda: fleet.status("alpha").synced, what="the prime")

    cache = fleet.cache("alpha")
    expected = {stored.obj["metadata"]["name"]: project_node(stored.obj)
                for stored in azure.cluster("alpha").store.items("nodes")}
    assert {view.name: view for view in cache.nodes()} == expected
    assert len(expected) == 7
    for view in cache.nodes():
        assert view.conditions, view.name
        for condition in view.conditions:
            assert condition.last_heartbeat is not None, (view.name, condition.type)
            assert condition.last_transition is not None, (view.name, condition.type)
            assert condition.last_heartbeat.tzinfo is not None
    status = fleet.status("alpha")
    assert status.node_count == 7
    assert status.ready_count == sum(1 for view in expected.values() if view.ready == "True")
    assert [record.getMessage() for record in caplog.records
            if re.fullmatch(r"Initialized node cache with 7 nodes for cluster alpha in \d+ ms", record.getMessage())]
    wait_until(lambda: is_live(fleet, "alpha"), what="the watch")
    assert fleet.status("alpha").message.startswith("Initialized node cache with 7 nodes in ")


def test_prime_paginates_beyond_500_nodes(start_simulator: Callable[..., Simulator],
                                          start_fleet: FleetRunner) -> None:
    sim = start_simulator([ClusterSpec("big", nodes_from=str(KIND_THREE_NODES))])
    store = sim.cluster("big").store
    for index in range(1200):
        store.create("nodes", new_node(f"node-{index:04d}", ready="True" if index % 7 else "False"))
    fleet = live_fleet(start_fleet, sim, "big")

    assert in_sync(fleet, sim, "big")
    assert len(fleet.cache("big")) == 1203
    lists = wait_until(lambda: len(found := requests_of(sim, "big", "list")) == 3 and found,
                       what="the server to record three pages")  # recorded after the response is sent
    assert all(query_value(record, "limit") == "500" for record in lists)
    assert [bool(query_value(record, "continue")) for record in lists] == [False, True, True]
    assert fleet.status("big").ready_count == sum(1 for v in fleet.cache("big").nodes() if v.ready == "True")


def serve_pages(pages: dict[str, bytes], events: bytes) -> ThreadingHTTPServer:
    """A bare HTTP server answering node LISTs from ``pages`` (keyed by continue token) and every
    watch with ``events`` followed by the end of the stream."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the base class names it
            if "watch=true" in self.path:
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if events:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(events), events))
                self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True
                return
            match = re.search(r"continue=([^&]*)", self.path)
            body = pages.get(match.group(1) if match else "")
            if body is None:
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def odd_server_config(server: ThreadingHTTPServer) -> dict[str, Any]:
    """A kubeconfig whose one context, ``odd``, reaches ``server`` without credentials."""
    config = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [],
              "current-context": "odd"}
    add_context(config, "odd", {"server": f"http://127.0.0.1:{server.server_address[1]}"}, {})
    return config


def test_malformed_items_are_skipped_and_logged(start_fleet: FleetRunner,
                                                caplog: pytest.LogCaptureFixture) -> None:
    good = new_node("good-node")
    good["metadata"]["resourceVersion"] = "10"
    page = {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "10"},
            "items": [good, {"metadata": {"labels": {"no": "name"}}}, "not an object"]}
    server = serve_pages({"": json.dumps(page).encode()}, b'{"type":"ADDED","object":{"metadata":{}}}\n')
    try:
        caplog.set_level(logging.WARNING, logger="knm_tui.kube.sync")
        config = odd_server_config(server)
        fleet = start_fleet(config, watch_leases=False)
        wait_until(lambda: fleet.status("odd").synced, what="the prime")
        assert [view.name for view in fleet.cache("odd").nodes()] == ["good-node"]
        wait_until(lambda: caplog.text.count("skipping an object that cannot be read") >= 3,
                   what="the skipped objects to be logged")
        assert fleet.status("odd").state is not SyncState.ERROR
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------- watch
def test_watch_applies_added_modified_and_deleted(azure: Simulator, start_fleet: FleetRunner) -> None:
    fleet = live_fleet(start_fleet, azure)
    store = azure.cluster("alpha").store
    fleet.feed.drain()
    victim, changed = sorted(server_versions(azure, "alpha"))[:2]

    store.create("nodes", new_node("fresh-node"))
    relabel(azure, "alpha", changed, "after")
    store.delete("nodes", "", victim)

    wait_until(lambda: in_sync(fleet, azure, "alpha") and fleet.status("alpha").node_count == 7,
               what="the cache and status to follow the server")
    cache = fleet.cache("alpha")
    assert cache.get(victim) is None
    assert cache.get("fresh-node") is not None
    assert cache.get(changed).labels["test/value"] == "after"
    batches = {batch.context: batch for batch in fleet.feed.drain()}
    batch = batches["alpha"]
    assert not batch.reset
    assert set(batch.upserted) == {"fresh-node", changed}
    assert batch.removed == frozenset({victim})
    assert batch.status is not None and batch.status.node_count == 7


def test_modification_nothing_shows_is_cached_but_not_published(azure: Simulator,
                                                                 start_fleet: FleetRunner) -> None:
    fleet = live_fleet(start_fleet, azure)
    node = sorted(server_versions(azure, "alpha"))[0]
    fleet.feed.drain()

    def invisible(obj: dict[str, Any]) -> None:
        obj["metadata"].setdefault("annotations", {})["example.com/not-shown"] = "x"

    stored = azure.cluster("alpha").store.mutate("nodes", "", node, invisible)
    new_version = stored["metadata"]["resourceVersion"]
    wait_until(lambda: fleet.cache("alpha").get(node).resource_version == new_version,
               what="the invisible change to reach the cache")
    assert all(node not in batch.upserted for batch in fleet.feed.drain())

    relabel(azure, "alpha", node, "visible")
    wait_until(lambda: fleet.feed.pending(), what="the visible change to be published")
    upserted = {name for batch in fleet.feed.drain() for name in batch.upserted}
    assert upserted == {node}


def test_many_updates_to_one_node_reach_the_feed_as_one_latest_entry(azure: Simulator,
                                                                     start_fleet: FleetRunner) -> None:
    fleet = live_fleet(start_fleet, azure)
    node = sorted(server_versions(azure, "alpha"))[0]
    fleet.feed.drain()
    for index in range(40):
        relabel(azure, "alpha", node, f"v{index}")
    final_version = server_versions(azure, "alpha")[node]
    wait_until(lambda: fleet.cache("alpha").get(node).resource_version == final_version,
               what="the last update to arrive")

    batches = [batch for batch in fleet.feed.drain() if batch.context == "alpha"]
    assert len(batches) == 1
    assert list(batches[0].upserted) == [node]
    assert batches[0].upserted[node].labels["test/value"] == "v39"
    assert batches[0].upserted[node].resource_version == final_version


def test_watch_closed_mid_stream_resumes_from_last_version_without_relisting(
    azure: Simulator, start_fleet: FleetRunner
) -> None:
    faults = azure.cluster("alpha").faults
    faults.close_watch_after_events = 2  # read when a watch starts
    fleet = live_fleet(start_fleet, azure)
    nodes = sorted(server_versions(azure, "alpha"))
    for index in range(12):
        relabel(azure, "alpha", nodes[index % len(nodes)], f"round-{index}")
        time.sleep(0.01)

    wait_until(lambda: in_sync(fleet, azure, "alpha"), what="every update to arrive")
    assert faults.counts.watch_closed >= 3
    wait_until(lambda: len(requests_of(azure, "alpha", "list")) == 1, what="the single LIST")
    versions = [int(query_value(record, "resourceVersion")) for record in requests_of(azure, "alpha", "watch")]
    assert len(versions) >= 4
    assert versions == sorted(versions)
    assert is_live(fleet, "alpha")


def test_gone_on_resume_relists_and_reconciles(azure: Simulator, start_fleet: FleetRunner) -> None:
    fleet = live_fleet(start_fleet, azure, watch_leases=False)  # the 410 must go to the node watch
    cluster = azure.cluster("alpha")
    fleet.feed.drain()
    cluster.faults.gone_on_next_watches(1)
    azure.servers["alpha"].drop_watches()

    drained: list[Any] = []

    def reset_published() -> bool:
        drained.extend(batch for batch in fleet.feed.drain() if batch.context == "alpha")
        return any(batch.reset for batch in drained)

    wait_until(reset_published, what="the relist's reset")
    wait_until(lambda: is_live(fleet, "alpha") and in_sync(fleet, azure, "alpha"), what="recovery")
    assert cluster.faults.counts.watch_gone == 1
    wait_until(lambda: len(requests_of(azure, "alpha", "list")) == 2, what="exactly one relist")


def test_node_deleted_and_added_during_outage_are_reconciled_after_expiry(
    azure: Simulator, start_fleet: FleetRunner
) -> None:
    fleet = live_fleet(start_fleet, azure)
    cluster = azure.cluster("alpha")
    victim = sorted(server_versions(azure, "alpha"))[0]
    cluster.faults.error_verbs = frozenset({"watch"})
    cluster.faults.error_rate = 1.0
    azure.servers["alpha"].drop_watches()
    wait_until(lambda: cluster.faults.counts.server_errors >= 1, what="the watch outage")

    cluster.store.delete("nodes", "", victim)
    cluster.store.create("nodes", new_node("born-in-outage"))
    cluster.store.compact()
    cluster.faults.error_rate = 0.0

    wait_until(lambda: is_live(fleet, "alpha") and in_sync(fleet, azure, "alpha"), what="reconciliation")
    names = [view.name for view in fleet.cache("alpha").nodes()]
    assert victim not in names
    assert "born-in-outage" in names
    assert len(names) == len(set(names)) == 7
    wait_until(lambda: len(requests_of(azure, "alpha", "list")) == 2, what="exactly one relist")


def test_no_update_lost_under_churn_with_closed_watches_expiry_and_list_errors(
    azure: Simulator, start_fleet: FleetRunner
) -> None:
    cluster = azure.cluster("alpha")
    cluster.faults.close_watch_after_events = 3  # read when a watch starts
    fleet = live_fleet(start_fleet, azure, watch_leases=False)  # the 410 must go to the node watch
    cluster.faults.error_verbs = frozenset({"list"})
    cluster.faults.error_rate = 0.3
    rng = random.Random(7)
    stop = threading.Event()

    def churn() -> None:
        created = 0
        while not stop.is_set():
            names = sorted(server_versions(azure, "alpha"))
            action = rng.random()
            if action < 0.2:
                cluster.store.create("nodes", new_node(f"churn-{created}"))
                created += 1
            elif action < 0.3 and len(names) > 3:
                cluster.store.delete("nodes", "", rng.choice(names))
            else:
                relabel(azure, "alpha", rng.choice(names), str(rng.random()))
            time.sleep(0.005)

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    time.sleep(0.4)
    cluster.faults.gone_on_next_watches(1)
    time.sleep(0.6)
    stop.set()
    worker.join()
    cluster.faults.error_rate = 0.0

    wait_until(lambda: in_sync(fleet, azure, "alpha"), timeout=15, what="the cache to catch up")
    assert cluster.faults.counts.watch_closed >= 5
    assert cluster.faults.counts.watch_gone == 1
    wait_until(lambda: len(requests_of(azure, "alpha", "list")) >= 2, what="a relist")


# ---------------------------------------------------------------------------- failures and recovery
def test_server_restart_is_survived(azure: Simulator, start_fleet: FleetRunner,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="knm_tui.kube.sync")
    fleet = live_fleet(start_fleet, azure)
    azure.servers["alpha"].restart()
    node = sorted(server_versions(azure, "alpha"))[0]
    relabel(azure, "alpha", node, "after-restart")

    wait_until(lambda: in_sync(fleet, azure, "alpha") and is_live(fleet, "alpha"), what="recovery")
    assert 'cluster "alpha": live -> reconnecting' in caplog.text
    assert fleet.status("alpha").synced


def test_unreachable_primed_cluster_goes_stale_keeps_cache_and_recovers(
    azure: Simulator, start_fleet: FleetRunner
) -> None:
    fleet = live_fleet(start_fleet, azure)
    before = cache_versions(fleet, "alpha")
    server = azure.servers["alpha"]
    stopping_at = datetime.now(timezone.utc)
    server.stop()
    stopped_at = datetime.now(timezone.utc)

    status = wait_until(lambda: (s := fleet.status("alpha")).state is SyncState.STALE and s,
                        what="the stale state")
    assert status.synced
    assert status.error_kind == "unreachable"
    assert "connection refused" in status.message
    assert status.since is not None  # when the connection was lost, not when the state turned stale
    assert stopping_at <= status.since <= stopped_at + timedelta(seconds=0.5)
    assert status.next_retry_at is not None and status.next_retry_at > status.since
    assert cache_versions(fleet, "alpha") == before

    server.start()
    wait_until(lambda: is_live(fleet, "alpha"), what="recovery")
    assert fleet.status("alpha").message.startswith("reconnected after")
    assert in_sync(fleet, azure, "alpha")


def test_server_errors_on_list_back_off_then_recover(azure: Simulator, start_fleet: FleetRunner) -> None:
    faults = azure.cluster("alpha").faults
    faults.error_verbs = frozenset({"list"})
    faults.error_rate = 1.0
    fleet = start_fleet(azure)

    status = wait_until(lambda: (s := fleet.status("alpha")).state is SyncState.ERROR and s,
                        what="the error state")
    assert status.error_kind == "server"
    assert re.search(r"HTTP 50[03] .*\(retrying in \d+ s\)", status.message)
    assert not status.synced
    time.sleep(1.0)
    # 0.05 s doubling to a 0.3 s cap: a handful of attempts a second, not a storm.
    assert 3 <= len(requests_of(azure, "alpha", "list")) <= 10

    faults.error_rate = 0.0
    wait_until(lambda: is_live(fleet, "alpha"), what="recovery")
    assert in_sync(fleet, azure, "alpha")


def test_stalled_response_times_out_then_recovers(azure: Simulator, start_fleet: FleetRunner,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="knm_tui.kube.sync")
    faults = azure.cluster("alpha").faults
    faults.stall_next_requests(2, seconds=3.0)  # the LIST and the client's one read retry
    started = time.monotonic()
    fleet = start_fleet(azure, settings=dataclasses.replace(FAST, read_timeout=0.5))

    status = wait_until(lambda: (s := fleet.status("alpha")).state is SyncState.ERROR and s,
                        what="the timeout")
    assert status.error_kind == "timeout"
    assert time.monotonic() - started < 2.5  # gave up after two 0.5 s read timeouts, not the 3 s stall
    wait_until(lambda: is_live(fleet, "alpha"), what="recovery")
    assert in_sync(fleet, azure, "alpha")
    assert "connecting -> error (timeout)" in caplog.text


def test_wrong_token_is_an_auth_error_without_retry_storm(azure: Simulator, start_fleet: FleetRunner,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = azure.kubeconfig()
    azure.cluster("alpha").rotate_token("a-different-token-the-kubeconfig-lacks")
    fleet = start_fleet(config, settings=dataclasses.replace(FAST, auth_retry_seconds=0.5))

    status = wait_until(lambda: (s := fleet.status("alpha")).state is SyncState.ERROR and s,
                        what="the auth error")
    assert status.error_kind == "auth"
    assert status.message == "Unauthorized"
    assert status.next_retry_at is not None
    first = len(azure.cluster("alpha").faults.requests())
    time.sleep(1.5)
    later = len(azure.cluster("alpha").faults.requests())
    assert 1 <= later - first <= 4  # one retry every 0.5 s (auth_retry_seconds), no storm
    assert TOKEN not in caplog.text


def test_token_rotated_after_prime_keeps_cache_and_reports_auth(azure: Simulator,
                                                                start_fleet: FleetRunner) -> None:
    fleet = live_fleet(start_fleet, azure)
    azure.cluster("alpha").rotate_token("rotated-token")
    azure.servers["alpha"].drop_watches()

    status = wait_until(lambda: (s := fleet.status("alpha")).state is SyncState.ERROR and s,
                        what="the auth error")
    assert (status.error_kind, status.message, status.synced) == ("auth", "Unauthorized", True)
    assert len(fleet.cache("alpha")) == 7


def test_forbidden_leases_are_not_available_while_nodes_stay_live(azure: Simulator,
                                                                  start_fleet: FleetRunner) -> None:
    faults = azure.cluster("alpha").faults
    faults.forbid("list", "leases")
    faults.forbid("watch", "leases")
    fleet = start_fleet(azure, settings=dataclasses.replace(FAST, lease_retry_seconds=0.5))

    wait_until(lambda: not fleet.status("alpha").leases_available, what="leases to be unavailable")
    assert is_live(fleet, "alpha")
    assert in_sync(fleet, azure, "alpha")
    time.sleep(1.0)
    assert 2 <= len(requests_of(azure, "alpha", "list", "leases")) <= 4  # every 0.5 s, not more
    node = sorted(server_versions(azure, "alpha"))[0]
    relabel(azure, "alpha", node, "still-live")
    wait_until(lambda: in_sync(fleet, azure, "alpha"), what="node events to keep flowing")

    faults.allow("list", "leases")
    faults.allow("watch", "leases")
    wait_until(lambda: fleet.status("alpha").leases_available, what="leases to come back")
    assert is_live(fleet, "alpha")
    wait_until(lambda: fleet.cache("alpha").lease(node) is not None, what="the lease cache")


def test_leases_are_watched_into_the_cache_and_feed(azure: Simulator, start_fleet: FleetRunner) -> None:
    fleet = live_fleet(start_fleet, azure)
    node = sorted(server_versions(azure, "alpha"))[0]
    wait_until(lambda: fleet.cache("alpha").lease(node) is not None, what="the lease prime")
    fleet.feed.drain()

    def renew(obj: dict[str, Any]) -> None:
        obj["spec"]["renewTime"] = "2030-01-02T03:04:05.123456Z"

    azure.cluster("alpha").store.mutate("leases", "kube-node-lease", node, renew)
    expected = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    wait_until(lambda: fleet.cache("alpha").lease(node).renew_time == expected, what="the renewal")
    leases = {name: lease for batch in fleet.feed.drain() for name, lease in batch.leases.items()}
    assert leases[node].renew_time == expected


def test_dead_and_stalled_clusters_never_hold_up_a_healthy_one(start_simulator: Callable[..., Simulator],
                                                               start_fleet: FleetRunner) -> None:
    sim = start_simulator([ClusterSpec("alpha", nodes_from=str(AZURE_SEVEN_NODES))],
                          unreachable_contexts=("dead",))
    hole = BlackHole()
    try:
        config = sim.kubeconfig()
        add_context(config, "stalled", {"server": hole.url}, {})
        fleet = start_fleet(config, settings=dataclasses.replace(FAST, read_timeout=0.5))

        wait_until(lambda: is_live(fleet, "alpha"), timeout=3.0, what="the healthy cluster")
        dead = wait_until(lambda: (s := fleet.status("dead")).state is SyncState.ERROR and s,
                          what="the dead cluster's error")
        assert dead.error_kind == "unreachable"
        assert dead.message.startswith("connection refused (retrying in ")
        assert dead.next_retry_at is not None and not dead.synced
        stalled = wait_until(lambda: (s := fleet.status("stalled")).state is SyncState.ERROR and s,
                             what="the stalled cluster's error")
        assert stalled.error_kind == "timeout"
        assert in_sync(fleet, sim, "alpha")
        assert fleet.contexts == ["alpha", "dead", "stalled"]
    finally:
        hole.close()


def test_tls_cluster_syncs_and_an_untrusted_certificate_is_a_tls_error(
    start_simulator: Callable[..., Simulator], start_fleet: FleetRunner
) -> None:
    sim = start_simulator([ClusterSpec("secure", nodes_from=str(KIND_THREE_NODES))], tls=True, token=TOKEN)
    config = sim.kubeconfig()
    add_context(config, "untrusted", {"server": sim.url("secure")}, {"token": TOKEN})  # no CA: not trusted
    fleet = start_fleet(config)

    wait_until(lambda: is_live(fleet, "secure"), what="the TLS cluster")
    assert in_sync(fleet, sim, "secure")
    status = wait_until(lambda: (s := fleet.status("untrusted")).state is SyncState.ERROR and s,
                        what="the TLS error")
    assert status.error_kind == "tls"
    assert status.message.startswith("TLS error: certificate verify failed")
    assert "?" not in status.message and "/api" not in status.message


def test_broken_context_is_a_config_error_without_a_thread(azure: Simulator, start_fleet: FleetRunner,
                                                           tmp_path: Path) -> None:
    config = azure.kubeconfig()
    add_context(config, "broken", {"server": azure.url("alpha")},
                {"tokenFile": str(tmp_path / "missing-token")})
    fleet = start_fleet(config)

    status = fleet.status("broken")
    assert status.state is SyncState.ERROR
    assert status.error_kind == "config"
    assert "missing-token" in status.message
    assert fleet.sync("broken").threads == []
    assert fleet.api_client("broken") is None
    wait_until(lambda: is_live(fleet, "alpha"), what="the healthy context")
    statuses = {batch.context: batch.status for batch in fleet.feed.drain()}
    assert statuses["broken"] is not None and statuses["broken"].error_kind == "config"


def test_failing_credential_plugin_is_a_config_error_retried_slowly(
    azure: Simulator, start_fleet: FleetRunner, tmp_path: Path
) -> None:
    plugin = tmp_path / "failing-plugin"
    plugin.write_text("#!/bin/sh\necho 'token service unavailable' >&2\nexit 3\n")
    plugin.chmod(0o755)
    config = azure.kubeconfig()
    add_context(config, "plugin", {"server": azure.url("alpha")},
                {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}})
    fleet = start_fleet(config, settings=dataclasses.replace(FAST, auth_retry_seconds=30.0))

    status = wait_until(lambda: (s := fleet.status("plugin")).state is SyncState.ERROR and s,
                        what="the credential error")
    assert status.error_kind == "config"
    assert "exited with status 3" in status.message and "token service unavailable" in status.message
    assert status.next_retry_at is not None
    assert (status.next_retry_at - datetime.now(timezone.utc)).total_seconds() > 20
    wait_until(lambda: is_live(fleet, "alpha"), what="the healthy context")


def test_stop_ends_every_thread_promptly(start_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = start_simulator([ClusterSpec("alpha", nodes_from=str(AZURE_SEVEN_NODES)),
                           ClusterSpec("beta", nodes_from=str(KIND_THREE_NODES))],
                          unreachable_contexts=("dead",))
    before = set(threading.enumerate())
    path = write_kubeconfig(tmp_path / "kubeconfig", sim.kubeconfig())
    slow_watch = SyncSettings(watch_timeout_range=(60, 60), backoff_initial=5.0)  # threads mid-watch / mid-wait
    fleet = Fleet(load_kubeconfig(str(path)), (), settings=slow_watch)
    fleet.start()
    wait_until(lambda: is_live(fleet, "alpha") and is_live(fleet, "beta"), what="both clusters")
    wait_until(lambda: all(fleet.cache(name).leases() for name in ("alpha", "beta")), what="lease watches")
    assert len([thread for thread in fleet.threads() if thread.is_alive()]) == 6  # "dead" waits to prime

    started = time.monotonic()
    fleet.stop(timeout=5.0)
    assert time.monotonic() - started < 2.0
    assert not any(thread.is_alive() for thread in fleet.threads())
    assert not [thread for thread in set(threading.enumerate()) - before if thread.name.startswith("knm-sync")]


def test_token_never_reaches_the_logs(azure: Simulator, start_fleet: FleetRunner,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fleet = live_fleet(start_fleet, azure)
    wait_until(lambda: fleet.cache("alpha").leases(), what="the lease prime")
    azure.servers["alpha"].restart()
    azure.cluster("alpha").rotate_token("another-token-9876543210")
    wait_until(lambda: fleet.status("alpha").error_kind == "auth", what="the auth error")
    assert "Initialized node cache" in caplog.text
    assert TOKEN not in caplog.text
    assert "another-token-9876543210" not in caplog.text


# ---------------------------------------------------------------------------- the feed and the cache
def _view(name: str, label: str = "") -> Any:
    node = new_node(name, labels={"test/value": label} if label else None)
    node["metadata"]["resourceVersion"] = label or "1"
    return project_node(node)


def test_feed_coalesces_latest_wins_per_context() -> None:
    feed = ChangeFeed()
    assert feed.drain() == [] and not feed.pending()
    for index in range(100):
        feed.publish_upsert("a", _view("n1", str(index)))
    feed.publish_upsert("a", _view("gone"))
    feed.publish_removed("a", "gone")
    feed.publish_removed("a", "back")
    feed.publish_upsert("a", _view("back"))
    lease = LeaseView("n1", "n1", datetime(2030, 1, 1, tzinfo=timezone.utc), 40)
    feed.publish_lease("a", LeaseView("n1", "n1", None, 40))
    feed.publish_lease("a", lease)
    first = ClusterStatus("a", SyncState.PRIMING, "", 0, 0, False, "listing nodes")
    last = ClusterStatus("a", SyncState.LIVE, "", 3, 3, True, "live")
    feed.publish_status("a", first)
    feed.publish_status("a", last)
    feed.publish_status("b", first)
    assert feed.pending()

    batches = feed.drain()
    assert [batch.context for batch in batches] == ["a", "b"]
    batch = batches[0]
    assert set(batch.upserted) == {"n1", "back"}
    assert batch.upserted["n1"].labels["test/value"] == "99"
    assert batch.removed == frozenset({"gone"})
    assert dict(batch.leases) == {"n1": lease}
    assert batch.status == last and not batch.reset
    assert batches[1].status == first and not batches[1].upserted
    assert feed.drain() == [] and not feed.pending()


def test_feed_reset_drops_pending_node_changes() -> None:
    feed = ChangeFeed()
    feed.publish_upsert("a", _view("n1"))
    feed.publish_removed("a", "n2")
    feed.publish_reset("a")
    feed.publish_upsert("a", _view("n3"))
    [batch] = feed.drain()
    assert batch.reset
    assert set(batch.upserted) == {"n3"}
    assert batch.removed == frozenset()


def test_node_cache_counts_ready_nodes_through_every_change() -> None:
    cache = NodeCache()
    ready, not_ready = project_node(new_node("a")), project_node(new_node("b", ready="False"))
    assert cache.replace_nodes({"a": ready, "b": not_ready}) == (2, 0)
    assert (len(cache), cache.ready_count) == (2, 1)
    cache.put_node(project_node(new_node("b")))
    assert cache.ready_count == 2
    cache.remove_node("a")
    assert (len(cache), cache.ready_count, cache.get("a")) == (1, 1, None)
    assert cache.replace_nodes({"c": project_node(new_node("c", ready="Unknown"))}) == (1, 1)
    assert (len(cache), cache.ready_count, [v.name for v in cache.nodes()]) == (1, 0, ["c"])


def compact_json(value: Any) -> bytes:
    """JSON without spaces, as the apiserver writes it."""
    return json.dumps(value, separators=(",", ":")).encode()


def test_pages_with_items_first_and_images_off_the_schema_are_read_whole(start_fleet: FleetRunner) -> None:
    """The prime reads the continue token early and cuts image lists out before parsing; pages
    that defeat both (items before metadata, image entries holding lists of objects, names with
    brackets) must still be read completely and exactly."""
    odd_images = [{"names": ["registry.example/app:1"], "layers": [{"digest": "sha256:1"}], "sizeBytes": 1},
                  {"names": ["we]ird}]name"], "sizeBytes": 2}]
    nodes = [new_node(f"node-{index}", ready="True" if index % 2 else "False") for index in range(4)]
    for index, node in enumerate(nodes):
        node["metadata"]["resourceVersion"] = str(10 + index)
        node["status"]["images"] = odd_images if index % 2 else [{"names": ["a}]b"], "sizeBytes": 3}]
        node["status"]["volumesAttached"] = [{"name": f"vol-{index}", "devicePath": "/dev/x"}]
    first = {"items": nodes[:2], "kind": "NodeList", "apiVersion": "v1",
             "metadata": {"resourceVersion": "20", "continue": "page-2"}}
    second = {"items": nodes[2:], "kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "20"}}
    # A flat first item metadata with a "continue" of its own is what a token read from the
    # page's head would find; the page's own metadata must win.
    nodes[0]["metadata"] = {"name": "node-0", "resourceVersion": "10", "continue": "not-a-page"}
    changed = json.loads(json.dumps(nodes[0]))
    changed["metadata"]["labels"] = {}
    changed["metadata"]["resourceVersion"] = "21"
    changed["metadata"]["labels"]["test/value"] = "after-watch"
    event = compact_json({"type": "MODIFIED", "object": changed}) + b"\n"
    server = serve_pages({"": compact_json(first), "page-2": compact_json(second)}, event)
    try:
        config = odd_server_config(server)
        fleet = start_fleet(config, watch_leases=False)
        wait_until(lambda: fleet.cache("odd").get("node-0") is not None
                   and fleet.cache("odd").get("node-0").labels.get("test/value") == "after-watch",
                   what="the watch event to be applied")
        expected = {node["metadata"]["name"]: project_node(node) for node in [changed, *nodes[1:]]}
        assert {view.name: view for view in fleet.cache("odd").nodes()} == expected
    finally:
        server.shutdown()
        server.server_close()


def test_collector_pauses_overlap_between_threads_and_restore_its_state() -> None:
    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(5)
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the other thread still holds its pause
    finally:
        release.set()
        holder.join(5)
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()


def test_responses_parse_like_the_standard_library_including_what_orjson_refuses() -> None:
    page = AZURE_SEVEN_NODES.read_bytes()
    assert parse_json(page) == json.loads(page)
    lone_surrogate = b'{"metadata":{"name":"n","annotations":{"a":"\\ud800"}}}'
    assert parse_json(lone_surrogate)["metadata"]["annotations"]["a"] == "\ud800"
    assert parse_json(b'{"a":NaN}')["a"] != parse_json(b'{"a":NaN}')["a"]  # NaN, as json reads it
    for garbage in (b'{"items":[', b"not json", b"\xff\xfe"):
        with pytest.raises(ValueError):
            parse_json(garbage)
