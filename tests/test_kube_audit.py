"""The audit log: where it lives, how it is protected, what one line holds, and that no token leaks.

The end-to-end test runs real operations through ``NodeOperations`` against a token-protected
simulator, with the client built from a kubeconfig the way the product builds it, then reads the
file back.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import KIND_THREE_NODES, new_pod
from knm_tui.kube.audit import AuditError, AuditLog, default_audit_path
from knm_tui.kube.config import describe_user, load_kubeconfig, make_api_client
from knm_tui.kube.ops import DrainOptions, NodeOperations
from knm_tui.sim import ClusterSpec, SimClock, Simulator

TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLWZvci1hdWRpdA.sig-7f3a9c2e1b"
CLUSTER = "audited"
NODE = "kind-worker2"
REPLICASET = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4f9", "uid": "5b1e0c9a-0000-4000-8000-00000000000b"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_default_path_follows_xdg_state_home(tmp_path: Path) -> None:
    assert default_audit_path({"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": "/home/u"}) == \
        tmp_path / "state" / "knm-tui" / "audit.jsonl"
    assert default_audit_path({"HOME": "/home/u"}) == Path("/home/u/.local/state/knm-tui/audit.jsonl")
    assert default_audit_path({"XDG_STATE_HOME": "relative/state", "HOME": "/home/u"}) == \
        Path("/home/u/.local/state/knm-tui/audit.jsonl"), "a relative XDG_STATE_HOME is ignored"


def test_a_record_is_one_private_json_line(tmp_path: Path) -> None:
    path = tmp_path / "state" / "knm-tui" / "audit.jsonl"
    audit = AuditLog(path)
    audit.record(context="prod-eu", user="alice", action="cordon", nodes=["node-a"],
                 parameters={"reason": "kernel upgrade"}, outcome="ok",
                 results=[{"node": "node-a", "ok": True, "changed": True, "summary": "cordoned"}])
    audit.record(context="prod-eu", user="alice", action="uncordon", nodes=["node-a"], parameters={}, outcome="ok")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    first, second = read_lines(path)
    assert set(first) == {"time", "context", "user", "action", "nodes", "parameters", "outcome", "results"}
    assert first["time"].endswith("Z") and first["time"][:4].isdigit()
    assert (first["context"], first["user"], first["action"], first["nodes"]) == ("prod-eu", "alice", "cordon", ["node-a"])
    assert first["parameters"] == {"reason": "kernel upgrade"}
    assert second["action"] == "uncordon" and "results" not in second


def test_concurrent_records_never_interleave(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")

    def write_many(worker: int) -> None:
        for index in range(50):
            audit.record(context="c", user="u", action="label", nodes=[f"node-{worker}-{index}"],
                         parameters={"changes": {"pad": "x" * 2000}}, outcome="ok")

    threads = [threading.Thread(target=write_many, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = read_lines(tmp_path / "audit.jsonl")
    assert len(lines) == 400
    assert len({line["nodes"][0] for line in lines}) == 400


def test_a_write_failure_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    audit = AuditLog(blocker / "audit.jsonl")
    with pytest.raises(AuditError) as caught:
        audit.record(context="c", user="u", action="cordon", nodes=["n"], parameters={}, outcome="ok")
    assert caught.value.message == (f"cannot open the audit log {blocker / 'audit.jsonl'}: "
                                    f"{blocker} is not a directory")
    with pytest.raises(AuditError):
        audit.check()


def test_operations_are_audited_with_the_kubeconfig_user_and_never_a_token(
        start_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = start_simulator([ClusterSpec(CLUSTER, nodes_from=str(KIND_THREE_NODES))], token=TOKEN,
                          clock=SimClock(speed=100.0))
    sim.cluster(CLUSTER).store.create("pods", new_pod("web-0", NODE, owner=REPLICASET, grace_seconds=5))
    kubeconfig = load_kubeconfig(str(sim.write_kubeconfig(tmp_path / "kubeconfig")))
    api = make_api_client(kubeconfig, CLUSTER, request_timeout=(5.0, 10.0))
    user = describe_user(kubeconfig, CLUSTER)
    assert user == f"{CLUSTER}-admin"
    audit_path = tmp_path / "state" / "knm-tui" / "audit.jsonl"
    operations = NodeOperations(api, CLUSTER, user, AuditLog(audit_path))

    assert operations.cordon([NODE, "ghost"], reason="disk replacement").outcomes[0].ok
    assert operations.label(NODE, "team=infra").ok
    assert operations.taint(NODE, "dedicated=gpu:NoSchedule").ok
    options = DrainOptions(timeout_seconds=5, poll_interval=0.02, retry_429_after=0.05)
    result = operations.drain(NODE, operations.plan_drain(NODE, options), reason="kernel upgrade").run()
    assert result.drained and result.audit_error is None
    assert operations.uncordon(NODE).ok

    text = audit_path.read_text()
    assert TOKEN not in text and "Bearer" not in text and "sig-7f3a9c2e1b" not in text
    assert mode(audit_path) == 0o600
    lines = read_lines(audit_path)
    assert [line["action"] for line in lines] == ["cordon", "label", "taint", "drain", "uncordon"]
    assert all(line["context"] == CLUSTER and line["user"] == user for line in lines)
    cordon_line, label_line, taint_line, drain_line, _ = lines
    assert cordon_line["nodes"] == [NODE, "ghost"] and cordon_line["outcome"] == "partial"
    assert cordon_line["parameters"] == {"reason": "disk replacement"}
    assert [result["ok"] for result in cordon_line["results"]] == [True, False]
    assert label_line["parameters"] == {"changes": {"team": "infra"}}
    assert taint_line["parameters"] == {"add": ["dedicated=gpu:NoSchedule"], "remove": []}
    assert drain_line["outcome"].startswith(f"drained: node {NODE} drained: 1 pod gone")
    assert drain_line["parameters"]["disable_eviction"] is False
    assert drain_line["parameters"]["reason"] == "kernel upgrade"
    assert drain_line["pods"] == [{"namespace": "default", "name": "web-0", "state": "gone", "retries": 0,
                                   "message": "gone"}]


def test_an_unwritable_audit_log_does_not_undo_or_hide_the_operation(
        start_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = start_simulator([ClusterSpec(CLUSTER, nodes_from=str(KIND_THREE_NODES))])
    kubeconfig = load_kubeconfig(str(sim.write_kubeconfig(tmp_path / "kubeconfig")))
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    operations = NodeOperations(make_api_client(kubeconfig, CLUSTER), CLUSTER, "u", AuditLog(blocker / "audit.jsonl"))
    result = operations.cordon(NODE)
    assert result.ok
    assert result.audit_error is not None and result.audit_error.startswith("cannot open the audit log")
    assert sim.cluster(CLUSTER).store.get("nodes", "", NODE).obj["spec"]["unschedulable"] is True
    assert not os.path.exists(blocker / "audit.jsonl")
