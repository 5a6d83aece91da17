"""The soak in CI: churn and random faults against three simulated clusters, then exact checks.

Each run starts the simulator in a process of its own (see ``benchmarks/soak.py``), so the
thread, file-descriptor and memory figures are the client's alone. Longer runs:
``python -m benchmarks soak --minutes 10``.
"""

from __future__ import annotations

import pytest

from benchmarks.soak import FAULT_KINDS, run_soak


def test_thirty_second_soak_ends_with_every_cache_equal_to_its_server_and_nothing_leaked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = run_soak(30, clusters=3, events_per_second=300, seed=7, settle_timeout=20)
    with capsys.disabled():
        print("\n" + report.summary())

    assert report.diffs == []
    assert report.settled and report.settle_seconds is not None and report.settle_seconds <= 20
    assert report.leaked_threads == [] and report.threads_after <= report.threads_before
    assert report.fds_after <= report.fds_before
    assert report.memory_flat, f"memory grew by {report.memory_growth} bytes"
    assert report.problems == []
    # The run really was hostile and busy: every kind of fault fired, the clients recovered.
    assert {kind for kind, count in report.faults_injected.items() if count} == set(FAULT_KINDS)
    assert report.faults_hit["restarts"] >= 1 and report.faults_hit["unauthorized"] >= 1
    assert report.recoveries >= 5 and report.relists >= 1
    assert report.events >= 5000


def test_soak_with_the_headless_dashboard_shows_every_node_once(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_soak(10, clusters=3, events_per_second=300, seed=8, with_app=True, settle_timeout=20,
                      fault_interval=1.0)
    with capsys.disabled():
        print("\n" + report.summary())

    assert report.diffs == []  # cache = server, app model = server, table rows = server nodes, once each
    assert report.settled
    assert report.leaked_threads == [] and report.fds_after <= report.fds_before
    assert report.problems == []
    assert sum(report.faults_injected.values()) >= 3
