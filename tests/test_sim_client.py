"""The Python ``kubernetes`` client against the simulator, over real HTTP on 127.0.0.1.

Each test names one kube-apiserver behaviour (see ``apiserver-behaviour.md``) and checks that the
simulator serves it the way the client sees it from a real server.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import watch as k8s_watch

from conftest import (
    KIND_THREE_NODES,
    REAL_OBJECTS,
    SIM_CLUSTER,
    api_client_for,
    new_daemonset,
    new_node,
    new_pdb,
    new_pod,
)
from knm_tui.sim import ClusterSpec, SimClock, Simulator
from knm_tui.sim.world import WorldSpec

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
KIND_NODE_NAMES = ["kind-control-plane", "kind-worker", "kind-worker2"]
CONFLICT_MESSAGE = ('Operation cannot be fulfilled on nodes "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again")


# ---------------------------------------------------------------------------- helpers
def core(api_client: k8s_client.ApiClient) -> k8s_client.CoreV1Api:
    """The CoreV1Api on ``api_client``."""
    return k8s_client.CoreV1Api(api_client)


def status_of(error: k8s_client.ApiException) -> dict[str, Any]:
    """The ``Status`` body of an API error."""
    return json.loads(error.body)


def names(items: list[Any]) -> list[str]:
    """The names of model objects, in order."""
    return [item.metadata.name for item in items]


def raw_lines(response: urllib3.HTTPResponse) -> list[dict[str, Any]]:
    """Every watch event of a raw (``_preload_content=False``) response, read until the server closes."""
    try:
        body = response.read()
    finally:
        response.release_conn()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def first_events(response: Any, count: int) -> list[dict[str, Any]]:
    """The first ``count`` watch events of a streaming response (urllib3 or urllib), then hang up."""
    events: list[dict[str, Any]] = []
    try:
        while len(events) < count:
            line = response.readline()
            if not line:
                break
            if line.strip():
                events.append(json.loads(line))
    finally:
        response.close()
    return events


def open_stream(url: str, accept: str = "application/json") -> Any:
    """Open a streaming GET (for watches) with urllib."""
    return urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=10)


def http_get(url: str, accept: str = "application/json", *, method: str = "GET", body: bytes | None = None,
             content_type: str | None = None) -> tuple[int, dict[str, str], Any]:
    """Send one request (GET unless ``method`` says otherwise); returns status, headers and the parsed JSON body."""
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def eviction_for(name: str, namespace: str = "default") -> k8s_client.V1Eviction:
    """A policy/v1 Eviction for one pod."""
    return k8s_client.V1Eviction(metadata=k8s_client.V1ObjectMeta(name=name, namespace=namespace))


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` every 20 ms until it holds or ``timeout`` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def labelled(sim: Simulator) -> Simulator:
    """``sim`` plus three labelled nodes: n-a (tier=web, zone=z1), n-b (tier=db, zone=z2, cordoned),
    n-c (tier=cache, zone=z1, gpu=true), and pods on n-a and n-b."""
    store = sim.cluster(SIM_CLUSTER).store
    store.create("nodes", new_node("n-a", labels={"tier": "web", "zone": "z1"}))
    store.create("nodes", new_node("n-b", labels={"tier": "db", "zone": "z2"}, unschedulable=True))
    store.create("nodes", new_node("n-c", labels={"tier": "cache", "zone": "z1", "gpu": "true"}))
    store.create("pods", new_pod("web-1", "n-a", labels={"app": "web"}))
    store.create("pods", new_pod("web-2", "n-a", labels={"app": "web"}, phase="Succeeded"))
    store.create("pods", new_pod("db-1", "n-b", namespace="kube-system", labels={"app": "db"}))
    return sim


# ---------------------------------------------------------------------------- LIST
def test_list_nodes_returns_every_node_in_name_order_with_kind(api_client: k8s_client.ApiClient) -> None:
    node_list = core(api_client).list_node()
    assert names(node_list.items) == KIND_NODE_NAMES
    assert int(node_list.metadata.resource_version) > 0
    assert node_list.metadata.var_continue is None
    assert node_list.items[1].status.node_info.kubelet_version == "v1.20.0"


def test_list_pods_across_namespaces_is_ordered_by_namespace_then_name(
        labelled: Simulator, api_client: k8s_client.ApiClient) -> None:
    pods = core(api_client).list_pod_for_all_namespaces()
    assert [(p.metadata.namespace, p.metadata.name) for p in pods.items] == [
        ("default", "web-1"), ("default", "web-2"), ("kube-system", "db-1")]
    assert names(core(api_client).list_namespaced_pod("kube-system").items) == ["db-1"]


def test_pages_are_one_consistent_snapshot_while_writes_happen_between_them(
        sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    store = sim.cluster(SIM_CLUSTER).store
    for index in range(1, 6):
        store.create("nodes", new_node(f"node-0{index}"))
    api = core(api_client)
    first = api.list_node(limit=3)
    assert names(first.items) == KIND_NODE_NAMES
    assert first.metadata.remaining_item_count == 5
    snapshot_rv = first.metadata.resource_version

    store.mutate("nodes", "", "node-03", lambda node: node["metadata"]["labels"].update(changed="yes"))
    store.delete("nodes", "", "node-05")
    store.create("nodes", new_node("node-99"))

    second = api.list_node(limit=3, _continue=first.metadata.var_continue)
    assert names(second.items) == ["node-01", "node-02", "node-03"]
    assert "changed" not in second.items[2].metadata.labels
    assert second.metadata.resource_version == snapshot_rv
    assert second.metadata.remaining_item_count == 2
    third = api.list_node(limit=3, _continue=second.metadata.var_continue)
    assert names(third.items) == ["node-04", "node-05"]
    assert third.metadata.var_continue is None
    assert third.metadata.resource_version == snapshot_rv
    assert names(api.list_node().items)[-1] == "node-99"


def test_remaining_item_count_is_left_out_with_a_selector(labelled: Simulator, api_client: k8s_client.ApiClient) -> None:
    page = core(api_client).list_node(limit=1, label_selector="zone=z1")
    assert names(page.items) == ["n-a"]
    assert page.metadata.var_continue
    assert page.metadata.remaining_item_count is None
    rest = core(api_client).list_node(limit=1, label_selector="zone=z1", _continue=page.metadata.var_continue)
    assert names(rest.items) == ["n-c"]


def test_expired_continue_token_is_410_expired(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    store = sim.cluster(SIM_CLUSTER).store
    first = core(api_client).list_node(limit=1)
    store.create("nodes", new_node("later"))
    store.compact()
    store.drop_snapshots()
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).list_node(limit=1, _continue=first.metadata.var_continue)
    assert raised.value.status == 410
    body = status_of(raised.value)
    assert body["reason"] == "Expired"
    assert body["message"].startswith("The provided continue parameter is too old")


def test_malformed_continue_token_is_400(api_client: k8s_client.ApiClient) -> None:
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).list_node(limit=1, _continue="not-a-token!")
    assert raised.value.status == 400
    assert status_of(raised.value)["reason"] == "BadRequest"


def test_continue_with_a_resource_version_other_than_zero_is_400(api_client: k8s_client.ApiClient) -> None:
    token = core(api_client).list_node(limit=1).metadata.var_continue
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).list_node(limit=1, _continue=token, resource_version="5")
    assert raised.value.status == 400
    page = core(api_client).list_node(limit=1, _continue=token, resource_version="0")
    assert names(page.items) == ["kind-worker"]


@pytest.mark.parametrize(("selector", "expected"), [
    ("tier=web", ["n-a"]),
    ("tier==db", ["n-b"]),
    ("tier!=web", KIND_NODE_NAMES + ["n-b", "n-c"]),
    ("tier in (web,db)", ["n-a", "n-b"]),
    ("tier notin (web,db)", KIND_NODE_NAMES + ["n-c"]),
    ("gpu", ["n-c"]),
    ("!gpu", KIND_NODE_NAMES + ["n-a", "n-b"]),
    ("zone=z1,tier!=web", ["n-c"]),
])
def test_label_selector(labelled: Simulator, api_client: k8s_client.ApiClient, selector: str,
                        expected: list[str]) -> None:
    assert names(core(api_client).list_node(label_selector=selector).items) == expected


def test_invalid_label_selector_is_400(api_client: k8s_client.ApiClient) -> None:
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).list_node(label_selector="tier in web")
    assert raised.value.status == 400


@pytest.mark.parametrize(("selector", "expected"), [
    ("metadata.name=n-a", ["n-a"]),
    ("metadata.name!=n-a,metadata.name!=n-b", KIND_NODE_NAMES + ["n-c"]),
    ("spec.unschedulable=true", ["n-b"]),
    ("spec.unschedulable==false", KIND_NODE_NAMES + ["n-a", "n-c"]),
])
def test_node_field_selector(labelled: Simulator, api_client: k8s_client.ApiClient, selector: str,
                             expected: list[str]) -> None:
    assert names(core(api_client).list_node(field_selector=selector).items) == expected


def test_pod_field_selectors(labelled: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    assert names(api.list_pod_for_all_namespaces(field_selector="spec.nodeName=n-a").items) == ["web-1", "web-2"]
    assert names(api.list_pod_for_all_namespaces(field_selector="spec.nodeName=n-a,status.phase!=Succeeded").items) == ["web-1"]
    assert names(api.list_pod_for_all_namespaces(field_selector="metadata.namespace=kube-system").items) == ["db-1"]


@pytest.mark.parametrize(("list_call", "label"), [("list_node", "status.phase"), ("list_pod_for_all_namespaces", "spec.nodeNames")])
def test_unsupported_field_label_is_400_naming_it(api_client: k8s_client.ApiClient, list_call: str, label: str) -> None:
    with pytest.raises(k8s_client.ApiException) as raised:
        getattr(core(api_client), list_call)(field_selector=f"{label}=x")
    assert raised.value.status == 400
    assert status_of(raised.value)["message"] == f"field label not supported: {label}"


def test_resource_version_exact_lists_the_old_state(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    before = api.list_node().metadata.resource_version
    api.patch_node("kind-worker", {"metadata": {"labels": {"added": "later"}}})
    old = api.list_node(resource_version=before, resource_version_match="Exact")
    assert old.metadata.resource_version == before
    assert "added" not in old.items[1].metadata.labels
    newer = api.list_node(resource_version=before, resource_version_match="NotOlderThan")
    assert int(newer.metadata.resource_version) > int(before)
    assert newer.items[1].metadata.labels["added"] == "later"
    assert names(api.list_node(resource_version="0").items) == KIND_NODE_NAMES


def test_resource_version_match_without_resource_version_is_422(api_client: k8s_client.ApiClient) -> None:
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).list_node(resource_version_match="NotOlderThan")
    assert raised.value.status == 422
    assert status_of(raised.value)["reason"] == "Invalid"


def test_resource_version_newer_than_the_server_is_a_timeout(api_client: k8s_client.ApiClient) -> None:
    current = int(core(api_client).list_node().metadata.resource_version)
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).list_node(resource_version=str(current + 1000))
    assert raised.value.status == 504


# ---------------------------------------------------------------------------- WATCH
def test_watch_from_a_resource_version_gets_every_later_change_in_order(
        sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    start = api.list_node().metadata.resource_version
    for value in ("1", "2", "3"):
        api.patch_node("kind-worker2", {"metadata": {"labels": {"step": value}}})
    watcher = k8s_watch.Watch()
    events = []
    for event in watcher.stream(api.list_node, resource_version=start, timeout_seconds=5):
        events.append(event)
        if len(events) == 3:
            watcher.stop()
    assert [e["type"] for e in events] == ["MODIFIED"] * 3
    assert [e["object"].metadata.labels["step"] for e in events] == ["1", "2", "3"]
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(versions) and versions[0] > int(start)


def test_watch_sees_live_changes_after_the_initial_objects(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    store = sim.cluster(SIM_CLUSTER).store
    writer = threading.Timer(0.3, lambda: store.create("nodes", new_node("joined")))
    writer.start()
    events = []
    watcher = k8s_watch.Watch()
    for event in watcher.stream(api.list_node, timeout_seconds=5):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 4:
            watcher.stop()
    writer.join()
    assert events == [("ADDED", name) for name in KIND_NODE_NAMES] + [("ADDED", "joined")]


def test_watch_older_than_the_history_gets_one_410_error_event_then_closes(
        sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    store = sim.cluster(SIM_CLUSTER).store
    old = api.list_node().metadata.resource_version
    api.patch_node("kind-worker", {"metadata": {"labels": {"moved": "on"}}})
    store.compact()
    started = time.monotonic()
    response = api.list_node(watch=True, resource_version=old, timeout_seconds=10, _preload_content=False)
    assert response.status == 200
    events = raw_lines(response)
    assert time.monotonic() - started < 5
    assert events == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {old} ({store.resource_version})", "reason": "Expired", "code": 410}}]


def test_watch_stream_raises_410_to_the_caller(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    old = api.list_node().metadata.resource_version
    api.patch_node("kind-worker", {"metadata": {"labels": {"moved": "on"}}})
    sim.cluster(SIM_CLUSTER).store.compact()
    with pytest.raises(k8s_client.ApiException) as raised:
        list(k8s_watch.Watch().stream(api.list_node, resource_version=old, timeout_seconds=5))
    assert raised.value.status == 410


def test_bookmarks_come_only_when_asked_for(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    cluster = sim.cluster(SIM_CLUSTER)
    cluster.watch_limits.bookmark_interval_seconds = 0.2
    api = core(api_client)
    current = api.list_node().metadata.resource_version
    bookmarks = first_events(api.list_node(watch=True, resource_version=current, allow_watch_bookmarks=True,
                                           timeout_seconds=10, _preload_content=False), 2)
    assert [e["type"] for e in bookmarks] == ["BOOKMARK", "BOOKMARK"]
    assert bookmarks[0]["object"] == {"kind": "Node", "apiVersion": "v1", "metadata": {"resourceVersion": current}}
    without = raw_lines(api.list_node(watch=True, resource_version=current, timeout_seconds=1, _preload_content=False))
    assert without == []


def test_watch_timeout_seconds_ends_the_stream(api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    started = time.monotonic()
    events = list(k8s_watch.Watch().stream(api.list_node, timeout_seconds=1))
    elapsed = time.monotonic() - started
    assert [e["type"] for e in events] == ["ADDED"] * 3
    assert 0.9 <= elapsed < 3


def test_watch_with_a_field_selector_turns_leaving_the_selection_into_deleted(
        labelled: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    start = api.list_node().metadata.resource_version
    api.patch_node("n-a", {"spec": {"unschedulable": True}})
    api.patch_node("n-b", {"spec": {"unschedulable": None}})
    events = first_events(api.list_node(watch=True, resource_version=start, field_selector="spec.unschedulable=true",
                                        timeout_seconds=10, _preload_content=False), 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "n-a"), ("DELETED", "n-b")]


def test_watch_older_than_a_bounded_history_is_410(start_simulator: Callable[..., Simulator]) -> None:
    simulator = start_simulator([ClusterSpec(SIM_CLUSTER, nodes_from=str(KIND_THREE_NODES), history_limit=5)])
    with api_client_for(simulator, SIM_CLUSTER) as api_client:
        api = core(api_client)
        start = api.list_node().metadata.resource_version
        for index in range(20):
            api.patch_node("kind-worker", {"metadata": {"labels": {"step": str(index)}}})
        events = raw_lines(api.list_node(watch=True, resource_version=start, timeout_seconds=5, _preload_content=False))
        assert [(e["type"], e["object"]["code"], e["object"]["reason"]) for e in events] == [("ERROR", 410, "Expired")]
        recent = str(int(api.list_node().metadata.resource_version) - 2)
        resumed = first_events(api.list_node(watch=True, resource_version=recent, timeout_seconds=10,
                                             _preload_content=False), 2)
        assert [e["object"]["metadata"]["labels"]["step"] for e in resumed] == ["18", "19"]


def test_twenty_concurrent_watchers_all_see_a_change(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    start = core(api_client).list_node().metadata.resource_version
    url = f"{sim.url(SIM_CLUSTER)}/api/v1/nodes?watch=true&resourceVersion={start}&timeoutSeconds=5"
    received: list[str] = []
    lock = threading.Lock()

    def watch_one() -> None:
        with urllib.request.urlopen(url, timeout=10) as response:
            event = json.loads(response.readline())
        with lock:
            received.append(event["object"]["metadata"]["labels"]["seen"])

    watchers = [threading.Thread(target=watch_one) for _ in range(20)]
    for watcher in watchers:
        watcher.start()
    core(api_client).patch_node("kind-worker", {"metadata": {"labels": {"seen": "by-all"}}})
    for watcher in watchers:
        watcher.join(timeout=10)
    assert received == ["by-all"] * 20


def test_table_watch_sends_column_definitions_only_first(sim: Simulator) -> None:
    store = sim.cluster(SIM_CLUSTER).store
    start = store.resource_version
    store.mutate("nodes", "", "kind-worker", lambda node: node["spec"].update(unschedulable=True))
    response = open_stream(f"{sim.url(SIM_CLUSTER)}/api/v1/nodes?watch=true&resourceVersion={start}&timeoutSeconds=10",
                           TABLE_ACCEPT)
    content_type = response.headers["Content-Type"]
    store.mutate("nodes", "", "kind-worker2", lambda node: node["spec"].update(unschedulable=True))
    events = first_events(response, 2)
    assert content_type == "application/json;as=Table;v=v1;g=meta.k8s.io"
    assert [e["type"] for e in events] == ["MODIFIED", "MODIFIED"]
    assert [e["object"]["kind"] for e in events] == ["Table", "Table"]
    assert [c["name"] for c in events[0]["object"]["columnDefinitions"]][:5] == ["Name", "Status", "Roles", "Age", "Version"]
    assert events[1]["object"]["columnDefinitions"] is None
    assert [e["object"]["rows"][0]["cells"][:2] for e in events] == [
        ["kind-worker", "NotReady,SchedulingDisabled"], ["kind-worker2", "Ready,SchedulingDisabled"]]


def test_watch_list_sends_initial_objects_then_an_end_bookmark(sim: Simulator) -> None:
    url = (f"{sim.url(SIM_CLUSTER)}/api/v1/nodes?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
           "&resourceVersionMatch=NotOlderThan&resourceVersion=&timeoutSeconds=10")
    events = first_events(open_stream(url), 4)
    assert [e["type"] for e in events[:4]] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
    assert events[3]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[3]["object"]["metadata"]["resourceVersion"] == str(sim.cluster(SIM_CLUSTER).store.resource_version)


# ---------------------------------------------------------------------------- writes
def test_strategic_merge_patch_replaces_taints_whole(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    old_taints = [{"key": "a", "value": "1", "effect": "NoSchedule"}, {"key": "b", "effect": "NoExecute"}]
    sim.cluster(SIM_CLUSTER).store.create("nodes", new_node("tainted", taints=old_taints))
    patched = core(api_client).patch_node("tainted", {"spec": {"taints": [{"key": "c", "effect": "PreferNoSchedule"}]}})
    assert [(t.key, t.effect) for t in patched.spec.taints] == [("c", "PreferNoSchedule")]
    stored = sim.cluster(SIM_CLUSTER).store.get("nodes", "", "tainted").obj
    assert stored["spec"]["taints"] == [{"key": "c", "effect": "PreferNoSchedule"}]


def test_strategic_merge_on_node_status_merges_conditions_by_type(
        sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    sim.cluster(SIM_CLUSTER).store.create("nodes", new_node("merging"))
    patch = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                                        "message": "PLEG is not healthy", "lastHeartbeatTime": "2024-05-01T10:05:00Z",
                                        "lastTransitionTime": "2024-05-01T10:05:00Z"}]}}
    patched = core(api_client).patch_node_status("merging", patch)
    by_type = {c.type: c for c in patched.status.conditions}
    assert set(by_type) == {"MemoryPressure", "DiskPressure", "Ready"}
    assert by_type["Ready"].status == "False"
    assert by_type["Ready"].message == "PLEG is not healthy"
    assert by_type["MemoryPressure"].reason == "KubeletHasSufficientMemory"


def test_list_body_is_sent_as_json_patch(api_client: k8s_client.ApiClient) -> None:
    patched = core(api_client).patch_node("kind-worker", [
        {"op": "add", "path": "/metadata/labels/team", "value": "storage"},
        {"op": "remove", "path": "/metadata/labels/kubernetes.io~1os"},
    ])
    assert patched.metadata.labels["team"] == "storage"
    assert "kubernetes.io/os" not in patched.metadata.labels


def test_failed_json_patch_test_operation_is_422(api_client: k8s_client.ApiClient) -> None:
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).patch_node("kind-worker", [{"op": "test", "path": "/metadata/name", "value": "other"}])
    assert raised.value.status == 422


def test_merge_patch_removes_a_label_with_null(api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    api.patch_node("kind-worker", {"metadata": {"labels": {"doomed": "yes", "kept": "yes"}}},
                   _content_type="application/merge-patch+json")
    patched = api.patch_node("kind-worker", {"metadata": {"labels": {"doomed": None}}},
                             _content_type="application/merge-patch+json")
    assert "doomed" not in patched.metadata.labels
    assert patched.metadata.labels["kept"] == "yes"
    assert "doomed" not in api.read_node("kind-worker").metadata.labels


def test_unknown_patch_content_type_is_415(sim: Simulator) -> None:
    code, _, body = http_get(f"{sim.url(SIM_CLUSTER)}/api/v1/nodes/kind-worker", method="PATCH",
                             body=b'{"metadata":{}}', content_type="application/xml")
    assert code == 415
    assert body["reason"] == "UnsupportedMediaType"


def test_put_with_a_stale_resource_version_is_409_conflict(api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    node = api.read_node("kind-worker2")
    fresh = api.read_node("kind-worker2")
    fresh.metadata.labels["first"] = "writer"
    written = api.replace_node("kind-worker2", fresh)
    assert int(written.metadata.resource_version) > int(node.metadata.resource_version)
    node.metadata.labels["second"] = "writer"
    with pytest.raises(k8s_client.ApiException) as raised:
        api.replace_node("kind-worker2", node)
    assert raised.value.status == 409
    body = status_of(raised.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == CONFLICT_MESSAGE.format(name="kind-worker2")
    labels = api.read_node("kind-worker2").metadata.labels
    assert labels["first"] == "writer" and "second" not in labels


def test_put_without_a_resource_version_is_allowed(api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    node = api.read_node("kind-worker2")
    node.metadata.resource_version = None
    node.metadata.labels["unconditional"] = "yes"
    assert api.replace_node("kind-worker2", node).metadata.labels["unconditional"] == "yes"


def test_writes_to_nodes_drop_status_and_writes_to_status_drop_spec(
        sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    node = api.read_node("kind-control-plane")
    node.metadata.labels["via"] = "put"
    node.status.node_info.kubelet_version = "v9.9.9"
    replaced = api.replace_node("kind-control-plane", node)
    assert replaced.metadata.labels["via"] == "put"
    assert replaced.status.node_info.kubelet_version == "v1.20.0"

    patched = api.patch_node("kind-control-plane", {"spec": {"unschedulable": True},
                                                    "status": {"nodeInfo": {"kubeletVersion": "v9.9.9"}}})
    assert patched.spec.unschedulable is True
    assert patched.status.node_info.kubelet_version == "v1.20.0"

    status_patched = api.patch_node_status("kind-control-plane", {"spec": {"unschedulable": None},
                                                                  "status": {"nodeInfo": {"kubeletVersion": "v1.20.1"}}})
    assert status_patched.spec.unschedulable is True
    assert status_patched.status.node_info.kubelet_version == "v1.20.1"
    stored = sim.cluster(SIM_CLUSTER).store.get("nodes", "", "kind-control-plane").obj
    assert stored["spec"]["unschedulable"] is True
    assert stored["status"]["nodeInfo"]["kubeletVersion"] == "v1.20.1"


def test_created_objects_get_a_uuid_and_a_second_precision_timestamp(api_client: k8s_client.ApiClient) -> None:
    body = new_pod("made-here", None)
    response = core(api_client).create_namespaced_pod("default", body, _preload_content=False)
    created = json.loads(response.data)
    assert response.status == 201
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", created["metadata"]["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created["metadata"]["creationTimestamp"])
    assert (created["kind"], created["apiVersion"]) == ("Pod", "v1")
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).create_namespaced_pod("default", new_pod("made-here", None))
    assert raised.value.status == 409
    assert status_of(raised.value)["reason"] == "AlreadyExists"


def test_field_manager_and_apply_patches_are_accepted(api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    patched = api.patch_node("kind-worker", {"metadata": {"labels": {"managed": "yes"}}}, field_manager="knm-tui",
                             field_validation="Strict")
    assert patched.metadata.labels["managed"] == "yes"
    applied = api.patch_node("kind-worker", {"apiVersion": "v1", "kind": "Node",
                                             "metadata": {"name": "kind-worker", "labels": {"applied": "yes"}}},
                             field_manager="knm-tui", force=True, _content_type="application/apply-patch+yaml")
    assert applied.metadata.labels["applied"] == "yes"


def test_every_write_takes_a_new_global_resource_version(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    api = core(api_client)
    store = sim.cluster(SIM_CLUSTER).store
    before = store.resource_version
    node_rv = int(api.patch_node("kind-worker", {"metadata": {"labels": {"one": "1"}}}).metadata.resource_version)
    store.create("pods", new_pod("p", None))
    pod_rv = int(store.get("pods", "default", "p").obj["metadata"]["resourceVersion"])
    api.delete_namespaced_pod("p", "default")
    assert before < node_rv < pod_rv < store.resource_version
    unchanged = api.patch_node("kind-worker", {"metadata": {"labels": {"one": "1"}}})
    assert int(unchanged.metadata.resource_version) == node_rv


# ---------------------------------------------------------------------------- DELETE and eviction
@pytest.fixture
def fast_sim(start_simulator: Callable[..., Simulator]) -> Simulator:
    """The kind nodes on a clock running 100x faster than real time (a 30 s grace period takes 0.3 s)."""
    return start_simulator([ClusterSpec(SIM_CLUSTER, nodes_from=str(KIND_THREE_NODES))], clock=SimClock(speed=100))


def test_deleting_a_bound_pod_marks_it_then_removes_it_after_the_grace_period(fast_sim: Simulator) -> None:
    store = fast_sim.cluster(SIM_CLUSTER).store
    store.create("pods", new_pod("graceful", "kind-worker", grace_seconds=30))
    with api_client_for(fast_sim, SIM_CLUSTER) as api_client:
        api = core(api_client)
        start = api.list_namespaced_pod("default").metadata.resource_version
        started = time.monotonic()
        marked = api.delete_namespaced_pod("graceful", "default")
        assert marked.metadata.deletion_timestamp is not None
        assert marked.metadata.deletion_grace_period_seconds == 30
        assert api.read_namespaced_pod("graceful", "default").metadata.deletion_timestamp is not None
        events = []
        watcher = k8s_watch.Watch()
        for event in watcher.stream(api.list_namespaced_pod, "default", resource_version=start, timeout_seconds=5):
            events.append(event)
            if event["type"] == "DELETED":
                watcher.stop()
        assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
        assert events[0]["object"].metadata.deletion_timestamp is not None
        assert 0.2 <= time.monotonic() - started < 3
        with pytest.raises(k8s_client.ApiException) as raised:
            api.read_namespaced_pod("graceful", "default")
        assert raised.value.status == 404


@pytest.mark.parametrize(("node", "grace"), [(None, None), ("kind-worker", 0)], ids=["unbound", "grace-0"])
def test_unbound_pod_or_grace_zero_is_gone_at_once(sim: Simulator, api_client: k8s_client.ApiClient,
                                                   node: str | None, grace: int | None) -> None:
    sim.cluster(SIM_CLUSTER).store.create("pods", new_pod("quick", node, grace_seconds=30))
    api = core(api_client)
    api.delete_namespaced_pod("quick", "default", grace_period_seconds=grace)
    with pytest.raises(k8s_client.ApiException) as raised:
        api.read_namespaced_pod("quick", "default")
    assert raised.value.status == 404


def test_delete_options_in_the_body_set_the_grace_period(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    sim.cluster(SIM_CLUSTER).store.create("pods", new_pod("bodied", "kind-worker", grace_seconds=30))
    core(api_client).delete_namespaced_pod("bodied", "default", body=k8s_client.V1DeleteOptions(grace_period_seconds=0))
    assert sim.cluster(SIM_CLUSTER).store.get("pods", "default", "bodied") is None


def test_eviction_without_a_budget_is_201_and_deletes_the_pod(fast_sim: Simulator) -> None:
    fast_sim.cluster(SIM_CLUSTER).store.create("pods", new_pod("free", "kind-worker", grace_seconds=1))
    with api_client_for(fast_sim, SIM_CLUSTER) as api_client:
        _, code, _ = core(api_client).create_namespaced_pod_eviction_with_http_info(
            "free", "default", eviction_for("free"))
        assert code == 201
    assert wait_until(lambda: fast_sim.cluster(SIM_CLUSTER).store.get("pods", "default", "free") is None)


def test_eviction_blocked_by_a_budget_is_429_with_the_cause(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    store = sim.cluster(SIM_CLUSTER).store
    store.create("pods", new_pod("db-0", "kind-worker", labels={"app": "db"}))
    store.create("poddisruptionbudgets", new_pdb("db-pdb", {"app": "db"}, min_available=1))
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).create_namespaced_pod_eviction("db-0", "default", eviction_for("db-0"))
    assert raised.value.status == 429
    body = status_of(raised.value)
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget",
                                          "message": "The disruption budget db-pdb needs 1 healthy pods and has 1 currently"}]
    pod = store.get("pods", "default", "db-0").obj
    assert "deletionTimestamp" not in pod["metadata"]
    pdb = k8s_client.PolicyV1Api(api_client).read_namespaced_pod_disruption_budget("db-pdb", "default")
    assert pdb.status.disruptions_allowed == 0
    assert pdb.status.current_healthy == 1 and pdb.status.desired_healthy == 1


def test_eviction_allowed_by_a_budget_spends_one_disruption(fast_sim: Simulator) -> None:
    store = fast_sim.cluster(SIM_CLUSTER).store
    for index in range(3):
        store.create("pods", new_pod(f"web-{index}", "kind-worker", labels={"app": "web"}, grace_seconds=5))
    store.create("poddisruptionbudgets", new_pdb("web-pdb", {"app": "web"}, max_unavailable=1))
    with api_client_for(fast_sim, SIM_CLUSTER) as api_client:
        api = core(api_client)
        api.create_namespaced_pod_eviction("web-0", "default", eviction_for("web-0"))
        with pytest.raises(k8s_client.ApiException) as raised:
            api.create_namespaced_pod_eviction("web-1", "default", eviction_for("web-1"))
        assert raised.value.status == 429


def test_eviction_of_a_missing_pod_is_404(api_client: k8s_client.ApiClient) -> None:
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).create_namespaced_pod_eviction("ghost", "default", eviction_for("ghost"))
    assert raised.value.status == 404
    assert status_of(raised.value)["message"] == 'pods "ghost" not found'


def test_eviction_with_two_budgets_is_500(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    store = sim.cluster(SIM_CLUSTER).store
    store.create("pods", new_pod("shared", "kind-worker", labels={"app": "db", "tier": "data"}))
    store.create("poddisruptionbudgets", new_pdb("by-app", {"app": "db"}, max_unavailable=1))
    store.create("poddisruptionbudgets", new_pdb("by-tier", {"tier": "data"}, max_unavailable=1))
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).create_namespaced_pod_eviction("shared", "default", eviction_for("shared"))
    assert raised.value.status == 500
    assert store.get("pods", "default", "shared") is not None


# ---------------------------------------------------------------------------- auth
def test_wrong_bearer_token_is_401_and_the_right_one_works(start_simulator: Callable[..., Simulator]) -> None:
    simulator = start_simulator([ClusterSpec(SIM_CLUSTER, nodes_from=str(KIND_THREE_NODES))], token="right")
    with api_client_for(simulator, SIM_CLUSTER, token="wrong") as wrong:
        with pytest.raises(k8s_client.ApiException) as raised:
            core(wrong).list_node()
    assert raised.value.status == 401
    assert status_of(raised.value) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                       "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    with api_client_for(simulator, SIM_CLUSTER) as right:
        assert names(core(right).list_node().items) == KIND_NODE_NAMES
        simulator.cluster(SIM_CLUSTER).rotate_token("rotated")
        with pytest.raises(k8s_client.ApiException) as expired:
            core(right).list_node()
        assert expired.value.status == 401


def test_forbidden_verb_is_403_with_upstreams_message(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    sim.cluster(SIM_CLUSTER).faults.forbid("patch", "nodes")
    api = core(api_client)
    with pytest.raises(k8s_client.ApiException) as raised:
        api.patch_node("kind-worker", {"spec": {"unschedulable": True}})
    assert raised.value.status == 403
    body = status_of(raised.value)
    assert body["reason"] == "Forbidden"
    assert body["message"].startswith('nodes "kind-worker" is forbidden: User "')
    assert 'cannot patch resource "nodes"' in body["message"]
    assert api.read_node("kind-worker").spec.unschedulable is None
    sim.cluster(SIM_CLUSTER).faults.allow("patch", "nodes")
    assert api.patch_node("kind-worker", {"spec": {"unschedulable": True}}).spec.unschedulable is True


def test_self_subject_access_review_reports_allowed_and_denied(
        sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    authorization = k8s_client.AuthorizationV1Api(api_client)

    def review() -> k8s_client.V1SelfSubjectAccessReview:
        attributes = k8s_client.V1ResourceAttributes(verb="patch", resource="nodes", name="kind-worker")
        body = k8s_client.V1SelfSubjectAccessReview(spec=k8s_client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=attributes))
        return authorization.create_self_subject_access_review(body)

    allowed = review()
    assert allowed.status.allowed is True
    assert allowed.spec.resource_attributes.verb == "patch"
    sim.cluster(SIM_CLUSTER).faults.forbid("patch", "nodes")
    denied = review()
    assert denied.status.allowed is False
    assert not denied.status.denied


# ---------------------------------------------------------------------------- discovery and Table
def test_core_discovery_names_the_resources_and_the_policy_eviction(api_client: k8s_client.ApiClient) -> None:
    resources = {r.name: r for r in core(api_client).get_api_resources().resources}
    assert {"nodes", "nodes/status", "pods", "pods/status", "pods/eviction", "events", "namespaces"} <= set(resources)
    eviction = resources["pods/eviction"]
    assert (eviction.group, eviction.version, eviction.kind) == ("policy", "v1", "Eviction")
    assert resources["nodes"].namespaced is False and resources["pods"].namespaced is True
    assert {"list", "watch", "patch"} <= set(resources["nodes"].verbs)


def test_group_discovery_lists_every_group(api_client: k8s_client.ApiClient) -> None:
    groups = {g.name: g for g in k8s_client.ApisApi(api_client).get_api_versions().groups}
    assert set(groups) == {"apps", "policy", "coordination.k8s.io", "authorization.k8s.io"}
    assert groups["policy"].preferred_version.group_version == "policy/v1"
    apps = {r.name for r in k8s_client.AppsV1Api(api_client).get_api_resources().resources}
    assert "daemonsets" in apps
    leases = {r.name for r in k8s_client.CoordinationV1Api(api_client).get_api_resources().resources}
    assert "leases" in leases
    version = k8s_client.VersionApi(api_client).get_code()
    assert (version.major, version.minor) == ("1", "32")


def test_node_table_has_upstreams_columns_and_cells(sim: Simulator) -> None:
    code, headers, table = http_get(f"{sim.url(SIM_CLUSTER)}/api/v1/nodes", TABLE_ACCEPT)
    assert code == 200
    assert headers["Content-Type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0), ("Internal-IP", 1),
        ("External-IP", 1), ("OS-Image", 1), ("Kernel-Version", 1), ("Container-Runtime", 1)]
    rows = {row["cells"][0]: row for row in table["rows"]}
    worker = rows["kind-worker"]["cells"]
    assert worker[1:3] == ["NotReady", "<none>"]
    assert worker[4:] == ["v1.20.0", "172.18.0.2", "<none>", "Ubuntu Groovy Gorilla (development branch)",
                         "5.10.76-linuxkit", "containerd://1.4.0"]
    assert rows["kind-control-plane"]["cells"][1:3] == ["Ready", "control-plane,master"]
    assert rows["kind-worker"]["object"]["kind"] == "PartialObjectMetadata"
    assert rows["kind-worker"]["object"]["metadata"]["name"] == "kind-worker"
    assert table["metadata"]["resourceVersion"] == str(sim.cluster(SIM_CLUSTER).store.resource_version)


@pytest.mark.parametrize(("include", "expected_kind"), [("None", None), ("Metadata", "PartialObjectMetadata"),
                                                        ("Object", "Node")])
def test_table_include_object(sim: Simulator, include: str, expected_kind: str | None) -> None:
    code, _, table = http_get(f"{sim.url(SIM_CLUSTER)}/api/v1/nodes/kind-worker?includeObject={include}",
                              TABLE_ACCEPT)
    assert code == 200
    row_object = table["rows"][0].get("object")
    if expected_kind is None:
        assert row_object is None
    else:
        assert row_object["kind"] == expected_kind
        assert ("status" in row_object) == (expected_kind == "Node")


def test_pod_table_columns(labelled: Simulator) -> None:
    code, _, table = http_get(f"{labelled.url(SIM_CLUSTER)}/api/v1/namespaces/default/pods", TABLE_ACCEPT)
    assert code == 200
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    cells = {row["cells"][0]: row["cells"] for row in table["rows"]}
    assert cells["web-1"][1:4] == ["1/1", "Running", "0"]
    assert cells["web-2"][2] == "Completed"
    assert cells["web-1"][6] == "n-a"


def test_without_table_accept_the_list_is_plain_json(sim: Simulator) -> None:
    code, headers, body = http_get(f"{sim.url(SIM_CLUSTER)}/api/v1/nodes")
    assert code == 200 and headers["Content-Type"] == "application/json"
    assert body["kind"] == "NodeList"
    assert [item["kind"] for item in body["items"]] == ["Node"] * 3


# ---------------------------------------------------------------------------- faults
def test_error_rate_fails_requests_with_500_or_503(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    faults = sim.cluster(SIM_CLUSTER).faults
    faults.error_rate = 1.0
    codes = set()
    for _ in range(12):
        with pytest.raises(k8s_client.ApiException) as raised:
            core(api_client).list_node()
        codes.add(raised.value.status)
    assert codes == {500, 503}
    faults.error_codes = (503,)
    with pytest.raises(k8s_client.ApiException) as raised:
        core(api_client).read_node("kind-worker")
    assert status_of(raised.value)["reason"] == "ServiceUnavailable"
    faults.error_rate = 0.0
    assert names(core(api_client).list_node().items) == KIND_NODE_NAMES


def test_close_watch_after_events_ends_the_stream_early(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    sim.cluster(SIM_CLUSTER).faults.close_watch_after_events = 2
    started = time.monotonic()
    events = raw_lines(core(api_client).list_node(watch=True, timeout_seconds=10, _preload_content=False))
    assert [e["object"]["metadata"]["name"] for e in events] == KIND_NODE_NAMES[:2]
    assert time.monotonic() - started < 5


def test_gone_on_next_watch_answers_a_resume_with_410(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    sim.cluster(SIM_CLUSTER).faults.gone_on_next_watches(1)
    current = core(api_client).list_node().metadata.resource_version
    events = raw_lines(core(api_client).list_node(watch=True, resource_version=current, timeout_seconds=10,
                                                  _preload_content=False))
    assert [(e["type"], e["object"]["code"]) for e in events] == [("ERROR", 410)]
    core(api_client).patch_node("kind-worker", {"metadata": {"labels": {"after": "gone"}}})
    again = first_events(core(api_client).list_node(watch=True, resource_version=current, timeout_seconds=10,
                                                    _preload_content=False), 1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in again] == [("MODIFIED", "kind-worker")]


def test_latency_slows_every_request(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    sim.cluster(SIM_CLUSTER).faults.latency_seconds = 0.3
    started = time.monotonic()
    core(api_client).read_node("kind-worker")
    core(api_client).read_node("kind-worker2")
    assert time.monotonic() - started >= 0.6


def test_stall_holds_a_response_past_the_client_timeout(sim: Simulator) -> None:
    sim.cluster(SIM_CLUSTER).faults.stall_next_requests(1, 3.0)
    with api_client_for(sim, SIM_CLUSTER, retries=False) as api_client:
        started = time.monotonic()
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            core(api_client).list_node(_request_timeout=0.5)
        assert 0.4 <= time.monotonic() - started < 2.5
        assert names(core(api_client).list_node(_request_timeout=2).items) == KIND_NODE_NAMES


# ---------------------------------------------------------------------------- standalone server
def run_module(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``python -m knm_tui.sim *args`` with its output piped."""
    return subprocess.Popen([sys.executable, "-m", "knm_tui.sim", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_standalone_server_prints_ready_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    kubeconfig_path = tmp_path / "kubeconfig.yaml"
    process = run_module("--nodes-from", str(KIND_THREE_NODES), "--kubeconfig", str(kubeconfig_path))
    try:
        ready = process.stdout.readline()
        assert "ready" in ready and str(kubeconfig_path) in ready
        kubeconfig = yaml.safe_load(kubeconfig_path.read_text())
        assert os.stat(kubeconfig_path).st_mode & 0o077 == 0
        context = KIND_THREE_NODES.stem
        assert kubeconfig["current-context"] == context
        server = kubeconfig["clusters"][0]["cluster"]["server"]
        code, _, body = http_get(f"{server}/api/v1/nodes")
        assert code == 200 and [i["metadata"]["name"] for i in body["items"]] == KIND_NODE_NAMES
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_standalone_bad_flags_exit_2_with_one_line(tmp_path: Path) -> None:
    out = ["--kubeconfig", str(tmp_path / "out.yaml")]
    cases = {
        "unknown flag": ["--no-such-flag", *out],
        "not a number": ["--nodes", "many", *out],
        "missing file": ["--nodes-from", "/nonexistent/nodes.json", *out],
        "negative": ["--nodes", "-1", *out],
        "no kubeconfig": [],
    }
    processes = {case: run_module(*args) for case, args in cases.items()}
    for case, process in processes.items():
        stdout, stderr = process.communicate(timeout=20)
        assert (case, process.returncode, stdout) == (case, 2, "")
        assert len(stderr.strip().splitlines()) == 1, f"{case}: {stderr}"
        assert stderr.startswith("error: "), f"{case}: {stderr}"
    assert not (tmp_path / "out.yaml").exists()


# ---------------------------------------------------------------------------- other resources
def test_namespaces_leases_and_node_events(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    store = sim.cluster(SIM_CLUSTER).store
    store.create("events", {"metadata": {"name": "kind-worker.1", "namespace": "default"},
                            "involvedObject": {"kind": "Node", "name": "kind-worker", "uid": "kind-worker"},
                            "reason": "NodeNotReady", "message": "Node kind-worker status is now: NodeNotReady",
                            "type": "Normal", "count": 1})
    store.create("events", {"metadata": {"name": "kind-worker2.1", "namespace": "default"},
                            "involvedObject": {"kind": "Node", "name": "kind-worker2", "uid": "kind-worker2"},
                            "reason": "NodeReady", "type": "Normal", "count": 1})
    api = core(api_client)
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(names(api.list_namespace().items))
    leases = k8s_client.CoordinationV1Api(api_client).list_namespaced_lease("kube-node-lease")
    assert names(leases.items) == KIND_NODE_NAMES
    assert leases.items[0].spec.lease_duration_seconds == 40
    events = api.list_event_for_all_namespaces(field_selector="involvedObject.kind=Node,involvedObject.name=kind-worker")
    assert [e.reason for e in events.items] == ["NodeNotReady"]


def test_daemonsets_and_budgets_are_served_by_their_groups(sim: Simulator, api_client: k8s_client.ApiClient) -> None:
    store = sim.cluster(SIM_CLUSTER).store
    store.create("daemonsets", new_daemonset("kube-proxy"))
    daemonset = k8s_client.AppsV1Api(api_client).read_namespaced_daemon_set("kube-proxy", "kube-system")
    assert (daemonset.kind, daemonset.api_version) == ("DaemonSet", "apps/v1")
    for index in range(2):
        store.create("pods", new_pod(f"web-{index}", "kind-worker", labels={"app": "web"}))
    store.create("poddisruptionbudgets", new_pdb("web-pdb", {"app": "web"}, min_available=1))
    budgets = k8s_client.PolicyV1Api(api_client).list_pod_disruption_budget_for_all_namespaces()
    assert names(budgets.items) == ["web-pdb"]
    status = budgets.items[0].status
    assert (status.current_healthy, status.desired_healthy, status.expected_pods, status.disruptions_allowed) == (2, 1, 2, 1)


# ---------------------------------------------------------------------------- generated worlds
@pytest.fixture
def world_sim(start_simulator: Callable[..., Simulator]) -> Simulator:
    """A generated 20-node cluster with 5 pods per node where every PodDisruptionBudget starts blocking."""
    spec = WorldSpec(name="world", nodes=20, pods_per_node=5, seed=7, pdb_blocking_share=1.0)
    return start_simulator([ClusterSpec("world", world=spec)])


def test_generated_world_lists_paginates_and_selects(world_sim: Simulator) -> None:
    with api_client_for(world_sim, "world") as api_client:
        api = core(api_client)
        nodes = names(api.list_node().items)
        assert len(nodes) == 20 and nodes == sorted(nodes)
        everything = api.list_pod_for_all_namespaces().items
        assert len(everything) >= 20 * 5
        paged, token = [], None
        while True:
            page = api.list_pod_for_all_namespaces(limit=17, _continue=token)
            paged.extend((p.metadata.namespace, p.metadata.name) for p in page.items)
            token = page.metadata.var_continue
            if not token:
                break
        assert paged == [(p.metadata.namespace, p.metadata.name) for p in everything]
        assert paged == sorted(paged)
        node = nodes[3]
        on_node = api.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        assert on_node and names(on_node) == names([p for p in everything if p.spec.node_name == node])
        leases = k8s_client.CoordinationV1Api(api_client).list_namespaced_lease("kube-node-lease")
        assert names(leases.items) == nodes


def test_generated_world_budget_blocks_eviction(world_sim: Simulator) -> None:
    with api_client_for(world_sim, "world") as api_client:
        budgets = k8s_client.PolicyV1Api(api_client).list_pod_disruption_budget_for_all_namespaces().items
        blocking = [b for b in budgets if b.status.disruptions_allowed == 0 and b.spec.selector.match_labels]
        assert blocking
        budget = blocking[0]
        selector = ",".join(f"{key}={value}" for key, value in budget.spec.selector.match_labels.items())
        guarded = core(api_client).list_namespaced_pod(budget.metadata.namespace, label_selector=selector).items
        assert guarded
        pod = guarded[0]
        with pytest.raises(k8s_client.ApiException) as raised:
            core(api_client).create_namespaced_pod_eviction(pod.metadata.name, pod.metadata.namespace,
                                                            eviction_for(pod.metadata.name, pod.metadata.namespace))
        assert raised.value.status == 429
        assert status_of(raised.value)["details"]["causes"] == [{
            "reason": "DisruptionBudget",
            "message": f"The disruption budget {budget.metadata.name} needs {budget.status.desired_healthy} "
                       f"healthy pods and has {budget.status.current_healthy} currently"}]


# ---------------------------------------------------------------------------- fixtures of real clusters
def test_real_node_dump_serves_its_nodes_verbatim(start_simulator: Callable[..., Simulator]) -> None:
    path = REAL_OBJECTS / "gke-preemptible-node-npd-conditions-cost-attribution.json"
    simulator = start_simulator([ClusterSpec("gke", nodes_from=str(path))])
    with api_client_for(simulator, "gke") as api_client:
        node = core(api_client).read_node("gke-gar-1-pool-1-dce25db1-2mm5")
    conditions = {c.type for c in node.status.conditions}
    assert {"KernelDeadlock", "FrequentUnregisterNetDevice", "Ready"} <= conditions
    assert len(node.status.images) == 32
