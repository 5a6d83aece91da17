"""Tests for knm_tui.kube.config: kubeconfig discovery and merging, context checks, API clients.

Client tests talk real HTTP(S) to servers on 127.0.0.1 started here.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import ssl
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client as k8s_client

from knm_tui.kube.config import (
    ContextError,
    Kubeconfig,
    KubeconfigError,
    build_target,
    build_targets,
    describe_user,
    load_kubeconfig,
    make_api_client,
    select_contexts,
)

TOKEN = "t0ken-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789"
VERSION_BODY = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T17:59:15Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}


# --- helpers ---------------------------------------------------------------------------------


def cluster(name: str, server: str = "https://127.0.0.1:6443", **fields: Any) -> dict[str, Any]:
    return {"name": name, "cluster": {"server": server, **fields}}


def user(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "user": fields}


def context(name: str, cluster_name: str, user_name: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"cluster": cluster_name, **fields}
    if user_name:
        body["user"] = user_name
    return {"name": name, "context": body}


def write_kubeconfig(
    path: Path,
    *,
    clusters: Sequence[dict[str, Any]] = (),
    users: Sequence[dict[str, Any]] = (),
    contexts: Sequence[dict[str, Any]] = (),
    current: str | None = None,
) -> str:
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": list(clusters),
        "users": list(users),
        "contexts": list(contexts),
    }
    if current is not None:
        document["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return str(path)


def single_context_file(
    path: Path,
    server: str,
    *,
    name: str = "ctx",
    cluster_fields: dict[str, Any] | None = None,
    **user_fields: Any,
) -> str:
    users = [user("u", **user_fields)] if user_fields else []
    return write_kubeconfig(
        path,
        clusters=[cluster("c", server, **(cluster_fields or {}))],
        users=users,
        contexts=[context(name, "c", "u" if user_fields else None)],
    )


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def home_env(home: Path) -> dict[str, str]:
    """An environment without KUBECONFIG, so only explicit paths and HOME count."""
    return {"HOME": str(home)}


@dataclass
class RecordingServer:
    url: str
    requests: list[dict[str, Any]]
    release: threading.Event


def start_server(
    ssl_context: ssl.SSLContext | None = None, *, stall: bool = False
) -> tuple[ThreadingHTTPServer, RecordingServer]:
    """A 127.0.0.1 server answering /version and recording each request's headers."""
    requests: list[dict[str, Any]] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            peer = self.connection.getpeercert() if ssl_context else None
            headers = {key.lower(): value for key, value in self.headers.items()}
            requests.append({"path": self.path, "headers": headers, "peer": peer})
            if stall:
                release.wait(5)
            body = json.dumps(VERSION_BODY).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    class QuietServer(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            """Clients that gave up (timeouts, refused certificates) are expected here."""

    server = QuietServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = server.server_address[1]
    return server, RecordingServer(f"{scheme}://127.0.0.1:{port}", requests, release)


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    server, recording = start_server()
    yield recording
    server.shutdown()
    server.server_close()


@dataclass(frozen=True)
class Certificates:
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    directory: Path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway server certificate for 127.0.0.1 and a client certificate, made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; it makes the test certificates")
    directory = tmp_path_factory.mktemp("certs")

    def make(stem: str, subject: str, *extra: str) -> None:
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", subject,
             "-keyout", str(directory / f"{stem}.key"), "-out", str(directory / f"{stem}.crt"), *extra],
            check=True, capture_output=True,
        )

    make("server", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    make("client", "/CN=knm-test-user")
    return Certificates(
        server_cert=(directory / "server.crt").read_text(),
        server_key=(directory / "server.key").read_text(),
        client_cert=(directory / "client.crt").read_text(),
        client_key=(directory / "client.key").read_text(),
        directory=directory,
    )


@pytest.fixture
def mtls_server(certificates: Certificates) -> Iterator[RecordingServer]:
    """An HTTPS server that demands a client certificate signed by the test client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.directory / "server.crt", certificates.directory / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(certificates.directory / "client.crt")
    server, recording = start_server(context)
    yield recording
    server.shutdown()
    server.server_close()


def client_certificate_fields(certificates: Certificates) -> dict[str, str]:
    return {
        "client-certificate-data": b64(certificates.client_cert),
        "client-key-data": b64(certificates.client_key),
    }


def subject_common_name(peer: dict[str, Any]) -> str:
    return dict(item[0] for item in peer["subject"])["commonName"]


# --- discovery and merging -------------------------------------------------------------------


def test_merge_first_file_wins_for_every_name(tmp_path: Path) -> None:
    first = write_kubeconfig(
        tmp_path / "first",
        clusters=[cluster("shared", "https://first.example:6443")],
        users=[user("admin", token="first-token")],
        contexts=[context("prod", "shared", "admin"), context("only-first", "shared")],
    )
    second = write_kubeconfig(
        tmp_path / "second",
        clusters=[cluster("shared", "https://second.example:6443"), cluster("lab", "https://lab.example")],
        users=[user("admin", token="second-token")],
        contexts=[context("prod", "lab", "admin"), context("lab", "lab")],
    )

    kc = load_kubeconfig(env={"HOME": str(tmp_path), "KUBECONFIG": os.pathsep.join([first, second])})

    assert kc.sources == [first, second]
    assert kc.context_names == ["prod", "only-first", "lab"]
    prod = build_target(kc, "prod")
    assert (prod.cluster_name, prod.server) == ("shared", "https://first.example:6443")
    assert build_target(kc, "lab").server == "https://lab.example"
    [admin] = [entry for entry in kc.config["users"] if entry["name"] == "admin"]
    assert admin["user"]["token"] == "first-token"


def test_current_context_comes_from_the_first_file_that_sets_it(tmp_path: Path) -> None:
    contexts = [context("a", "c"), context("b", "c")]
    unset = write_kubeconfig(tmp_path / "unset", clusters=[cluster("c")], contexts=contexts)
    sets_b = write_kubeconfig(tmp_path / "sets-b", contexts=contexts, current="b")
    sets_a = write_kubeconfig(tmp_path / "sets-a", contexts=contexts, current="a")

    kc = load_kubeconfig(env={"KUBECONFIG": os.pathsep.join([unset, sets_b, sets_a])})
    assert kc.current_context == "b"
    kc = load_kubeconfig(env={"KUBECONFIG": os.pathsep.join([sets_a, sets_b])})
    assert kc.current_context == "a"


def test_current_context_naming_no_context_is_dropped(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", clusters=[cluster("c")], contexts=[context("a", "c")], current="gone")
    assert load_kubeconfig(path).current_context is None


def test_explicit_path_beats_kubeconfig_env(tmp_path: Path) -> None:
    explicit = write_kubeconfig(tmp_path / "explicit", clusters=[cluster("c")], contexts=[context("explicit", "c")])
    from_env = write_kubeconfig(tmp_path / "env", clusters=[cluster("c")], contexts=[context("from-env", "c")])

    kc = load_kubeconfig(explicit, env={"HOME": str(tmp_path), "KUBECONFIG": from_env})

    assert kc.context_names == ["explicit"]
    assert kc.sources == [explicit]


def test_missing_files_in_kubeconfig_env_are_ignored(tmp_path: Path) -> None:
    present = write_kubeconfig(tmp_path / "present", clusters=[cluster("c")], contexts=[context("a", "c")])
    missing = str(tmp_path / "missing")

    kc = load_kubeconfig(env={"HOME": str(tmp_path), "KUBECONFIG": os.pathsep.join([missing, present, missing])})

    assert kc.sources == [present]
    assert kc.context_names == ["a"]


def test_kubeconfig_env_with_only_missing_files_is_not_found(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfig(env={"HOME": str(tmp_path), "KUBECONFIG": missing})
    assert caught.value.kind == "not-found"
    assert missing in str(caught.value)
    assert "knm-tui --demo" in str(caught.value)


def test_default_path_is_used_without_kubeconfig_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = write_kubeconfig(tmp_path / ".kube" / "config", clusters=[cluster("c")], contexts=[context("home", "c")])
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", "")

    kc = load_kubeconfig()

    assert kc.sources == [default]
    assert kc.context_names == ["home"]


def test_no_kubeconfig_at_all_suggests_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)

    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfig()

    assert caught.value.kind == "not-found"
    assert str(tmp_path / ".kube" / "config") in str(caught.value)
    assert "knm-tui --demo" in str(caught.value)


def test_missing_explicit_path_is_not_found(tmp_path: Path) -> None:
    path = str(tmp_path / "nope")
    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfig(path, env=home_env(tmp_path))
    assert caught.value.kind == "not-found"
    assert caught.value.path == path
    assert path in str(caught.value) and "--demo" in str(caught.value)


def test_directory_is_unreadable(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfig(env={"HOME": str(tmp_path), "KUBECONFIG": str(directory)})
    assert caught.value.kind == "unreadable"
    assert str(directory) in str(caught.value)
    assert "directory" in str(caught.value)


def test_invalid_yaml_names_path_and_line_without_quoting_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        "apiVersion: v1\n"
        "users:\n"
        "- name: admin\n"
        f"  user: {{token: {TOKEN}\n"
        "contexts: []\n"
    )
    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfig(str(path), env=home_env(tmp_path))
    message = str(caught.value)
    assert caught.value.kind == "invalid"
    assert str(path) in message
    assert "line 5" in message
    assert "\n" not in message
    assert TOKEN not in message
    assert caught.value.__suppress_context__, "the YAML error quotes the file; it must not be chained"


def test_top_level_list_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("- a\n- b\n")
    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfig(str(path), env=home_env(tmp_path))
    assert caught.value.kind == "invalid"
    assert "mapping" in str(caught.value) and str(path) in str(caught.value)


def test_duplicate_names_in_one_file_are_invalid(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", clusters=[cluster("c"), cluster("c")], contexts=[context("a", "c")])
    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfig(path, env=home_env(tmp_path))
    assert caught.value.kind == "invalid"
    assert 'duplicate name "c" in clusters' in str(caught.value)


@pytest.mark.parametrize("content", ["", "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n"])
def test_config_without_contexts_is_empty(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config"
    path.write_text(content)
    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfig(str(path), env=home_env(tmp_path))
    assert caught.value.kind == "empty"
    assert str(path) in str(caught.value)


def test_relative_file_references_resolve_against_their_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "token.txt").write_text(TOKEN)
    path = write_kubeconfig(
        config_dir / "config",
        clusters=[cluster("c", "http://127.0.0.1:1")],
        users=[user("u", tokenFile="token.txt")],
        contexts=[context("a", "c", "u")],
    )
    monkeypatch.chdir(tmp_path)

    kc = load_kubeconfig(path, env=home_env(tmp_path))

    assert kc.config["users"][0]["user"]["tokenFile"] == str(config_dir / "token.txt")
    assert build_target(kc, "a").error is None
    api_client = make_api_client(kc, "a")
    assert api_client.configuration.api_key["BearerToken"] == f"Bearer {TOKEN}"


# --- selecting contexts and targets ----------------------------------------------------------


@pytest.fixture
def three_contexts(tmp_path: Path) -> Kubeconfig:
    path = write_kubeconfig(
        tmp_path / "config",
        clusters=[cluster("c")],
        contexts=[context("alpha", "c"), context("beta", "c"), context("gamma", "c")],
    )
    return load_kubeconfig(path, env=home_env(tmp_path))


def test_select_contexts_defaults_to_all_in_file_order(three_contexts: Kubeconfig) -> None:
    assert select_contexts(three_contexts) == ["alpha", "beta", "gamma"]


def test_select_contexts_returns_exactly_the_names_given(three_contexts: Kubeconfig) -> None:
    assert select_contexts(three_contexts, ["gamma", "alpha"]) == ["gamma", "alpha"]
    assert [target.name for target in build_targets(three_contexts, ["beta"])] == ["beta"]


def test_unknown_context_lists_the_available_names(three_contexts: Kubeconfig) -> None:
    with pytest.raises(KubeconfigError) as caught:
        select_contexts(three_contexts, ["alpha", "delta"])
    assert caught.value.kind == "unknown-context"
    message = str(caught.value)
    assert '"delta"' in message
    assert "alpha, beta, gamma" in message


def test_target_describes_a_context(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        clusters=[
            cluster("c", "https://api.example:6443"),
            cluster("lab", "https://lab:6443", **{"insecure-skip-tls-verify": True}),
        ],
        users=[user("admin", token=TOKEN)],
        contexts=[context("prod", "c", "admin", namespace="kube-system"), context("lab", "lab")],
    )
    kc = load_kubeconfig(path, env=home_env(tmp_path))

    prod, lab = build_targets(kc)

    assert (prod.name, prod.cluster_name, prod.server, prod.user_name, prod.namespace) == (
        "prod", "c", "https://api.example:6443", "admin", "kube-system"
    )
    assert prod.insecure_skip_tls_verify is False and prod.error is None
    assert lab.insecure_skip_tls_verify is True
    assert (lab.user_name, lab.namespace) == ("", "default")


def test_broken_contexts_carry_an_error_while_others_are_fine(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        clusters=[
            cluster("good", "http://127.0.0.1:1"),
            cluster("ca-missing", **{"certificate-authority": "missing-ca.crt"}),
            {"name": "no-server", "cluster": {}},
        ],
        users=[
            user("ok", token=TOKEN),
            user("cert-missing", **{
                "client-certificate": "/nonexistent/client.crt",
                "client-key": "/nonexistent/client.key",
            }),
            user("azure", **{"auth-provider": {"name": "azure", "config": {"access-token": TOKEN}}}),
            user("half-cert", **{"client-certificate-data": b64("cert")}),
        ],
        contexts=[
            context("fine", "good", "ok"),
            context("user-missing", "good", "nobody"),
            context("cluster-missing", "nowhere", "ok"),
            context("ca-file-missing", "ca-missing", "ok"),
            context("cert-file-missing", "good", "cert-missing"),
            context("no-server", "no-server", "ok"),
            context("unsupported-provider", "good", "azure"),
            context("cert-without-key", "good", "half-cert"),
        ],
    )
    kc = load_kubeconfig(path, env=home_env(tmp_path))

    targets = {target.name: target for target in build_targets(kc)}

    assert targets["fine"].error is None
    expected = {
        "user-missing": 'user "nobody" is not defined',
        "cluster-missing": 'cluster "nowhere" is not defined',
        "ca-file-missing": f"certificate-authority file {tmp_path / 'missing-ca.crt'} does not exist",
        "cert-file-missing": "client-certificate file /nonexistent/client.crt does not exist",
        "no-server": 'cluster "no-server" has no server URL',
        "unsupported-provider": 'auth-provider "azure", which is not supported',
        "cert-without-key": "client certificate but no client key",
    }
    for name, fragment in expected.items():
        error = targets[name].error
        assert error is not None and fragment in error, (name, error)
        assert error.startswith(f'context "{name}"')
        assert TOKEN not in error
        with pytest.raises(ContextError) as caught:
            make_api_client(kc, name)
        assert str(caught.value) == error
        assert caught.value.context == name
    assert make_api_client(kc, "fine").configuration.host == "http://127.0.0.1:1"


def test_insecure_flag_together_with_a_ca_is_refused_like_kubectl(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        clusters=[cluster("c", **{"insecure-skip-tls-verify": True, "certificate-authority-data": b64("ca")})],
        contexts=[context("a", "c")],
    )
    error = build_target(load_kubeconfig(path, env=home_env(tmp_path)), "a").error
    assert error is not None and "insecure-skip-tls-verify" in error


def test_describe_user_gives_the_user_entry_name(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        clusters=[cluster("c")],
        users=[user("alice@example", token=TOKEN)],
        contexts=[context("with-user", "c", "alice@example"), context("anonymous", "c")],
    )
    kc = load_kubeconfig(path, env=home_env(tmp_path))
    assert describe_user(kc, "with-user") == "alice@example"
    assert describe_user(kc, "anonymous") == "(anonymous)"
    with pytest.raises(KubeconfigError) as caught:
        describe_user(kc, "nope")
    assert caught.value.kind == "unknown-context"


# --- API clients -----------------------------------------------------------------------------


def test_each_context_gets_its_own_configuration(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        clusters=[
            cluster("one", "https://one.example:6443"),
            cluster("two", "https://two.example:6443", **{"insecure-skip-tls-verify": True}),
        ],
        users=[user("u", token=TOKEN)],
        contexts=[context("one", "one", "u"), context("two", "two", "u")],
    )
    kc = load_kubeconfig(path, env=home_env(tmp_path))
    default_host_before = k8s_client.Configuration.get_default_copy().host

    one = make_api_client(kc, "one")
    two = make_api_client(kc, "two")

    assert isinstance(one, k8s_client.ApiClient)
    assert one.configuration is not two.configuration
    assert one.configuration.host == "https://one.example:6443"
    assert two.configuration.host == "https://two.example:6443"
    assert one.configuration.verify_ssl is True
    assert two.configuration.verify_ssl is False
    assert k8s_client.Configuration.get_default_copy().host == default_host_before


def test_bearer_token_reaches_the_configuration_but_no_message_or_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = write_kubeconfig(
        tmp_path / "config",
        clusters=[
            cluster("c", "https://api.example:6443"),
            cluster("bad-ca", **{"certificate-authority": "/nonexistent/ca"}),
        ],
        users=[user("u", token=TOKEN)],
        contexts=[context("good", "c", "u"), context("broken", "bad-ca", "u")],
    )
    kc = load_kubeconfig(path, env=home_env(tmp_path))

    api_client = make_api_client(kc, "good")
    with pytest.raises(ContextError) as caught:
        make_api_client(kc, "broken")

    assert api_client.configuration.api_key["BearerToken"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(kc)
    assert TOKEN not in repr(build_targets(kc))
    assert caplog.records, "the module is expected to log what it builds"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


def test_failing_exec_plugin_gives_a_clean_error_without_its_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = (
        "import os, sys; sys.stderr.write('login failed for ' + os.environ['PLUGIN_SECRET'] + '\\n');"
        "sys.exit(3)"
    )
    path = single_context_file(
        tmp_path / "config",
        "https://api.example:6443",
        exec={
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": ["-c", code],
            "env": [{"name": "PLUGIN_SECRET", "value": TOKEN}],
        },
    )
    kc = load_kubeconfig(path, env=home_env(tmp_path))

    with pytest.raises(ContextError) as caught:
        make_api_client(kc, "ctx")

    message = str(caught.value)
    assert "exited with status 3" in message
    assert "login failed for ***" in message
    assert TOKEN not in message and "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


def test_exec_plugin_token_is_used_and_the_plugin_runs_non_interactively(tmp_path: Path) -> None:
    code = (
        "import json, os; info = json.loads(os.environ['KUBERNETES_EXEC_INFO']);"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        "'status': {'token': 'exec-token-interactive-' + str(info['spec']['interactive'])}}))"
    )
    path = single_context_file(
        tmp_path / "config",
        "https://api.example:6443",
        exec={"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": ["-c", code]},
    )
    api_client = make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx")
    assert api_client.configuration.api_key["BearerToken"] == "Bearer exec-token-interactive-False"


def test_exec_command_given_as_a_relative_path_resolves_against_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = tmp_path / "configs" / "bin" / "plugin"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import json\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1',"
        " 'kind': 'ExecCredential', 'status': {'token': 'from-relative-plugin'}}))\n"
    )
    plugin.chmod(0o700)
    path = single_context_file(
        tmp_path / "configs" / "config",
        "https://api.example:6443",
        exec={"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./bin/plugin"},
    )
    monkeypatch.chdir(tmp_path)

    api_client = make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx")

    assert api_client.configuration.api_key["BearerToken"] == "Bearer from-relative-plugin"


def test_missing_exec_plugin_names_the_command_and_install_hint(tmp_path: Path) -> None:
    path = single_context_file(
        tmp_path / "config",
        "https://api.example:6443",
        exec={
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "knm-no-such-credential-plugin",
            "installHint": "Install it from the vendor.",
        },
    )
    with pytest.raises(ContextError) as caught:
        make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx")
    assert "knm-no-such-credential-plugin not found" in str(caught.value)
    assert "Install it from the vendor." in str(caught.value)


def test_oidc_id_token_is_sent_as_bearer(tmp_path: Path) -> None:
    def segment(payload: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    id_token = f"{segment({'alg': 'RS256'})}.{segment({'exp': 4102444800, 'sub': 'me'})}.c2ln"
    path = single_context_file(
        tmp_path / "config",
        "https://api.example:6443",
        **{"auth-provider": {"name": "oidc", "config": {
            "id-token": id_token, "client-id": "knm", "idp-issuer-url": "https://issuer.example",
        }}},
    )
    api_client = make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx")
    assert api_client.configuration.api_key["BearerToken"] == f"Bearer {id_token}"


def test_api_client_sends_the_bearer_token_over_http(tmp_path: Path, http_server: RecordingServer) -> None:
    path = single_context_file(tmp_path / "config", http_server.url, token=TOKEN)
    api_client = make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx")

    version = k8s_client.VersionApi(api_client).get_code()

    assert (version.major, version.minor) == ("1", "32")
    [request] = http_server.requests
    assert request["path"] == "/version/"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["user-agent"].startswith("knm-tui/")


def test_request_timeout_applies_when_a_call_sets_none(tmp_path: Path) -> None:
    server, stalled = start_server(stall=True)
    try:
        path = single_context_file(tmp_path / "config", stalled.url)
        api_client = make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx", request_timeout=0.1)
        started = time.monotonic()
        with pytest.raises(urllib3.exceptions.HTTPError):
            k8s_client.VersionApi(api_client).get_code()
        assert time.monotonic() - started < 3
    finally:
        stalled.release.set()
        server.shutdown()
        server.server_close()


def test_inline_client_certificate_works_over_mutual_tls(
    tmp_path: Path, certificates: Certificates, mtls_server: RecordingServer
) -> None:
    path = single_context_file(
        tmp_path / "config",
        mtls_server.url,
        cluster_fields={"certificate-authority-data": b64(certificates.server_cert)},
        **client_certificate_fields(certificates),
    )

    api_client = make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx")
    version = k8s_client.VersionApi(api_client).get_code()

    assert version.minor == "32"
    assert subject_common_name(mtls_server.requests[0]["peer"]) == "knm-test-user"
    configuration = api_client.configuration
    assert configuration.verify_ssl is True
    assert Path(configuration.cert_file).read_text() == certificates.client_cert
    assert Path(configuration.key_file).read_text() == certificates.client_key
    credential_dir = Path(configuration.key_file).parent
    assert credential_dir == Path(configuration.cert_file).parent == Path(configuration.ssl_ca_cert).parent
    assert stat.S_IMODE(credential_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(configuration.key_file).stat().st_mode) == 0o600


def test_tls_verification_stays_on_without_a_trusted_ca(
    tmp_path: Path, certificates: Certificates, mtls_server: RecordingServer
) -> None:
    path = single_context_file(
        tmp_path / "config",
        mtls_server.url,
        **client_certificate_fields(certificates),
    )
    api_client = make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx")

    with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
        k8s_client.VersionApi(api_client).get_code()

    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert mtls_server.requests == []


def test_insecure_context_skips_verification_quietly(
    tmp_path: Path, certificates: Certificates, mtls_server: RecordingServer
) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        clusters=[cluster("c", mtls_server.url, **{"insecure-skip-tls-verify": True})],
        users=[user("u", **client_certificate_fields(certificates))],
        contexts=[context("ctx", "c", "u")],
    )
    kc = load_kubeconfig(path, env=home_env(tmp_path))

    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always")
        api_client = make_api_client(kc, "ctx")
        version = k8s_client.VersionApi(api_client).get_code()

    assert version.minor == "32"
    assert build_target(kc, "ctx").insecure_skip_tls_verify is True
    assert api_client.configuration.verify_ssl is False
    insecure = urllib3.exceptions.InsecureRequestWarning
    assert not [w for w in caught_warnings if issubclass(w.category, insecure)]


def test_invalid_certificate_data_is_a_context_error(tmp_path: Path) -> None:
    path = single_context_file(
        tmp_path / "config",
        "https://api.example:6443",
        **{"client-certificate-data": b64("not a certificate"), "client-key-data": b64(TOKEN)},
    )
    with pytest.raises(ContextError) as caught:
        make_api_client(load_kubeconfig(path, env=home_env(tmp_path)), "ctx")
    assert "client certificate and key are not valid PEM" in str(caught.value)
    assert TOKEN not in str(caught.value)
