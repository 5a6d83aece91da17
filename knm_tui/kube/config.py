"""Kubeconfig contexts, found and merged like kubectl, and one ``ApiClient`` per context.

Discovery follows kubectl: an explicit path wins; else every file named in ``KUBECONFIG``
(missing ones ignored); else ``~/.kube/config``. Several files merge with kubectl's rules: the
first file to define a cluster, user or context name wins, and ``current-context`` comes from the
first file that sets it. Relative file references (certificate authority, client certificate and
key, token file, an exec command given as a path) resolve against the file that holds them.

Each context gets its own ``kubernetes.client.Configuration``, never the client's global default,
filled by the client's own ``KubeConfigLoader`` so tokens, token files, client certificates,
exec credential plugins and OIDC behave as the client defines them. Exec plugins run without the
terminal (the UI owns it). Certificate data the client must write to disk lands in a private
(0700) directory that is removed when the process exits.

Messages and log records never quote credential values from the kubeconfig.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import copy
import json
import logging
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence
from urllib.parse import urlsplit

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes.config import kube_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.dateutil import parse_rfc3339
from kubernetes.config.exec_provider import ExecProvider

from knm_tui import __version__

log = logging.getLogger(__name__)

KubeconfigErrorKind = Literal["not-found", "unreadable", "invalid", "empty", "unknown-context"]
RequestTimeout = float | tuple[float, float]

DEMO_HINT = "run `knm-tui --demo` to try knm-tui against a simulated cluster"
DEFAULT_NAMESPACE = "default"
ANONYMOUS_USER = "(anonymous)"
EXEC_PLUGIN_TIMEOUT_SECONDS = 60.0
MAX_MESSAGE_LENGTH = 300

SUPPORTED_AUTH_PROVIDERS = frozenset({"oidc"})
_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))
_CLUSTER_FILE_KEYS = ("certificate-authority",)
_USER_FILE_KEYS = ("client-certificate", "client-key", "tokenFile")
_FILE_KEYS = {"cluster": _CLUSTER_FILE_KEYS, "user": _USER_FILE_KEYS}
_BASE64_KEYS = {
    "cluster": ("certificate-authority-data",),
    "user": ("client-certificate-data", "client-key-data"),
}
# User-entry keys whose values are file paths or plugin wiring, not credentials.
_NON_SECRET_USER_KEYS = frozenset({
    "apiVersion", "client-certificate", "client-key", "cmd-path", "command",
    "idp-certificate-authority", "idp-issuer-url", "installHint", "interactiveMode", "name",
    "provideClusterInfo", "tokenFile",
})
_MIN_SCRUBBED_LENGTH = 4
_BEARER_PATTERN = re.compile(r"(?i)\b(bearer|basic)\s+\S+")
_JWT_PATTERN = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_PEM_PATTERN = re.compile(r"-----BEGIN [A-Z ]+-----.*?(-----END [A-Z ]+-----|$)", re.DOTALL)

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CREDENTIAL_DIR_LOCK = threading.Lock()
_credential_dir_path: str | None = None


class KubeconfigError(Exception):
    """A kubeconfig problem that stops knm-tui; ``str(error)`` is one line for the user.

    ``kind`` is one of "not-found", "unreadable", "invalid", "empty", "unknown-context";
    ``path`` is the file concerned, when there is one.
    """

    def __init__(self, message: str, *, kind: KubeconfigErrorKind, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.path = path


class ContextError(Exception):
    """One context cannot be used (broken entry, failing credentials); the others carry on."""

    def __init__(self, message: str, *, context: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


@dataclass(frozen=True)
class Kubeconfig:
    """The merged kubeconfig: ``config`` holds credentials, so it is kept out of ``repr``."""

    config: dict[str, Any] = field(repr=False)
    sources: list[str]
    context_names: list[str]
    current_context: str | None


@dataclass(frozen=True)
class ContextTarget:
    """What the UI needs to know about one context; ``error`` is set when it cannot be used."""

    name: str
    cluster_name: str
    server: str
    user_name: str
    namespace: str
    insecure_skip_tls_verify: bool
    error: str | None = None


def load_kubeconfig(
    explicit_path: str | None = None, env: Mapping[str, str] | None = None
) -> Kubeconfig:
    """Find, read and merge the kubeconfig the way kubectl does.

    ``explicit_path`` (the CLI's ``--kubeconfig``) wins; else the files in ``KUBECONFIG``
    (separated by ``os.pathsep``; missing files ignored); else ``~/.kube/config``.
    ``env`` defaults to ``os.environ``. Raises ``KubeconfigError``.
    """
    environ = os.environ if env is None else env
    home = _home_dir(environ)
    if explicit_path:
        path = _absolute_path(explicit_path, home)
        try:
            documents = [(path, _read_document(path))]
        except KubeconfigError as error:
            if error.kind != "not-found":
                raise
            raise KubeconfigError(
                f"kubeconfig {path}: no such file; check --kubeconfig, or {DEMO_HINT}",
                kind="not-found",
                path=path,
            ) from None
        return _merge(documents)

    env_paths = _kubeconfig_env_paths(environ.get("KUBECONFIG", ""), home)
    if env_paths:
        documents = []
        for path in env_paths:
            try:
                documents.append((path, _read_document(path)))
            except KubeconfigError as error:
                if error.kind != "not-found":
                    raise
                log.info("KUBECONFIG names %s, which does not exist; ignoring it", path)
        if not documents:
            raise KubeconfigError(
                f"no kubeconfig found: none of the files in KUBECONFIG exist "
                f"({', '.join(env_paths)}); {DEMO_HINT}",
                kind="not-found",
                path=env_paths[0],
            )
        return _merge(documents)

    default_path = os.path.join(home, ".kube", "config")
    try:
        documents = [(default_path, _read_document(default_path))]
    except KubeconfigError as error:
        if error.kind != "not-found":
            raise
        raise KubeconfigError(
            f"no kubeconfig found at {default_path} and KUBECONFIG is not set; "
            f"pass --kubeconfig PATH, or {DEMO_HINT}",
            kind="not-found",
            path=default_path,
        ) from None
    return _merge(documents)


def select_contexts(kc: Kubeconfig, names: Sequence[str] = ()) -> list[str]:
    """All context names in file order, or exactly ``names`` (in the order given).

    An unknown name raises ``KubeconfigError`` (kind "unknown-context") listing the available ones.
    """
    if not names:
        return list(kc.context_names)
    known = set(kc.context_names)
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if unknown:
        raise _unknown_context_error(kc, unknown)
    return list(dict.fromkeys(names))


def build_target(kc: Kubeconfig, context_name: str) -> ContextTarget:
    """Describe one context; a broken context gets ``error`` instead of raising."""
    context_entry = _require_context(kc, context_name)
    context = _body(context_entry, "context")
    cluster_name = _text(context.get("cluster"))
    user_name = _text(context.get("user"))
    cluster = _body(_find_entry(kc.config, "clusters", cluster_name), "cluster")
    return ContextTarget(
        name=context_name,
        cluster_name=cluster_name,
        server=_text(cluster.get("server")),
        user_name=user_name,
        namespace=_text(context.get("namespace")) or DEFAULT_NAMESPACE,
        insecure_skip_tls_verify=cluster.get("insecure-skip-tls-verify") is True,
        error=_context_problem(kc, context_name, context_entry),
    )


def build_targets(kc: Kubeconfig, names: Sequence[str] = ()) -> list[ContextTarget]:
    """``build_target`` for every selected context (all by default; see ``select_contexts``)."""
    return [build_target(kc, name) for name in select_contexts(kc, names)]


def describe_user(kc: Kubeconfig, context_name: str) -> str:
    """The kubeconfig user entry name of a context, for audit logs (never a credential)."""
    context = _body(_require_context(kc, context_name), "context")
    return _text(context.get("user")) or ANONYMOUS_USER


def make_api_client(
    kc: Kubeconfig,
    context_name: str,
    *,
    request_timeout: RequestTimeout | None = None,
) -> k8s_client.ApiClient:
    """A fresh ``ApiClient`` with its own ``Configuration`` for one context.

    ``request_timeout`` (seconds, or a ``(connect, read)`` pair) applies to every request that
    does not pass its own ``_request_timeout``. TLS verification stays on unless the cluster
    entry says ``insecure-skip-tls-verify: true``. Raises ``ContextError`` with a one-line
    message when the context cannot be used.
    """
    target = build_target(kc, context_name)
    if target.error:
        raise ContextError(target.error, context=context_name)
    configuration = k8s_client.Configuration()
    try:
        loader = _ContextLoader(
            config_dict=_single_context_config(kc, context_name),
            active_context=context_name,
            config_base_path=None,
            temp_file_path=_credential_dir(),
        )
        loader.load_and_set(configuration)
        _check_tls_files(configuration)
        api_client = _ContextApiClient(configuration, default_request_timeout=request_timeout)
    except Exception as error:  # the loader raises many types; each becomes one clean line
        reason = _clean_message(_exception_text(error), _secret_values(kc, context_name))
        log.warning('context "%s" cannot be used: %s', context_name, reason)
        raise ContextError(f'context "{context_name}": {reason}', context=context_name) from None
    if target.insecure_skip_tls_verify:
        _silence_insecure_warnings(target.server)
        log.warning(
            'context "%s": TLS certificate verification is off (insecure-skip-tls-verify)',
            context_name,
        )
    log.info(
        'context "%s": API client for %s as user %s',
        context_name, _redact_url(target.server), describe_user(kc, context_name),
    )
    return api_client


# --- discovery and reading -------------------------------------------------------------------


def _home_dir(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or os.path.expanduser("~")


def _absolute_path(path: str, home: str) -> str:
    if path == "~" or path.startswith("~" + os.sep):
        path = home + path[1:]
    return os.path.abspath(path)


def _kubeconfig_env_paths(value: str, home: str) -> list[str]:
    """The distinct, non-empty paths of a ``KUBECONFIG`` value, in order."""
    paths = [_absolute_path(part, home) for part in value.split(os.pathsep) if part.strip()]
    return list(dict.fromkeys(paths))


def _read_document(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise KubeconfigError(f"kubeconfig {path}: no such file", kind="not-found", path=path) from None
    except IsADirectoryError:
        raise KubeconfigError(
            f"kubeconfig {path}: is a directory, not a file", kind="unreadable", path=path
        ) from None
    except PermissionError:
        raise KubeconfigError(
            f"kubeconfig {path}: permission denied", kind="unreadable", path=path
        ) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise KubeconfigError(
            f"kubeconfig {path}: cannot be read ({reason})", kind="unreadable", path=path
        ) from None
    try:
        document = yaml.load(raw, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        # ``str(error)`` quotes the offending lines, which may hold credentials: use the
        # position and the problem only, and drop the original exception.
        raise KubeconfigError(
            f"kubeconfig {path}: invalid YAML{_yaml_problem(error)}", kind="invalid", path=path
        ) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise KubeconfigError(
            f"kubeconfig {path}: expected a mapping at the top level, found {_yaml_type(document)}",
            kind="invalid",
            path=path,
        )
    return document


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(error.problem or error.context or "").split())
        return f"{where}: {problem}" if problem else where
    if isinstance(error, yaml.reader.ReaderError):
        return f" at byte {error.position}: {error.reason}"
    return f": {type(error).__name__}"


def _yaml_type(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


# --- merging ---------------------------------------------------------------------------------


def _merge(documents: list[tuple[str, dict[str, Any]]]) -> Kubeconfig:
    merged: dict[str, list[dict[str, Any]]] = {section: [] for section, _ in _SECTIONS}
    seen: dict[str, set[str]] = {section: set() for section, _ in _SECTIONS}
    current_context: str | None = None
    for path, document in documents:
        base_dir = os.path.dirname(path)
        for section, body_key in _SECTIONS:
            for name, entry in _named_entries(document, section, path):
                if name in seen[section]:
                    log.debug("%s: %s entry %r already defined by an earlier file", path, body_key, name)
                    continue
                seen[section].add(name)
                merged[section].append(_resolve_file_references(entry, body_key, base_dir))
        value = document.get("current-context")
        if current_context is None and isinstance(value, str) and value:
            current_context = value

    sources = [path for path, _ in documents]
    context_names = [entry["name"] for entry in merged["contexts"]]
    if not context_names:
        raise KubeconfigError(
            f"kubeconfig {', '.join(sources)}: no contexts defined; "
            f"add one with `kubectl config set-context`, or {DEMO_HINT}",
            kind="empty",
            path=sources[0],
        )
    if current_context is not None and current_context not in context_names:
        log.warning("current-context %r is not among the contexts; ignoring it", current_context)
        current_context = None
    config: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", **merged}
    if current_context:
        config["current-context"] = current_context
    return Kubeconfig(
        config=config, sources=sources, context_names=context_names, current_context=current_context
    )


def _named_entries(
    document: Mapping[str, Any], section: str, path: str
) -> list[tuple[str, dict[str, Any]]]:
    value = document.get(section)
    if value is None:
        return []
    if not isinstance(value, list):
        raise KubeconfigError(
            f"kubeconfig {path}: {section} must be a list, found {_yaml_type(value)}",
            kind="invalid",
            path=path,
        )
    entries: list[tuple[str, dict[str, Any]]] = []
    names: set[str] = set()
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise KubeconfigError(
                f"kubeconfig {path}: {section}[{index}] must be a mapping", kind="invalid", path=path
            )
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise KubeconfigError(
                f"kubeconfig {path}: {section}[{index}] needs a name", kind="invalid", path=path
            )
        if name in names:
            raise KubeconfigError(
                f'kubeconfig {path}: duplicate name "{name}" in {section}', kind="invalid", path=path
            )
        names.add(name)
        entries.append((name, entry))
    return entries


def _resolve_file_references(entry: dict[str, Any], body_key: str, base_dir: str) -> dict[str, Any]:
    """A copy of ``entry`` whose relative file references are absolute, as kubectl resolves them."""
    resolved = copy.deepcopy(entry)
    body = resolved.get(body_key)
    if not isinstance(body, dict):
        return resolved
    for key in _FILE_KEYS.get(body_key, ()):
        if key in body:
            body[key] = _resolve_path(body[key], base_dir)
    exec_config = body.get("exec") if body_key == "user" else None
    if isinstance(exec_config, dict):
        command = exec_config.get("command")
        if isinstance(command, str) and os.sep in command:
            exec_config["command"] = _resolve_path(command, base_dir)
    return resolved


def _resolve_path(value: Any, base_dir: str) -> Any:
    if isinstance(value, str) and value and not os.path.isabs(value):
        return os.path.normpath(os.path.join(base_dir, value))
    return value


# --- per-context checks ----------------------------------------------------------------------


def _find_entry(config: Mapping[str, Any], section: str, name: str) -> dict[str, Any] | None:
    if not name:
        return None
    for entry in config.get(section, ()):
        if entry.get("name") == name:
            return entry
    return None


def _require_context(kc: Kubeconfig, context_name: str) -> dict[str, Any]:
    entry = _find_entry(kc.config, "contexts", context_name)
    if entry is None:
        raise _unknown_context_error(kc, [context_name])
    return entry


def _unknown_context_error(kc: Kubeconfig, unknown: Sequence[str]) -> KubeconfigError:
    plural = "s" if len(unknown) > 1 else ""
    wanted = ", ".join(f'"{name}"' for name in unknown)
    return KubeconfigError(
        f"unknown context{plural} {wanted}; available: {', '.join(kc.context_names)}",
        kind="unknown-context",
    )


def _body(entry: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    body = entry.get(key) if entry else None
    return body if isinstance(body, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _context_problem(kc: Kubeconfig, name: str, context_entry: Mapping[str, Any]) -> str | None:
    """Why a context cannot be used, in one line naming no credential; ``None`` when it looks fine."""
    reason = _context_reason(kc, context_entry)
    return f'context "{name}": {reason}' if reason else None


def _context_reason(kc: Kubeconfig, context_entry: Mapping[str, Any]) -> str | None:
    context = context_entry.get("context")
    if not isinstance(context, dict):
        return 'the entry has no "context" mapping'
    cluster_name = _text(context.get("cluster"))
    if not cluster_name:
        return "no cluster named"
    cluster_entry = _find_entry(kc.config, "clusters", cluster_name)
    if cluster_entry is None:
        return f'cluster "{cluster_name}" is not defined in the kubeconfig'
    cluster = cluster_entry.get("cluster")
    if not isinstance(cluster, dict):
        return f'cluster "{cluster_name}" has no "cluster" mapping'
    reason = _cluster_reason(cluster_name, cluster)
    if reason:
        return reason
    user_name = context.get("user")
    if user_name in (None, ""):
        return None
    if not isinstance(user_name, str):
        return "the user must be a name"
    user_entry = _find_entry(kc.config, "users", user_name)
    if user_entry is None:
        return f'user "{user_name}" is not defined in the kubeconfig'
    user = user_entry.get("user")
    if user is None:
        return None
    if not isinstance(user, dict):
        return f'user "{user_name}" has no "user" mapping'
    return _user_reason(user_name, user)


def _cluster_reason(cluster_name: str, cluster: Mapping[str, Any]) -> str | None:
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        return f'cluster "{cluster_name}" has no server URL'
    try:
        parts = urlsplit(server)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address; the text may hold credentials
        return f'cluster "{cluster_name}": the server URL cannot be parsed'
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f'cluster "{cluster_name}": server {_redact_url(server)} is not an http(s) URL'
    insecure = cluster.get("insecure-skip-tls-verify")
    if insecure is not None and not isinstance(insecure, bool):
        return f'cluster "{cluster_name}": insecure-skip-tls-verify must be true or false'
    has_ca = bool(cluster.get("certificate-authority") or cluster.get("certificate-authority-data"))
    if insecure and has_ca:
        return (
            f'cluster "{cluster_name}" sets both insecure-skip-tls-verify and a certificate '
            "authority; kubectl refuses this, remove one of them"
        )
    return _data_or_file_reason(
        f'cluster "{cluster_name}"', cluster, _BASE64_KEYS["cluster"], _CLUSTER_FILE_KEYS
    )


def _user_reason(user_name: str, user: Mapping[str, Any]) -> str | None:
    owner = f'user "{user_name}"'
    reason = _data_or_file_reason(owner, user, _BASE64_KEYS["user"], _USER_FILE_KEYS)
    if reason:
        return reason
    has_cert = bool(user.get("client-certificate") or user.get("client-certificate-data"))
    has_key = bool(user.get("client-key") or user.get("client-key-data"))
    if has_cert and not has_key:
        return f"{owner} has a client certificate but no client key"
    if has_key and not has_cert:
        return f"{owner} has a client key but no client certificate"
    provider = user.get("auth-provider")
    if provider is not None:
        provider_name = _text(provider.get("name")) if isinstance(provider, dict) else ""
        if provider_name not in SUPPORTED_AUTH_PROVIDERS:
            return (
                f'{owner} uses auth-provider "{provider_name or "?"}", which is not supported; '
                "configure an exec credential plugin instead (for example kubelogin or "
                "gke-gcloud-auth-plugin)"
            )
    exec_config = user.get("exec")
    if exec_config is not None:
        if not isinstance(exec_config, dict) or not all(
            isinstance(exec_config.get(key), str) and exec_config.get(key)
            for key in ("command", "apiVersion")
        ):
            return f'{owner}: the exec credential plugin needs "command" and "apiVersion"'
    return None


def _data_or_file_reason(
    owner: str, body: Mapping[str, Any], data_keys: Sequence[str], file_keys: Sequence[str]
) -> str | None:
    for key in data_keys:
        value = body.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not _is_base64(value):
            return f"{owner}: {key} is not valid base64"
    for key in file_keys:
        data_key = "token" if key == "tokenFile" else f"{key}-data"
        path = body.get(key)
        if path in (None, "") or body.get(data_key):
            continue  # the client prefers inline data over the file
        if not isinstance(path, str):
            return f"{owner}: {key} must be a file path"
        if not os.path.isfile(path):
            return f"{owner}: {key} file {path} does not exist"
        if not os.access(path, os.R_OK):
            return f"{owner}: {key} file {path} is not readable"
    return None


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"***@{host}").geturl()


# --- building clients ------------------------------------------------------------------------


def _single_context_config(kc: Kubeconfig, context_name: str) -> dict[str, Any]:
    """A deep copy of just the entries one context needs (the loader may modify what it gets)."""
    context_entry = _require_context(kc, context_name)
    context = _body(context_entry, "context")
    cluster_entry = _find_entry(kc.config, "clusters", _text(context.get("cluster")))
    user_entry = _find_entry(kc.config, "users", _text(context.get("user")))
    return copy.deepcopy({
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context_name,
        "contexts": [context_entry],
        "clusters": [cluster_entry] if cluster_entry else [],
        "users": [user_entry] if user_entry else [],
    })


def _credential_dir() -> str:
    """A private (0700) directory for the certificate files the client writes; removed at exit."""
    global _credential_dir_path
    with _CREDENTIAL_DIR_LOCK:
        if _credential_dir_path is None or not os.path.isdir(_credential_dir_path):
            runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
            parent = runtime_dir if runtime_dir and os.path.isdir(runtime_dir) else None
            _credential_dir_path = tempfile.mkdtemp(prefix="knm-tui-credentials-", dir=parent)
            atexit.register(shutil.rmtree, _credential_dir_path, ignore_errors=True)
        return _credential_dir_path


def _check_tls_files(configuration: k8s_client.Configuration) -> None:
    """Fail now, with a clear reason, on certificate files urllib3 would reject at connect time.

    A bare client context is enough to load the files; the system trust store is not loaded here
    (that costs ~50 ms per context and checks nothing about the kubeconfig's own files).
    """
    if not (configuration.ssl_ca_cert or configuration.cert_file or configuration.key_file):
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if configuration.ssl_ca_cert:
        try:
            context.load_verify_locations(cafile=configuration.ssl_ca_cert)
        except (ssl.SSLError, ValueError):
            raise ConfigException("the certificate authority is not a valid PEM certificate") from None
    if configuration.cert_file or configuration.key_file:
        try:
            context.load_cert_chain(configuration.cert_file, configuration.key_file)
        except (ssl.SSLError, ValueError, TypeError):
            raise ConfigException(
                "the client certificate and key are not valid PEM, or they do not match"
            ) from None


def _silence_insecure_warnings(server: str) -> None:
    """Hide urllib3's per-request warning for a host the kubeconfig marks insecure.

    The UI owns the terminal, and says itself that verification is off for this context.
    """
    host = urlsplit(server).hostname
    if host:
        warnings.filterwarnings(
            "ignore",
            message=f"Unverified HTTPS request is being made to host '{re.escape(host)}'",
            category=urllib3.exceptions.InsecureRequestWarning,
        )


def _secret_values(kc: Kubeconfig, context_name: str) -> list[str]:
    """Every credential-like string of a context's user and cluster entries, longest first."""
    context = _body(_find_entry(kc.config, "contexts", context_name), "context")
    user = _body(_find_entry(kc.config, "users", _text(context.get("user"))), "user")
    cluster = _body(_find_entry(kc.config, "clusters", _text(context.get("cluster"))), "cluster")
    values: set[str] = set()

    def collect(node: Any, key: str | None) -> None:
        if isinstance(node, dict):
            for child_key, child in node.items():
                collect(child, str(child_key))
        elif isinstance(node, list):
            for child in node:
                collect(child, key)
        elif isinstance(node, str) and key not in _NON_SECRET_USER_KEYS:
            values.add(node)

    collect(user, None)
    for key in _BASE64_KEYS["cluster"]:
        collect(cluster.get(key), key)
    long_enough = (value for value in values if len(value) >= _MIN_SCRUBBED_LENGTH)
    return sorted(long_enough, key=len, reverse=True)


def _exception_text(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        detail = f" {error.filename}" if isinstance(error.filename, str) else ""
        return f"{error.strerror}{detail}"
    text = str(error)
    return text if text else type(error).__name__


def _clean_message(text: str, secrets: Sequence[str]) -> str:
    """``text`` on one line, without any of ``secrets`` or anything that looks like a credential."""
    for secret in secrets:
        text = text.replace(secret, "***")
    text = _PEM_PATTERN.sub("<PEM data>", text)
    text = _BEARER_PATTERN.sub(lambda match: f"{match.group(1)} ***", text)
    text = _JWT_PATTERN.sub("***", text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[: MAX_MESSAGE_LENGTH - 1] + "…"
    return text or "unknown error"


class _ContextApiClient(k8s_client.ApiClient):
    """An ``ApiClient`` that gives requests without their own ``_request_timeout`` a default."""

    def __init__(
        self,
        configuration: k8s_client.Configuration,
        *,
        default_request_timeout: RequestTimeout | None = None,
    ) -> None:
        super().__init__(configuration)
        self.default_request_timeout = default_request_timeout
        self.user_agent = f"knm-tui/{__version__}"

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        """Send one request, applying the default timeout when the caller set none."""
        timeout_given = kwargs.get("_request_timeout") is not None or len(args) >= 6
        if self.default_request_timeout is not None and not timeout_given:
            kwargs["_request_timeout"] = self.default_request_timeout
        return super().call_api(*args, **kwargs)


class _BackgroundExecProvider(ExecProvider):
    """Runs an exec credential plugin without the terminal, as kubectl does when not interactive.

    The client's own provider hands the plugin the terminal's stdin and stderr whenever stdout
    is a TTY, which would draw over the UI and steal its keystrokes.
    """

    def __init__(self, exec_config: Any, cwd: str | None, cluster: Any = None) -> None:
        super().__init__(exec_config, cwd, cluster)
        self.install_hint = _text(exec_config.safe_get("installHint"))

    def run(self, previous_response: Any = None) -> dict[str, Any]:
        """Run the plugin and return the ``status`` of its ExecCredential."""
        spec: dict[str, Any] = {"interactive": False}
        if previous_response:
            spec["response"] = previous_response
        if self.cluster:
            cluster_info = dict(self.cluster.value)
            for extension in cluster_info.get("extensions") or ():
                if extension.get("name") == "client.authentication.k8s.io/exec":
                    cluster_info["config"] = extension.get("extension")
                    break
            spec["cluster"] = cluster_info
        env = dict(self.env)
        env["KUBERNETES_EXEC_INFO"] = json.dumps(
            {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}
        )
        command = self.args[0]
        try:
            completed = subprocess.run(
                self.args,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd=self.cwd,
                env=env,
                shell=self.shell,
                timeout=EXEC_PLUGIN_TIMEOUT_SECONDS,
                check=False,
            )
        except FileNotFoundError:
            hint = f" {self.install_hint}" if self.install_hint else ""
            raise ConfigException(f"exec: credential plugin {command} not found.{hint}") from None
        except subprocess.TimeoutExpired:
            raise ConfigException(
                f"exec: credential plugin {command} did not finish within "
                f"{EXEC_PLUGIN_TIMEOUT_SECONDS:g} s"
            ) from None
        except OSError as error:
            raise ConfigException(
                f"exec: cannot run credential plugin {command}: {error.strerror}"
            ) from None
        if completed.returncode != 0:
            stderr = " ".join(completed.stderr.split())
            detail = f": {stderr}" if stderr else ""
            raise ConfigException(
                f"exec: credential plugin {command} exited with status {completed.returncode}{detail}"
            )
        try:
            data = json.loads(completed.stdout)
        except ValueError:
            raise ConfigException(f"exec: credential plugin {command} printed no valid JSON") from None
        required = ("apiVersion", "kind", "status")
        if not isinstance(data, dict) or not all(key in data for key in required):
            raise ConfigException(f"exec: credential plugin {command} printed no ExecCredential")
        if data["apiVersion"] != self.api_version:
            raise ConfigException(
                f"exec: plugin api version {data['apiVersion']} does not match {self.api_version}"
            )
        if not isinstance(data["status"], dict):
            raise ConfigException(f"exec: credential plugin {command} printed no status")
        return data["status"]


class _ContextLoader(kube_config.KubeConfigLoader):
    """The client's loader, with exec plugins run in the background and their failures raised.

    The client's own version logs a failing plugin on the root logger (which would reach the
    terminal) and carries on without credentials.
    """

    def _load_from_exec_plugin(self) -> bool | None:
        if "exec" not in self._user:
            return None
        status = _BackgroundExecProvider(self._user["exec"], None, self._cluster).run()
        if "token" in status:
            self.token = f"Bearer {status['token']}"
        elif "clientCertificateData" in status:
            if "clientKeyData" not in status:
                raise ConfigException(
                    "exec: plugin output has clientCertificateData but no clientKeyData"
                )
            self.cert_file = kube_config.FileOrData(
                status, None, data_key_name="clientCertificateData",
                base64_file_content=False, temp_file_path=self._temp_file_path,
            ).as_file()
            self.key_file = kube_config.FileOrData(
                status, None, data_key_name="clientKeyData",
                base64_file_content=False, temp_file_path=self._temp_file_path,
            ).as_file()
        else:
            raise ConfigException("exec: plugin output has neither token nor clientCertificateData")
        if "expirationTimestamp" in status:
            self.expiry = parse_rfc3339(status["expirationTimestamp"])
        return True
