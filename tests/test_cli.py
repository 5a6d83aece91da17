"""The ``knm-tui`` command line: errors with a clear line and exit code 2, logging to a file, the demo."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from knm_tui import __version__
from knm_tui.cli import EXIT_USAGE, build_parser, default_log_path, main, prepare
from knm_tui.kube.cache import SyncState


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME and XDG state directory, and no KUBECONFIG."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return home


def write_kubeconfig(path: Path, contexts: list[str]) -> Path:
    """A valid kubeconfig with the given contexts (pointing at a closed local port)."""
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": name, "cluster": {"server": "http://127.0.0.1:9"}} for name in contexts],
        "users": [{"name": "me", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "me"}} for name in contexts],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"knm-tui {__version__}"


def test_no_kubeconfig_suggests_the_demo(capsys: pytest.CaptureFixture[str], isolated_environment: Path) -> None:
    assert main([]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("knm-tui: no kubeconfig found at ")
    assert str(isolated_environment / ".kube" / "config") in err
    assert "knm-tui --demo" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_missing_explicit_kubeconfig(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["--kubeconfig", str(missing)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(missing) in err and "no such file" in err and "knm-tui --demo" in err


def test_invalid_yaml_names_the_file_and_the_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nclusters: [\n  - name: a\n token: s3cr3t-value\n")
    assert main(["--kubeconfig", str(broken)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"knm-tui: kubeconfig {broken}: invalid YAML at line ")
    assert "s3cr3t-value" not in err and "Traceback" not in err


def test_unreadable_kubeconfig_names_the_file_and_the_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    assert main(["--kubeconfig", str(directory)]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == f"knm-tui: kubeconfig {directory}: is a directory, not a file"


def test_kubeconfig_that_is_not_a_mapping(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    assert main(["--kubeconfig", str(listing)]) == EXIT_USAGE
    assert "expected a mapping at the top level, found a list" in capsys.readouterr().err


def test_unknown_context_lists_the_available_ones(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", ["prod-eu", "staging"])
    assert main(["--kubeconfig", str(path), "--context", "prod-us"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "prod-us" in err and "prod-eu" in err and "staging" in err
    assert "Traceback" not in err


def test_a_context_name_with_control_characters_is_reported_on_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", ["prod-eu"])
    assert main(["--kubeconfig", str(path), "--context", "prod\nfake: line\x1b[2J"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err
    assert "prod\\x0afake: line\\x1b[2J" in err and "prod-eu" in err


def test_demo_refuses_a_kubeconfig(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--demo", "--kubeconfig", str(tmp_path / "x")]) == EXIT_USAGE
    assert "--demo runs its own simulated clusters" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-flag"]) == EXIT_USAGE
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


def test_logs_go_to_a_private_file_under_the_xdg_state_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_kubeconfig(tmp_path / "config", ["a"])
    main(["--kubeconfig", str(path), "--context", "b"])
    log_file = tmp_path / "state" / "knm-tui" / "knm-tui.log"
    assert default_log_path() == log_file
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700
    assert f"knm-tui {__version__} starting" in log_file.read_text()
    assert "starting" not in capsys.readouterr().err  # never on the terminal


def test_default_log_path_without_xdg_state_home(monkeypatch: pytest.MonkeyPatch, isolated_environment: Path) -> None:
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_log_path() == isolated_environment / ".local" / "state" / "knm-tui" / "knm-tui.log"
    assert default_log_path({"HOME": "/h", "XDG_STATE_HOME": "relative/ignored"}) == Path("/h/.local/state/knm-tui/knm-tui.log")


def test_log_file_option_and_an_unwritable_log_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chosen = tmp_path / "logs" / "mine.log"
    main(["--log-file", str(chosen), "--kubeconfig", str(tmp_path / "missing")])
    assert "starting" in chosen.read_text()
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o600
    blocker = tmp_path / "file"
    blocker.write_text("")
    capsys.readouterr()
    assert main(["--log-file", str(blocker / "sub" / "x.log")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"knm-tui: cannot write the log file {blocker / 'sub' / 'x.log'}: ")
    assert "--log-file" in err


def test_the_installed_command_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("KUBECONFIG", None)
    result = subprocess.run([sys.executable, "-m", "knm_tui.cli", "--context", "x"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == EXIT_USAGE
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "knm-tui --demo" in result.stderr


def test_demo_runs_three_live_clusters_and_one_dead_context_through_the_real_fleet() -> None:
    session = prepare(build_parser().parse_args(["--demo", "--read-only"]))
    app = session.app
    try:
        assert session.demo is not None
        kubeconfig = session.demo.kubeconfig_path
        assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
        assert stat.S_IMODE(kubeconfig.parent.stat().st_mode) == 0o700
        assert app.read_only and app.current_context == "cloud-prod"
        assert session.fleet.contexts == ["cloud-prod", "staging", "edge-stores", "dc-legacy"]

        async def body() -> None:
            async with app.run_test(size=(160, 45)) as pilot:
                deadline = time.monotonic() + 10
                def ready() -> bool:
                    states = {context: app.model.cluster(context).state for context in app.model.contexts}
                    return states == {"cloud-prod": SyncState.LIVE, "staging": SyncState.LIVE,
                                      "edge-stores": SyncState.LIVE, "dc-legacy": SyncState.ERROR}
                while not ready():
                    assert time.monotonic() < deadline, "demo clusters did not come up"
                    await pilot.pause(0.05)
                assert app.model.cluster("cloud-prod").node_count == 300
                assert app.model.cluster("staging").node_count == 40
                assert app.model.cluster("edge-stores").node_count == 12
                assert app.model.cluster("dc-legacy").status.error_kind == "unreachable"
                assert app.table.row_count == 300
                await pilot.press("q")

        asyncio.run(body())
    finally:
        session.close()
    assert not kubeconfig.exists() and not kubeconfig.parent.exists()
    assert all(not thread.is_alive() for thread in session.fleet.threads())
