"""Node operations: cordon, uncordon, labels, taints and drain, checked, guarded and audited.

Everything here talks to the API server through a context's ``kubernetes`` ``ApiClient`` with
raw JSON and an explicit ``_request_timeout`` on every request, and sends what kubectl 1.32
sends (``apiserver-behaviour.md`` §4):

- **cordon / uncordon**: a GET, then a strategic merge patch of ``spec.unschedulable`` (``true``
  or ``null``) together with knm-tui's annotations (reason, who, when), and no PATCH at all when
  nothing would change;
- **labels**: a merge patch of ``metadata.labels`` (``null`` removes);
- **taints**: a strategic merge patch carrying the whole new list (``null`` for none) and the
  ``resourceVersion`` it was computed from, so a concurrent change gives 409 and the change is
  recomputed on a fresh read (a bounded number of times);
- **drain**: ``plan_drain`` (a preflight that only reads: what will be evicted, skipped, what
  needs an explicit choice and which PodDisruptionBudgets block right now) and ``Drain`` (cordon,
  then Eviction API calls in parallel, PDB refusals retried, each pod followed until it is gone).
  A drain never deletes a pod unless ``DrainOptions.disable_eviction`` was chosen explicitly.
- **RBAC preflight**: ``can_i`` and ``node_permissions`` through SelfSubjectAccessReview.

Input is validated like kubectl validates it (``parse_label_changes``, ``parse_taint_changes``);
a bad input raises :class:`OperationInputError`, a failed request :class:`OperationError` whose
``kind`` says what went wrong and whose ``message`` is one clean line.

:class:`NodeOperations` bundles all of it for one context: it refuses every write with
:class:`ReadOnlyError` before sending anything when the product runs read-only, and records each
operation in the audit log. Every request goes through an :class:`ApiCaller`, which enforces the
read-only rule a second time at the one place requests are sent.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from knm_tui.kube.audit import AuditError, AuditLog
from knm_tui.kube.config import ANONYMOUS_USER
from knm_tui.kube.nodeview import (
    ANNOTATION_CORDON_REASON,
    ANNOTATION_CORDONED_AT,
    ANNOTATION_CORDONED_BY,
    Taint,
)

log = logging.getLogger(__name__)

RequestTimeout = float | tuple[float, float]

DEFAULT_REQUEST_TIMEOUT: tuple[float, float] = (5.0, 30.0)
MAX_CONFLICT_RETRIES = 5
MAX_TRANSIENT_RETRIES = 5
MAX_LIST_RESTARTS = 3
LIST_PAGE_SIZE = 500
MAX_MESSAGE_LENGTH = 300
MAX_REASON_LENGTH = 1024
CANCEL_GRACE_SECONDS = 2.0
DEFAULT_BATCH_PARALLEL = 8

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"

# Error kinds of OperationError.
FORBIDDEN = "forbidden"
NOT_FOUND = "not-found"
CONFLICT = "conflict"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
INVALID = "invalid"
SERVER = "server"
UNAUTHORIZED = "unauthorized"

# Actions of node_permissions.
ACTION_CORDON = "cordon"
ACTION_UNCORDON = "uncordon"
ACTION_LABEL = "label"
ACTION_TAINT = "taint"
ACTION_DRAIN = "drain"
NODE_ACTIONS = (ACTION_CORDON, ACTION_UNCORDON, ACTION_LABEL, ACTION_TAINT, ACTION_DRAIN)

# Drain choices a pod may need (the DrainOptions field that allows it).
CHOICE_DELETE_EMPTYDIR_DATA = "delete_emptydir_data"
CHOICE_FORCE = "force"
CHOICE_IGNORE_DAEMONSETS = "ignore_daemonsets"

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
_QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_DNS1123_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_PDB_NAME_RE = re.compile(r"disruption budget (\S+)")
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic)\s+\S+")
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


# =============================================================================================
# Errors


class OperationInputError(ValueError):
    """The user's input is not valid; ``message`` is one line, worded like kubectl's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OperationError(Exception):
    """A request failed.

    ``kind`` is one of "forbidden", "not-found", "conflict", "timeout", "unreachable",
    "invalid", "server" or "unauthorized"; ``message`` is one clean line (the server's Status
    message where it sent one); ``status`` is the HTTP status (``None`` when no answer came);
    ``causes`` holds the Status ``details.causes`` entries.
    """

    def __init__(self, kind: str, message: str, *, status: int | None = None, reason: str = "",
                 causes: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.reason = reason
        self.causes: list[dict[str, Any]] = [dict(cause) for cause in causes]


class ReadOnlyError(Exception):
    """A write was attempted while the product runs read-only; nothing was sent."""

    def __init__(self, message: str = "read-only mode: no changes are sent to the cluster") -> None:
        super().__init__(message)
        self.message = message


def clean_message(text: str) -> str:
    """``text`` on one line, without anything that looks like a credential, at most 300 characters."""
    text = _BEARER_RE.sub(lambda match: f"{match.group(1)} ***", text)
    text = _JWT_RE.sub("***", text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[: MAX_MESSAGE_LENGTH - 1] + "…"
    return text


def _status_error(status: int, http_reason: str, body: bytes) -> OperationError:
    """An OperationError from a non-2xx answer and its (usually ``Status``) body."""
    message, reason, causes = "", "", []
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        if isinstance(parsed.get("message"), str):
            message = parsed["message"]
        if isinstance(parsed.get("reason"), str):
            reason = parsed["reason"]
        details = parsed.get("details")
        if isinstance(details, dict) and isinstance(details.get("causes"), list):
            causes = [cause for cause in details["causes"] if isinstance(cause, dict)]
    text = clean_message(message) or f"HTTP {status} {http_reason}".strip()
    if status == 401:
        kind = UNAUTHORIZED
    elif status == 403:
        kind = FORBIDDEN
    elif status == 404:
        kind = NOT_FOUND
    elif status == 409:
        kind = CONFLICT
    elif status in (400, 415, 422):
        kind = INVALID
    elif status in (408, 504):
        kind = TIMEOUT
    else:
        kind = SERVER
    return OperationError(kind, text, status=status, reason=reason or http_reason, causes=causes)


def _transport_error(error: BaseException) -> OperationError:
    """An OperationError for a request that got no HTTP answer."""
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        return _transport_error(error.reason)
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        detail = re.sub(r"\[Errno -?\d+\]\s*", "", str(error).split("connection:", 1)[-1]).strip()
        return OperationError(UNREACHABLE, clean_message(f"cannot connect to the server: {detail or 'refused'}"))
    if isinstance(error, urllib3.exceptions.ConnectTimeoutError):
        return OperationError(UNREACHABLE, "cannot connect to the server: connection timed out")
    if isinstance(error, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return OperationError(TIMEOUT, "timed out waiting for the server to answer")
    if isinstance(error, urllib3.exceptions.ProtocolError):
        return OperationError(UNREACHABLE, "the connection to the server was lost")
    if isinstance(error, ApiException):  # the client wraps TLS failures as status 0
        lines = str(error.reason or "").splitlines()
        return OperationError(UNREACHABLE, clean_message(f"TLS error: {lines[-1] if lines else error}"))
    if isinstance(error, urllib3.exceptions.HTTPError):
        return OperationError(UNREACHABLE, clean_message(f"request failed: {error}"))
    if isinstance(error, ConfigException):
        return OperationError(UNAUTHORIZED, clean_message(f"credentials cannot be loaded: {error}"))
    if isinstance(error, OSError):
        return OperationError(UNREACHABLE, clean_message(error.strerror or str(error)))
    return OperationError(SERVER, clean_message(f"{type(error).__name__}: {error}"))


# =============================================================================================
# Requests


class ApiCaller:
    """Sends every request of this module through one context's ``ApiClient``.

    Each request carries ``request_timeout``. A read-only caller refuses anything but GET with
    :class:`ReadOnlyError` before a byte is sent. Answers are parsed from raw JSON.
    """

    def __init__(self, api: k8s_client.ApiClient, *, read_only: bool = False,
                 request_timeout: RequestTimeout = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.api = api
        self.read_only = read_only
        self.request_timeout = request_timeout

    def require_write(self) -> None:
        """Raise ReadOnlyError when this caller may not write."""
        if self.read_only:
            raise ReadOnlyError()

    def get(self, path: str, query: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        """GET ``path`` and return the parsed JSON object."""
        return self.request("GET", path, query=query)

    def request(self, method: str, path: str, *, query: Sequence[tuple[str, str]] = (),
                body: Any = None, content_type: str = JSON) -> dict[str, Any]:
        """Send one request and return the parsed JSON answer; raises OperationError or ReadOnlyError."""
        if method in _WRITE_METHODS:
            self.require_write()
        headers = {"Accept": JSON}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            method, url, header_params, serialized, post_params = self.api.param_serialize(
                method=method, resource_path=path, query_params=list(query), header_params=headers,
                body=body, auth_settings=["BearerToken"],
            )
            rest_response = self.api.call_api(method, url, header_params=header_params, body=serialized,
                                              post_params=post_params, _request_timeout=self.request_timeout)
            response = rest_response.response
            try:
                data = response.data
            finally:
                response.release_conn()
        except (ReadOnlyError, OperationError):
            raise
        except Exception as error:  # the client and urllib3 raise many types; each becomes one kind
            raise _transport_error(error) from None
        if not 200 <= response.status < 300:
            raise _status_error(response.status, response.reason or "", data or b"")
        if not data:
            return {}
        try:
            parsed = json.loads(data)
        except ValueError:
            raise OperationError(SERVER, f"the server sent a malformed answer to {method} {path}",
                                 status=response.status) from None
        if not isinstance(parsed, dict):
            raise OperationError(SERVER, f"the server sent a malformed answer to {method} {path}",
                                 status=response.status)
        return parsed


def _caller(api: k8s_client.ApiClient | ApiCaller) -> ApiCaller:
    return api if isinstance(api, ApiCaller) else ApiCaller(api)


def _node_path(node: str) -> str:
    return f"/api/v1/nodes/{quote(node, safe='')}"


def _pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _list_all(caller: ApiCaller, path: str, query: Sequence[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    """Every item of a paginated LIST (pages of 500); an expired continue token restarts it."""
    for _ in range(MAX_LIST_RESTARTS):
        items: list[dict[str, Any]] = []
        token = ""
        try:
            while True:
                page_query = [*query, ("limit", str(LIST_PAGE_SIZE))]
                if token:
                    page_query.append(("continue", token))
                page = caller.get(path, page_query)
                items.extend(item for item in _list(page.get("items")) if isinstance(item, dict))
                token = str(_mapping(page.get("metadata")).get("continue") or "")
                if not token:
                    return items
        except OperationError as error:
            if error.status != 410:
                raise
    raise OperationError(SERVER, f"the list of {path} kept expiring; try again")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# =============================================================================================
# Input parsing and validation (kubectl's rules)


def _split_specs(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text.strip()) if part]


def qualified_name_problems(key: str) -> list[str]:
    """What is wrong with ``key`` as a label or taint key (apimachinery's IsQualifiedName)."""
    parts = key.split("/")
    problems: list[str] = []
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            problems.append("prefix part must be non-empty")
        elif len(prefix) > 253:
            problems.append("prefix part must be no more than 253 characters")
        elif not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
            problems.append(f"prefix part {_DNS1123_SUBDOMAIN_MESSAGE}")
    else:
        return [f"a qualified name {_QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix "
                "and '/' (e.g. 'example.com/MyName')"]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME_RE.fullmatch(name):
        problems.append(f"name part {_QUALIFIED_NAME_MESSAGE}")
    return problems


def label_value_problems(value: str) -> list[str]:
    """What is wrong with ``value`` as a label (or taint) value (apimachinery's IsValidLabelValue)."""
    problems: list[str] = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.fullmatch(value):
        problems.append(_LABEL_VALUE_MESSAGE)
    return problems


def _check_label_key(key: str) -> None:
    problems = qualified_name_problems(key)
    if problems:
        raise OperationInputError(f'invalid label key "{key}": {"; ".join(problems)}')


def parse_label_changes(text: str) -> dict[str, str | None]:
    """Label changes as kubectl takes them: ``key=value`` sets, ``key-`` removes.

    Several changes are separated by spaces or commas. Returns key → new value (``None``:
    remove). Raises OperationInputError for an invalid key or value, a malformed change, a key
    given twice, or a key both set and removed.
    """
    specs = _split_specs(text)
    if not specs:
        raise OperationInputError("no label change given: use key=value to set and key- to remove")
    changes: dict[str, str | None] = {}
    for spec in specs:
        if "=" in spec:
            parts = spec.split("=")
            if len(parts) != 2:
                raise OperationInputError(f"invalid label spec: {spec}")
            key, value = parts
            _check_label_key(key)
            problems = label_value_problems(value)
            if problems:
                raise OperationInputError(f'invalid label value: "{spec}": {"; ".join(problems)}')
            new_value: str | None = value
        elif spec.endswith("-"):
            key, new_value = spec[:-1], None
            _check_label_key(key)
        else:
            raise OperationInputError(f"unknown label spec: {spec} (use key=value to set, key- to remove)")
        if key in changes:
            if (changes[key] is None) != (new_value is None):
                raise OperationInputError("can not both modify and remove a label in the same command")
            raise OperationInputError(f'label "{key}" is given more than once')
        changes[key] = new_value
    return changes


def _parse_taint(spec: str) -> tuple[str, str, str]:
    """kubectl's parseTaint: ``key=value:effect``, ``key:effect`` or ``key`` → (key, value, effect)."""
    parts = spec.split(":")
    value = ""
    effect = ""
    if len(parts) == 1:
        key = parts[0]
    elif len(parts) == 2:
        effect = parts[1]
        if effect not in TAINT_EFFECTS:
            raise OperationInputError(f"invalid taint effect: {effect}, unsupported taint effect")
        key_value = parts[0].split("=")
        if len(key_value) > 2:
            raise OperationInputError(f"invalid taint spec: {spec}")
        key = key_value[0]
        if len(key_value) == 2:
            value = key_value[1]
            problems = label_value_problems(value)
            if problems:
                raise OperationInputError(f"invalid taint spec: {spec}, {'; '.join(problems)}")
    else:
        raise OperationInputError(f"invalid taint spec: {spec}")
    problems = qualified_name_problems(key)
    if problems:
        raise OperationInputError(f"invalid taint spec: {spec}, {'; '.join(problems)}")
    return key, value, effect


def parse_taint_changes(text: str) -> tuple[list[Taint], list[tuple[str, str | None]]]:
    """Taint changes as kubectl takes them.

    ``key=value:Effect`` or ``key:Effect`` adds (or replaces the taint with the same key and
    effect); ``key:Effect-`` removes that taint, ``key-`` every taint with the key. Effects are
    NoSchedule, PreferNoSchedule and NoExecute. Returns (taints to add, (key, effect or None) to
    remove). Raises OperationInputError with kubectl's wording for invalid input.
    """
    specs = _split_specs(text)
    if not specs:
        raise OperationInputError(
            "no taint change given: use key=value:Effect to add, key:Effect- or key- to remove")
    add: list[Taint] = []
    remove: list[tuple[str, str | None]] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        if spec.endswith("-"):
            key, _, effect = _parse_taint(spec[:-1])
            remove.append((key, effect or None))
            continue
        key, value, effect = _parse_taint(spec)
        if not effect:
            raise OperationInputError(f"invalid taint spec: {spec}, a taint to add needs an effect "
                                      f"({', '.join(TAINT_EFFECTS)})")
        if (key, effect) in seen:
            raise OperationInputError(f"duplicated taints with the same key and effect: {key}:{effect}")
        seen.add((key, effect))
        add.append(Taint(key=key, value=value, effect=effect))
    conflicts = [f"{key}={effect or ''}" for key, effect in remove
                 for taint in add if taint.key == key and (effect is None or taint.effect == effect)]
    if conflicts:
        raise OperationInputError("can not both modify and remove the following taint(s) in the same "
                                  f"command: {', '.join(dict.fromkeys(conflicts))}")
    return add, remove


def _clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    text = " ".join(reason.split())
    if len(text) > MAX_REASON_LENGTH:
        raise OperationInputError(f"the reason is too long: at most {MAX_REASON_LENGTH} characters")
    return text or None


# =============================================================================================
# Node writes


@dataclass(frozen=True)
class NodeOutcome:
    """What one operation did to one node.

    ``ok`` is False when it failed (``error`` says why); ``changed`` is False when the node was
    already as asked (no write was sent); ``summary`` is one line for the user.
    """

    node: str
    ok: bool
    changed: bool
    summary: str
    error: OperationError | None = None

    def as_record(self) -> dict[str, Any]:
        """The outcome as a plain dict (for the audit log)."""
        record: dict[str, Any] = {"node": self.node, "ok": self.ok, "changed": self.changed,
                                  "summary": self.summary}
        if self.error is not None:
            record["error"] = self.error.kind
        return record


def cordon(api: k8s_client.ApiClient | ApiCaller, node: str, *, reason: str | None = None,
           user: str, now: datetime | None = None) -> NodeOutcome:
    """Mark ``node`` unschedulable, recording the reason, who and when as annotations.

    Sends (after a GET) a strategic merge patch ``{"spec":{"unschedulable":true}}`` plus the
    annotations; an already cordoned node is left alone unless a new reason is given (then only
    the annotations change). Raises OperationError, ReadOnlyError or OperationInputError.
    """
    caller = _caller(api)
    caller.require_write()
    reason = _clean_reason(reason)
    current = caller.get(_node_path(node))
    spec = _mapping(current.get("spec"))
    annotations = _mapping(_mapping(current.get("metadata")).get("annotations"))
    stamp = _format_time(now or _utc_now())
    patch: dict[str, Any] = {}
    if spec.get("unschedulable") is not True:
        wanted = {ANNOTATION_CORDONED_BY: user, ANNOTATION_CORDONED_AT: stamp}
        if reason:
            wanted[ANNOTATION_CORDON_REASON] = reason
        elif ANNOTATION_CORDON_REASON in annotations:
            wanted[ANNOTATION_CORDON_REASON] = None
        patch = {"metadata": {"annotations": wanted}, "spec": {"unschedulable": True}}
        summary = f"cordoned ({reason})" if reason else "cordoned"
    elif reason and annotations.get(ANNOTATION_CORDON_REASON) != reason:
        patch = {"metadata": {"annotations": {ANNOTATION_CORDON_REASON: reason, ANNOTATION_CORDONED_BY: user,
                                              ANNOTATION_CORDONED_AT: stamp}}}
        summary = f"already cordoned; reason set to: {reason}"
    else:
        return NodeOutcome(node, True, False, "already cordoned")
    caller.request("PATCH", _node_path(node), body=patch, content_type=STRATEGIC_MERGE_PATCH)
    return NodeOutcome(node, True, True, summary)


def uncordon(api: k8s_client.ApiClient | ApiCaller, node: str) -> NodeOutcome:
    """Make ``node`` schedulable again and remove knm-tui's cordon annotations.

    Sends (after a GET) a strategic merge patch ``{"spec":{"unschedulable":null}}`` with the
    annotations set to ``null``; nothing when the node is schedulable and carries none of them.
    Raises OperationError or ReadOnlyError.
    """
    caller = _caller(api)
    caller.require_write()
    current = caller.get(_node_path(node))
    spec = _mapping(current.get("spec"))
    annotations = _mapping(_mapping(current.get("metadata")).get("annotations"))
    stale = {key: None for key in (ANNOTATION_CORDON_REASON, ANNOTATION_CORDONED_BY, ANNOTATION_CORDONED_AT)
             if key in annotations}
    patch: dict[str, Any] = {}
    if spec.get("unschedulable"):
        patch["spec"] = {"unschedulable": None}
    if stale:
        patch["metadata"] = {"annotations": stale}
    if not patch:
        return NodeOutcome(node, True, False, "already schedulable")
    caller.request("PATCH", _node_path(node), body=patch, content_type=STRATEGIC_MERGE_PATCH)
    summary = "uncordoned" if "spec" in patch else "already schedulable; cordon annotations removed"
    return NodeOutcome(node, True, True, summary)


def apply_labels(api: k8s_client.ApiClient | ApiCaller, node: str,
                 changes: Mapping[str, str | None]) -> NodeOutcome:
    """Set (value) or remove (``None``) labels on ``node`` with a merge patch on ``metadata.labels``.

    Reads the node first and sends only the labels that actually change (no PATCH when none
    does). Keys and values are validated again. Raises OperationError, ReadOnlyError or
    OperationInputError.
    """
    caller = _caller(api)
    caller.require_write()
    if not changes:
        raise OperationInputError("no label change given")
    for key, value in changes.items():
        _check_label_key(key)
        problems = label_value_problems(value) if value is not None else []
        if problems:
            raise OperationInputError(f'invalid label value: "{key}={value}": {"; ".join(problems)}')
    current = caller.get(_node_path(node))
    labels = _mapping(_mapping(current.get("metadata")).get("labels"))
    diff: dict[str, str | None] = {}
    notes: list[str] = []
    for key, value in changes.items():
        if value is None:
            if key in labels:
                diff[key] = None
                notes.append(f"-{key}")
        elif labels.get(key) != value:
            diff[key] = value
            notes.append(f"~{key}={value} (was {labels[key]})" if key in labels else f"+{key}={value}")
    if not diff:
        return NodeOutcome(node, True, False, "labels already as asked")
    caller.request("PATCH", _node_path(node), body={"metadata": {"labels": diff}}, content_type=MERGE_PATCH)
    return NodeOutcome(node, True, True, "labels: " + ", ".join(notes))


def _taint_dict(taint: Taint, now: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": taint.key}
    if taint.value:
        entry["value"] = taint.value
    entry["effect"] = taint.effect
    if taint.effect == "NoExecute":
        entry["timeAdded"] = _format_time(taint.time_added or now)
    return entry


def _taint_text(key: str, value: str, effect: str) -> str:
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


def compute_taints(current: Sequence[Mapping[str, Any]], add: Sequence[Taint],
                   remove: Sequence[tuple[str, str | None]], now: datetime) -> tuple[list[dict[str, Any]], list[str], bool]:
    """The new ``spec.taints`` list, one note per change, and whether anything changed.

    A taint to add replaces the one with the same key and effect in place (a new one is
    appended); ``(key, None)`` removes every taint with the key. Existing entries that do not
    change are kept exactly as they were.
    """
    result = [dict(entry) for entry in current if isinstance(entry, Mapping)]
    notes: list[str] = []
    changed = False
    for key, effect in remove:
        kept = [entry for entry in result
                if not (entry.get("key") == key and (effect is None or entry.get("effect") == effect))]
        if len(kept) == len(result):
            notes.append(f'taint "{key}:{effect}" not found' if effect else f'taint "{key}" not found')
            continue
        for entry in result:
            if entry not in kept:
                notes.append("-" + _taint_text(key, "", str(entry.get("effect", ""))))
        result = kept
        changed = True
    for taint in add:
        index = next((i for i, entry in enumerate(result)
                      if entry.get("key") == taint.key and entry.get("effect") == taint.effect), None)
        text = _taint_text(taint.key, taint.value, taint.effect)
        if index is None:
            result.append(_taint_dict(taint, now))
            notes.append(f"+{text}")
            changed = True
        elif str(result[index].get("value") or "") != taint.value:
            result[index] = _taint_dict(taint, now)
            notes.append(f"~{text}")
            changed = True
    return result, notes, changed


def apply_taints(api: k8s_client.ApiClient | ApiCaller, node: str, add: Sequence[Taint],
                 remove: Sequence[tuple[str, str | None]], *, now: datetime | None = None) -> NodeOutcome:
    """Add, replace and remove taints on ``node``.

    Reads the node, computes the whole new list (see :func:`compute_taints`) and sends it in a
    strategic merge patch with the ``resourceVersion`` it was computed from (``{"spec":
    {"taints": null}}`` when none remain). A 409 means someone changed the node meanwhile: the
    change is recomputed on a fresh read, up to 5 times, then OperationError "conflict".
    """
    caller = _caller(api)
    caller.require_write()
    if not add and not remove:
        raise OperationInputError("no taint change given")
    for taint in add:
        if taint.effect not in TAINT_EFFECTS:
            raise OperationInputError(f"invalid taint effect: {taint.effect}, unsupported taint effect")
        problems = qualified_name_problems(taint.key) + (label_value_problems(taint.value) if taint.value else [])
        if problems:
            raise OperationInputError(f"invalid taint spec: {taint}, {'; '.join(problems)}")
    moment = now or _utc_now()
    last_error: OperationError | None = None
    for _ in range(MAX_CONFLICT_RETRIES):
        current = caller.get(_node_path(node))
        resource_version = _mapping(current.get("metadata")).get("resourceVersion")
        taints, notes, changed = compute_taints(_list(_mapping(current.get("spec")).get("taints")), add, remove, moment)
        if not changed:
            return NodeOutcome(node, True, False, "no change: " + ("; ".join(notes) or "taints already as asked"))
        patch: dict[str, Any] = {"spec": {"taints": taints or None}}
        if resource_version:
            patch["metadata"] = {"resourceVersion": resource_version}
        try:
            caller.request("PATCH", _node_path(node), body=patch, content_type=STRATEGIC_MERGE_PATCH)
        except OperationError as error:
            if error.kind != CONFLICT:
                raise
            last_error = error
            continue
        return NodeOutcome(node, True, True, "taints: " + ", ".join(notes))
    detail = f": {last_error.message}" if last_error else ""
    raise OperationError(CONFLICT, f"node {node} kept changing while its taints were updated; gave up "
                                   f"after {MAX_CONFLICT_RETRIES} attempts{detail}", status=409)


def for_each_node(nodes: Iterable[str], operation: Callable[[str], NodeOutcome], *,
                  max_parallel: int = DEFAULT_BATCH_PARALLEL) -> list[NodeOutcome]:
    """Run ``operation`` on every node (a few at a time) and return one outcome per node, in order.

    A failure on one node never stops the others: its OperationError (or any unexpected error)
    becomes that node's outcome. ReadOnlyError and OperationInputError are raised before any node
    is touched by the operations of this module, so they propagate.
    """
    names = list(dict.fromkeys(nodes))

    def one(node: str) -> NodeOutcome:
        try:
            return operation(node)
        except (ReadOnlyError, OperationInputError):
            raise
        except OperationError as error:
            return NodeOutcome(node, False, False, error.message, error)
        except Exception as error:  # a bug or an odd answer must not hide the other nodes' results
            log.exception("node operation on %s failed", node)
            failure = OperationError(SERVER, clean_message(f"{type(error).__name__}: {error}"))
            return NodeOutcome(node, False, False, failure.message, failure)

    if len(names) <= 1 or max_parallel <= 1:
        return [one(node) for node in names]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(max_parallel, len(names)),
                                               thread_name_prefix="knm-node-op") as pool:
        return list(pool.map(one, names))


def cordon_nodes(api: k8s_client.ApiClient | ApiCaller, nodes: Iterable[str], *, reason: str | None = None,
                 user: str, now: datetime | None = None) -> list[NodeOutcome]:
    """:func:`cordon` on each node; one outcome per node."""
    caller = _caller(api)
    caller.require_write()
    reason = _clean_reason(reason)
    moment = now or _utc_now()
    return for_each_node(nodes, lambda node: cordon(caller, node, reason=reason, user=user, now=moment))


def uncordon_nodes(api: k8s_client.ApiClient | ApiCaller, nodes: Iterable[str]) -> list[NodeOutcome]:
    """:func:`uncordon` on each node; one outcome per node."""
    caller = _caller(api)
    caller.require_write()
    return for_each_node(nodes, lambda node: uncordon(caller, node))


def label_nodes(api: k8s_client.ApiClient | ApiCaller, nodes: Iterable[str],
                changes: Mapping[str, str | None]) -> list[NodeOutcome]:
    """:func:`apply_labels` on each node; one outcome per node."""
    caller = _caller(api)
    caller.require_write()
    return for_each_node(nodes, lambda node: apply_labels(caller, node, changes))


def taint_nodes(api: k8s_client.ApiClient | ApiCaller, nodes: Iterable[str], add: Sequence[Taint],
                remove: Sequence[tuple[str, str | None]], *, now: datetime | None = None) -> list[NodeOutcome]:
    """:func:`apply_taints` on each node; one outcome per node."""
    caller = _caller(api)
    caller.require_write()
    moment = now or _utc_now()
    return for_each_node(nodes, lambda node: apply_taints(caller, node, add, remove, now=moment))


# =============================================================================================
# RBAC preflight


@dataclass(frozen=True)
class AccessDecision:
    """Whether an action is allowed, and why not.

    ``unknown`` is True when the access review itself could not be made: the action is then
    reported allowed (the server will still refuse it if RBAC says no) and ``reason`` says that
    it could not be checked.
    """

    allowed: bool
    reason: str = ""
    unknown: bool = False


def _resource_text(resource: str, subresource: str, group: str) -> str:
    text = f"{resource}/{subresource}" if subresource else resource
    return f"{text}.{group}" if group else text


def can_i(api: k8s_client.ApiClient | ApiCaller, verb: str, resource: str, *, group: str = "",
          subresource: str = "", name: str = "", namespace: str = "") -> AccessDecision:
    """Ask the server whether the current user may ``verb`` ``resource`` (SelfSubjectAccessReview).

    POSTs ``{"spec":{"resourceAttributes":{...}}}`` to
    ``/apis/authorization.k8s.io/v1/selfsubjectaccessreviews``. When the review cannot be made
    (an error, a timeout, a server without the API) the answer is "unknown": ``allowed=True``,
    ``unknown=True`` and a reason noting that the permission could not be checked. A read-only
    caller gets a denial without any request (the review is a POST).
    """
    caller = _caller(api)
    what = _resource_text(resource, subresource, group)
    if caller.read_only:
        return AccessDecision(False, ReadOnlyError().message)
    attributes = {"verb": verb, "resource": resource, "group": group, "subresource": subresource,
                  "name": name, "namespace": namespace}
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {key: value for key, value in attributes.items() if value}}}
    try:
        answer = caller.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body)
    except OperationError as error:
        return AccessDecision(True, f"could not check whether {verb} {what} is allowed: {error.message}",
                              unknown=True)
    status = _mapping(answer.get("status"))
    if "allowed" not in status:
        return AccessDecision(True, f"could not check whether {verb} {what} is allowed: the access review "
                                    "came back without an answer", unknown=True)
    server_reason = clean_message(str(status.get("reason") or status.get("evaluationError") or ""))
    if status.get("allowed") is True and not status.get("denied"):
        return AccessDecision(True, server_reason)
    reason = f"not allowed to {verb} {what}"
    return AccessDecision(False, f"{reason}: {server_reason}" if server_reason else reason)


def _combine(decisions: Sequence[AccessDecision]) -> AccessDecision:
    denied = [decision.reason for decision in decisions if not decision.allowed]
    if denied:
        return AccessDecision(False, "; ".join(denied))
    unknown = [decision.reason for decision in decisions if decision.unknown]
    if unknown:
        return AccessDecision(True, "; ".join(unknown), unknown=True)
    return AccessDecision(True, "")


def node_permissions(api: k8s_client.ApiClient | ApiCaller) -> dict[str, AccessDecision]:
    """Which node actions the current user may take: cordon, uncordon, label, taint, drain.

    cordon/uncordon/label/taint need ``patch nodes``; drain also needs ``create pods/eviction``
    and ``list pods``. Each review that cannot be made counts as "unknown" (see :func:`can_i`);
    with a read-only caller every action is denied without any request.
    """
    caller = _caller(api)
    if caller.read_only:
        return {action: AccessDecision(False, ReadOnlyError().message) for action in NODE_ACTIONS}
    patch_nodes = can_i(caller, "patch", "nodes")
    evict_pods = can_i(caller, "create", "pods", subresource="eviction")
    list_pods = can_i(caller, "list", "pods")
    permissions = {action: patch_nodes for action in (ACTION_CORDON, ACTION_UNCORDON, ACTION_LABEL, ACTION_TAINT)}
    permissions[ACTION_DRAIN] = _combine([patch_nodes, evict_pods, list_pods])
    return permissions


# =============================================================================================
# Drain: options and preflight


@dataclass(frozen=True)
class DrainOptions:
    """How to drain, with kubectl's defaults.

    ``ignore_daemonsets`` skips DaemonSet pods; ``delete_emptydir_data`` allows evicting pods
    with emptyDir volumes; ``force`` allows evicting pods no controller will recreate;
    ``grace_period_seconds`` overrides each pod's own (``None``: the pod's); ``timeout_seconds``
    bounds the whole run (``None``: no limit); ``disable_eviction`` deletes pods instead of
    evicting them, bypassing PodDisruptionBudgets — only ever when chosen explicitly;
    ``max_parallel`` bounds requests in flight; ``poll_interval`` is how often a terminating pod
    is checked; ``retry_429_after`` how long to wait after an eviction is refused.
    """

    ignore_daemonsets: bool = True
    delete_emptydir_data: bool = False
    force: bool = False
    grace_period_seconds: int | None = None
    timeout_seconds: float | None = None
    disable_eviction: bool = False
    max_parallel: int = 8
    poll_interval: float = 1.0
    retry_429_after: float = 5.0

    def __post_init__(self) -> None:
        if self.grace_period_seconds is not None and self.grace_period_seconds < 0:
            raise OperationInputError("the grace period must be 0 seconds or more (or the pods' own)")
        if self.timeout_seconds is not None and self.timeout_seconds <= 0:
            raise OperationInputError("the timeout must be more than 0 seconds (or none)")
        if self.max_parallel < 1:
            raise OperationInputError("at least one eviction must be allowed at a time")
        if self.poll_interval <= 0 or self.retry_429_after < 0:
            raise OperationInputError("the poll interval must be positive and the retry delay not negative")

    def as_parameters(self) -> dict[str, Any]:
        """The options that matter to a reader of the audit log."""
        values = asdict(self)
        for key in ("max_parallel", "poll_interval", "retry_429_after"):
            values.pop(key)
        return values


class Disposition(StrEnum):
    """What a drain does with a pod."""

    EVICT = "evict"
    SKIP = "skip"
    NEEDS_CHOICE = "needs-choice"


@dataclass(frozen=True)
class PlannedPod:
    """One pod on the node and what the drain will do with it.

    ``reason`` says why it is skipped or needs a choice; ``needs`` names the DrainOptions fields
    that would let it be evicted; ``warning`` notes a consequence of evicting it (emptyDir data
    lost, no controller to recreate it); ``pdbs`` are the PodDisruptionBudgets covering it.
    """

    namespace: str
    name: str
    uid: str
    phase: str
    disposition: Disposition
    reason: str = ""
    needs: tuple[str, ...] = ()
    warning: str = ""
    owner: str = ""  # "Kind/name" of the controller, "" when none
    terminating: bool = False
    pdbs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class BlockingPdb:
    """A PodDisruptionBudget that allows no disruption now, and the drain's pods it covers."""

    namespace: str
    name: str
    disruptions_allowed: int
    current_healthy: int | None
    desired_healthy: int | None
    pods: tuple[str, ...]

    @property
    def message(self) -> str:
        """One line like the Eviction API's: ``needs N healthy pods and has M currently``."""
        if self.current_healthy is None or self.desired_healthy is None:
            return f"PodDisruptionBudget {self.name} allows no disruption now (its status is not reported yet)"
        return (f"PodDisruptionBudget {self.name} needs {self.desired_healthy} healthy pods and has "
                f"{self.current_healthy} currently; it allows no disruption now")


@dataclass(frozen=True)
class DrainPlan:
    """The preflight of a drain: nothing has changed yet.

    ``blocked_reasons`` is empty when the drain can start; otherwise each entry says what must be
    chosen first. ``warnings`` are things to know that do not stop it (PDBs blocking now make the
    drain wait, not fail). ``eviction_version`` is the Eviction API's group/version (``""``
    when the server offers none).
    """

    node: str
    options: DrainOptions
    to_evict: tuple[PlannedPod, ...]
    skipped: tuple[PlannedPod, ...]
    needs_choice: tuple[PlannedPod, ...]
    blocking_pdbs: tuple[BlockingPdb, ...]
    warnings: tuple[str, ...]
    eviction_version: str
    node_cordoned: bool

    @property
    def blocked_reasons(self) -> list[str]:
        """Why the drain cannot start as planned; empty when it can."""
        reasons: list[str] = []
        if not self.eviction_version and not self.options.disable_eviction:
            reasons.append("the server offers no Eviction API (pods/eviction); pods are deleted only if "
                           "you explicitly choose to delete instead of evict")
        by_choice: dict[str, list[str]] = {}
        for pod in self.needs_choice:
            for choice in pod.needs:
                by_choice.setdefault(choice, []).append(pod.key)
        for choice in (CHOICE_IGNORE_DAEMONSETS, CHOICE_DELETE_EMPTYDIR_DATA, CHOICE_FORCE):
            pods = by_choice.get(choice)
            if not pods:
                continue
            one = len(pods) == 1
            count = _plural(len(pods), "pod")
            listed = _name_list(pods)
            if choice == CHOICE_DELETE_EMPTYDIR_DATA:
                reasons.append(f"{count} {'uses' if one else 'use'} emptyDir volumes whose data is lost on eviction "
                               f"({listed}): choose to delete emptyDir data")
            elif choice == CHOICE_FORCE:
                reasons.append(f"{count} would not be recreated by any controller ({listed}): choose force")
            elif choice == CHOICE_IGNORE_DAEMONSETS:
                reasons.append(f"{count} {'is' if one else 'are'} managed by a DaemonSet ({listed}): "
                               "choose to ignore DaemonSets")
        return reasons

    @property
    def can_start(self) -> bool:
        """Whether the drain can start with these options."""
        return not self.blocked_reasons

    @property
    def waiting_for(self) -> tuple[PlannedPod, ...]:
        """Pods already terminating: not evicted again, but the drain waits for them to go."""
        return tuple(pod for pod in self.skipped if pod.terminating)


def _name_list(names: Sequence[str], shown: int = 3) -> str:
    head = ", ".join(names[:shown])
    return f"{head} and {len(names) - shown} more" if len(names) > shown else head


def eviction_group_version(api: k8s_client.ApiClient | ApiCaller) -> str:
    """The group/version of the ``pods/eviction`` subresource from ``/api/v1`` discovery, or ``""``."""
    resources = _caller(api).get("/api/v1")
    for resource in _list(resources.get("resources")):
        if not isinstance(resource, dict) or resource.get("name") != "pods/eviction":
            continue
        if resource.get("kind") == "Eviction" and resource.get("group") and resource.get("version"):
            return f"{resource['group']}/{resource['version']}"
    return ""


def _controller(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    for reference in _list(metadata.get("ownerReferences")):
        if isinstance(reference, dict) and reference.get("controller") is True:
            return reference
    return None


def _has_empty_dir(spec: Mapping[str, Any]) -> bool:
    return any(isinstance(volume, dict) and volume.get("emptyDir") is not None for volume in _list(spec.get("volumes")))


class _DaemonSetLookup:
    """Whether a DaemonSet exists (one GET per DaemonSet per preflight)."""

    def __init__(self, caller: ApiCaller) -> None:
        self._caller = caller
        self._known: dict[tuple[str, str], bool] = {}

    def exists(self, namespace: str, name: str) -> bool:
        key = (namespace, name)
        if key not in self._known:
            path = f"/apis/apps/v1/namespaces/{quote(namespace, safe='')}/daemonsets/{quote(name, safe='')}"
            try:
                self._caller.get(path)
                self._known[key] = True
            except OperationError as error:
                if error.kind != NOT_FOUND:
                    raise OperationError(error.kind, f"cannot check DaemonSet {namespace}/{name}: {error.message}",
                                         status=error.status) from None
                self._known[key] = False
        return self._known[key]


def classify_pod(pod: Mapping[str, Any], options: DrainOptions,
                 daemonset_exists: Callable[[str, str], bool]) -> PlannedPod:
    """What a kubectl-compatible drain does with ``pod`` (filters in kubectl's order).

    Already terminating → skipped (the drain waits for it); DaemonSet-managed → skipped with
    ``ignore_daemonsets``, else a choice (a pod whose DaemonSet is gone needs ``force``); mirror
    pods → skipped; emptyDir volumes → need ``delete_emptydir_data``; no controller → needs
    ``force``. Succeeded and Failed pods pass every filter, as in kubectl.
    """
    metadata = _mapping(pod.get("metadata"))
    spec = _mapping(pod.get("spec"))
    phase = str(_mapping(pod.get("status")).get("phase") or "")
    finished = phase in _FINISHED_PHASES
    controller = _controller(metadata)
    owner = f"{controller.get('kind')}/{controller.get('name')}" if controller else ""
    namespace = str(metadata.get("namespace") or "")
    base = {"namespace": namespace, "name": str(metadata.get("name") or ""),
            "uid": str(metadata.get("uid") or ""), "phase": phase, "owner": owner}
    if metadata.get("deletionTimestamp"):
        return PlannedPod(**base, disposition=Disposition.SKIP, reason="already terminating", terminating=True)
    warnings: list[str] = []
    needs: list[str] = []
    reasons: list[str] = []
    if controller and controller.get("kind") == "DaemonSet" and not finished:
        daemonset = str(controller.get("name") or "")
        if not daemonset_exists(namespace, daemonset):
            if options.force:
                warnings.append(f"its DaemonSet {daemonset} no longer exists")
            else:
                needs.append(CHOICE_FORCE)
                reasons.append(f"its DaemonSet {daemonset} no longer exists: needs force")
        elif options.ignore_daemonsets:
            return PlannedPod(**base, disposition=Disposition.SKIP, reason=f"managed by DaemonSet {daemonset}")
        else:
            return PlannedPod(**base, disposition=Disposition.NEEDS_CHOICE, needs=(CHOICE_IGNORE_DAEMONSETS,),
                              reason=f"managed by DaemonSet {daemonset}: needs ignore DaemonSets")
    if MIRROR_POD_ANNOTATION in _mapping(metadata.get("annotations")):
        return PlannedPod(**base, disposition=Disposition.SKIP, reason="mirror pod (a static pod the kubelet runs)")
    if _has_empty_dir(spec) and not finished:
        if options.delete_emptydir_data:
            warnings.append("its emptyDir data will be deleted")
        else:
            needs.append(CHOICE_DELETE_EMPTYDIR_DATA)
            reasons.append("uses emptyDir data, lost on eviction: needs delete emptyDir data")
    if controller is None and not finished:
        if options.force:
            warnings.append("no controller will recreate it")
        else:
            needs.append(CHOICE_FORCE)
            reasons.append("no controller will recreate it: needs force")
    if needs:
        return PlannedPod(**base, disposition=Disposition.NEEDS_CHOICE, needs=tuple(dict.fromkeys(needs)),
                          reason="; ".join(reasons), warning="; ".join(warnings))
    return PlannedPod(**base, disposition=Disposition.EVICT, warning="; ".join(warnings))


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """Whether a metav1.LabelSelector matches ``labels`` (a null selector matches nothing, ``{}`` everything)."""
    if not isinstance(selector, dict):
        return False
    for key, value in _mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in _list(selector.get("matchExpressions")):
        if not isinstance(expression, dict):
            return False
        key = expression.get("key")
        operator = expression.get("operator")
        values = [str(value) for value in _list(expression.get("values"))]
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def plan_drain(api: k8s_client.ApiClient | ApiCaller, node: str, options: DrainOptions | None = None) -> DrainPlan:
    """The preflight of draining ``node``: only reads, never writes (allowed in read-only mode).

    GETs the node and ``/api/v1`` (is there an Eviction API?), LISTs the node's pods
    (``fieldSelector=spec.nodeName=<node>``, pages of 500), GETs each owning DaemonSet once, and
    LISTs the PodDisruptionBudgets of the namespaces concerned to find those that allow no
    disruption now. A PDB list that is refused becomes a warning. Raises OperationError.
    """
    caller = _caller(api)
    options = options or DrainOptions()
    node_object = caller.get(_node_path(node))
    eviction_version = eviction_group_version(caller)
    pods = _list_all(caller, "/api/v1/pods", [("fieldSelector", f"spec.nodeName={node}")])
    daemonsets = _DaemonSetLookup(caller)
    planned = [classify_pod(pod, options, daemonsets.exists) for pod in pods]
    labels_by_key = {planned_pod.key: _mapping(_mapping(pod.get("metadata")).get("labels"))
                     for pod, planned_pod in zip(pods, planned)}
    warnings: list[str] = []
    # Budgets matter only for pods that will (or may, once chosen) be evicted and are still running:
    # the Eviction API lets finished and terminating pods go without consulting them.
    candidates = [pod for pod in planned if pod.disposition != Disposition.SKIP and pod.phase not in _FINISHED_PHASES]
    pdbs_by_pod: dict[str, list[dict[str, Any]]] = {}
    for namespace in sorted({pod.namespace for pod in candidates}):
        path = f"/apis/policy/v1/namespaces/{quote(namespace, safe='')}/poddisruptionbudgets"
        try:
            budgets = _list_all(caller, path)
        except OperationError as error:
            warnings.append(f"cannot read the PodDisruptionBudgets of namespace {namespace} ({error.message}); "
                            "budgets that block the drain are not known")
            continue
        for pod in candidates:
            if pod.namespace != namespace:
                continue
            labels = labels_by_key.get(pod.key, {})
            matching = [budget for budget in budgets if selector_matches(_mapping(budget.get("spec")).get("selector"), labels)]
            if matching:
                pdbs_by_pod[pod.key] = matching
    blocking: dict[tuple[str, str], dict[str, Any]] = {}
    covered: dict[tuple[str, str], list[str]] = {}
    for index, pod in enumerate(planned):
        budgets = pdbs_by_pod.get(pod.key, [])
        if not budgets:
            continue
        names = tuple(str(_mapping(budget.get("metadata")).get("name") or "") for budget in budgets)
        planned[index] = replace(pod, pdbs=names)
        if len(budgets) > 1:
            warnings.append(f"pod {pod.key} is covered by {len(budgets)} PodDisruptionBudgets ({', '.join(names)}); "
                            "the Eviction API refuses to evict such a pod")
        for budget in budgets:
            status = budget.get("status")
            allowed = _int_or_none(_mapping(status).get("disruptionsAllowed"))
            if allowed is not None and allowed > 0:
                continue
            key = (pod.namespace, str(_mapping(budget.get("metadata")).get("name") or ""))
            blocking[key] = budget
            covered.setdefault(key, []).append(pod.key)
    blocking_pdbs = []
    for key, budget in blocking.items():
        status = _mapping(budget.get("status"))
        blocking_pdbs.append(BlockingPdb(
            namespace=key[0], name=key[1], disruptions_allowed=_int_or_none(status.get("disruptionsAllowed")) or 0,
            current_healthy=_int_or_none(status.get("currentHealthy")),
            desired_healthy=_int_or_none(status.get("desiredHealthy")), pods=tuple(covered[key]),
        ))
    for budget in blocking_pdbs:
        warnings.append(f"{budget.message}: the drain will wait for it ({_name_list(list(budget.pods))})")
    if options.disable_eviction:
        warnings.append("pods will be DELETED, not evicted: PodDisruptionBudgets are not respected")
    return DrainPlan(
        node=node, options=options,
        to_evict=tuple(pod for pod in planned if pod.disposition == Disposition.EVICT),
        skipped=tuple(pod for pod in planned if pod.disposition == Disposition.SKIP),
        needs_choice=tuple(pod for pod in planned if pod.disposition == Disposition.NEEDS_CHOICE),
        blocking_pdbs=tuple(blocking_pdbs), warnings=tuple(warnings), eviction_version=eviction_version,
        node_cordoned=_mapping(node_object.get("spec")).get("unschedulable") is True,
    )


# =============================================================================================
# Drain: the run


class PodState(StrEnum):
    """Where one pod of a running drain is."""

    PENDING = "pending"
    EVICTING = "evicting"
    BLOCKED_BY_PDB = "blocked-by-pdb"
    TERMINATING = "terminating"
    GONE = "gone"
    FAILED = "failed"


FINAL_POD_STATES = frozenset({PodState.GONE, PodState.FAILED})


@dataclass(frozen=True)
class PodProgress:
    """A snapshot of one pod during a drain.

    ``retries`` counts eviction attempts refused so far (429s, mostly PodDisruptionBudgets);
    ``pdb`` names the budget that refused the last attempt; ``message`` is the latest news.
    """

    namespace: str
    name: str
    uid: str
    state: PodState
    retries: int = 0
    message: str = ""
    pdb: str = ""

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def as_record(self) -> dict[str, Any]:
        """The snapshot as a plain dict (for the audit log)."""
        return {"namespace": self.namespace, "name": self.name, "state": str(self.state),
                "retries": self.retries, "message": self.message, **({"pdb": self.pdb} if self.pdb else {})}


@dataclass(frozen=True)
class DrainResult:
    """How a drain ended.

    ``drained`` is True only when every pod to evict (and every pod that was already
    terminating) is gone. ``node_cordoned`` says whether the node is cordoned at the end.
    ``pods`` holds every followed pod's last state; ``skipped`` the pods left alone.
    """

    drained: bool
    node_cordoned: bool
    pods: tuple[PodProgress, ...]
    message: str
    cancelled: bool = False
    timed_out: bool = False
    skipped: tuple[PlannedPod, ...] = ()
    elapsed_seconds: float = 0.0
    audit_error: str | None = None

    @property
    def remaining(self) -> list[PodProgress]:
        """The followed pods that are not gone."""
        return [pod for pod in self.pods if pod.state != PodState.GONE]


class _Tracked:
    """The drain's mutable record of one pod; changed only by the thread running the drain."""

    __slots__ = ("namespace", "name", "uid", "state", "retries", "message", "pdb", "due", "step", "errors")

    def __init__(self, pod: PlannedPod) -> None:
        self.namespace = pod.namespace
        self.name = pod.name
        self.uid = pod.uid
        self.retries = 0
        self.pdb = ""
        self.due = 0.0
        self.errors = 0
        if pod.terminating:
            self.state, self.step, self.message = PodState.TERMINATING, _STEP_POLL, "already terminating"
        else:
            self.state, self.step, self.message = PodState.PENDING, _STEP_EVICT, ""

    @property
    def ident(self) -> str:
        """The pod's identity during the drain: its UID (a same-named replacement is another pod)."""
        return self.uid or f"{self.namespace}/{self.name}"

    def snapshot(self) -> PodProgress:
        return PodProgress(self.namespace, self.name, self.uid, self.state, self.retries, self.message, self.pdb)


def _ident(pod: PlannedPod) -> str:
    return pod.uid or pod.key


_STEP_EVICT = "evict"
_STEP_POLL = "poll"
_WAKE = object()
_StepOutcome = tuple[str, str, str]  # (verdict, message, PDB name)


class Drain:
    """Drains one node: cordon, then evict its pods in parallel and wait for each to be gone.

    ``run()`` blocks until the drain ends and is meant to be called from a worker thread; call
    it once. ``cancel()`` may be called from any thread at any time: the drain stops promptly
    (requests already sent are given up to 2 s to finish) and the node stays cordoned.
    ``on_progress`` receives a :class:`PodProgress` on every state change, from the thread
    running ``run()``; it must be cheap and must not block (the UI coalesces).

    ``options`` must be the ones the plan was made with (the default). After cordoning, the
    node's pods are read again, since pods may have arrived since the preflight, and that fresh
    plan is what runs; if it now needs a choice, the drain stops without evicting anything.
    Pods go through the Eviction API, at most ``max_parallel`` requests at a time; a 429 (a
    PodDisruptionBudget that allows no disruption) is retried every ``retry_429_after`` seconds
    with the budget's message shown; a pod is gone when a GET says 404 or shows a new UID. Pods
    are deleted instead only when ``disable_eviction`` was chosen explicitly — never as a
    fallback. ``timeout_seconds`` counts from the start of ``run()``.
    """

    def __init__(self, api: k8s_client.ApiClient | ApiCaller, node: str, plan: DrainPlan,
                 options: DrainOptions | None = None,
                 on_progress: Callable[[PodProgress], None] | None = None, *,
                 user: str = ANONYMOUS_USER, reason: str | None = None,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        if options is not None and options != plan.options:
            raise OperationInputError("the drain options differ from the preflight's: run the preflight again")
        if plan.node != node:
            raise OperationInputError(f"the preflight is for node {plan.node}, not {node}")
        self._caller = _caller(api)
        self.node = node
        self.plan = plan
        self.options = plan.options
        self._on_progress = on_progress
        self._user = user
        self._reason = _clean_reason(reason)
        self._clock = clock
        self._cancel = threading.Event()
        self._events: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._started = False
        self._skipped: tuple[PlannedPod, ...] = tuple(pod for pod in plan.skipped if not pod.terminating)
        self._tracked: dict[str, _Tracked] = {}
        for pod in (*plan.to_evict, *plan.waiting_for):
            self._tracked[_ident(pod)] = _Tracked(pod)

    # ------------------------------------------------------------------------------ public
    def progress(self) -> list[PodProgress]:
        """A snapshot of every followed pod (safe from any thread)."""
        with self._lock:
            return [tracked.snapshot() for tracked in self._tracked.values()]

    def cancel(self) -> None:
        """Stop the drain as soon as possible; the node stays cordoned."""
        self._cancel.set()
        self._events.put(_WAKE)

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel()`` was called."""
        return self._cancel.is_set()

    def run(self) -> DrainResult:
        """Run the drain to its end and return the verdict (see the class docstring)."""
        with self._lock:
            if self._started:
                raise RuntimeError("a Drain runs only once")
            self._started = True
        self._caller.require_write()
        started = time.monotonic()
        timeout = self.options.timeout_seconds
        deadline = started + timeout if timeout is not None else None
        node = self.node
        if self._cancel.is_set():
            return self._result(started, False, self.plan.node_cordoned,
                                f"drain of {node} cancelled before it started; nothing was changed", cancelled=True)
        blocked = self.plan.blocked_reasons
        if blocked:
            return self._result(started, False, self.plan.node_cordoned,
                                f"drain of {node} not started: {'; '.join(blocked)}")
        try:
            cordon(self._caller, node, reason=self._reason, user=self._user, now=self._clock())
        except OperationError as error:
            return self._result(started, False, self.plan.node_cordoned,
                                f"node {node} not drained: cordon failed ({error.message}); nothing was evicted")
        stays = "the node stays cordoned"
        if self._cancel.is_set():
            return self._result(started, False, True, f"node {node} not drained: cancelled; nothing was evicted; {stays}",
                                cancelled=True)
        try:
            fresh = plan_drain(self._caller, node, self.options)
        except OperationError as error:
            return self._result(started, False, True, f"node {node} not drained: cannot read its pods "
                                f"({error.message}); nothing was evicted; {stays}")
        self._adopt(fresh)
        if fresh.blocked_reasons:
            return self._result(started, False, True, f"node {node} not drained: {'; '.join(fresh.blocked_reasons)}; "
                                f"nothing was evicted; {stays}")
        stop = self._loop(deadline)
        return self._verdict(started, stop)

    # ------------------------------------------------------------------------------ setup
    def _adopt(self, fresh: DrainPlan) -> None:
        """Follow the fresh plan: new pods join, pods the preflight saw that are no longer on the node are gone.

        A pod the fresh plan no longer evicts (it now needs a choice) keeps its state: the
        drain then stops before evicting anything.
        """
        followed = {_ident(pod): pod for pod in (*fresh.to_evict, *fresh.waiting_for)}
        needing_choice = {_ident(pod) for pod in fresh.needs_choice}
        present = {_ident(pod) for pod in (*fresh.to_evict, *fresh.skipped)} | needing_choice
        changed: list[_Tracked] = []
        with self._lock:
            for ident, tracked in list(self._tracked.items()):
                if ident not in present:
                    tracked.state, tracked.message = PodState.GONE, "gone before it was evicted"
                    changed.append(tracked)
                elif ident in followed and followed[ident].terminating and tracked.state == PodState.PENDING:
                    tracked.state, tracked.step, tracked.message = PodState.TERMINATING, _STEP_POLL, "already terminating"
                    changed.append(tracked)
                elif ident not in followed and ident not in needing_choice:
                    del self._tracked[ident]  # now skipped (left in place): not the drain's to follow
            for ident, pod in followed.items():
                if ident not in self._tracked:
                    self._tracked[ident] = _Tracked(pod)
                    changed.append(self._tracked[ident])
            self._skipped = tuple(pod for pod in fresh.skipped if not pod.terminating)
        for tracked in changed:
            self._emit(tracked)

    # ------------------------------------------------------------------------------ the loop
    def _loop(self, deadline: float | None) -> str | None:
        """Evict and follow pods until all are gone or failed; returns "cancelled", "timeout" or None.

        Only this thread changes pod states; workers send requests and report back through a
        queue, which ``cancel()`` also wakes.
        """
        options = self.options
        inflight: set[str] = set()
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=options.max_parallel,
                                                         thread_name_prefix="knm-drain")
        futures: list[concurrent.futures.Future[None]] = []
        stop: str | None = None
        try:
            while True:
                if self._cancel.is_set():
                    stop = "cancelled"
                    break
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    stop = "timeout"
                    break
                with self._lock:
                    active = [tracked for tracked in self._tracked.values() if tracked.state not in FINAL_POD_STATES]
                if not active and not inflight:
                    break
                for tracked in sorted(active, key=lambda item: item.due):
                    if len(inflight) >= options.max_parallel or tracked.due > now:
                        break
                    if tracked.ident in inflight:
                        continue
                    if tracked.step == _STEP_EVICT:
                        if tracked.state == PodState.PENDING:
                            self._update(tracked, PodState.EVICTING,
                                         "deleting" if options.disable_eviction else "evicting")
                        work = self._evict_step(tracked)
                    else:
                        work = self._check_step(tracked)
                    inflight.add(tracked.ident)
                    futures = [future for future in futures if not future.done()]
                    futures.append(executor.submit(self._run_step, tracked.ident, work))
                wait = self._wait_seconds(active, inflight, now, deadline)
                try:
                    item = self._events.get(timeout=wait)
                except queue.Empty:
                    continue
                self._handle(item, inflight)
                self._handle_pending(inflight)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            if inflight:
                concurrent.futures.wait(futures, timeout=CANCEL_GRACE_SECONDS)
                self._handle_pending(inflight)
        return stop

    def _wait_seconds(self, active: list[_Tracked], inflight: set[str], now: float,
                      deadline: float | None) -> float | None:
        """How long to wait for news: until the next pod is due (when a request slot is free) or the deadline."""
        waits: list[float] = []
        if len(inflight) < self.options.max_parallel:
            waits.extend(tracked.due - now for tracked in active if tracked.ident not in inflight)
        if deadline is not None:
            waits.append(deadline - now)
        return max(0.0, min(waits)) if waits else None

    def _run_step(self, ident: str, work: Callable[[], _StepOutcome]) -> None:
        try:
            outcome = work()
        except Exception as error:  # a bug must not leave the pod in flight forever
            log.exception("drain step for pod %s failed", ident)
            outcome = ("failed", clean_message(f"{type(error).__name__}: {error}"), "")
        self._events.put((ident, outcome))

    def _handle_pending(self, inflight: set[str]) -> None:
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return
            self._handle(item, inflight)

    def _handle(self, item: Any, inflight: set[str]) -> None:
        """Apply one step's outcome to its pod (under the lock, so snapshots are consistent)."""
        if item is _WAKE:
            return
        ident, (verdict, message, pdb) = item
        inflight.discard(ident)
        now = time.monotonic()
        options = self.options
        with self._lock:
            tracked = self._tracked.get(ident)
            if tracked is None:
                return
            if verdict == "present":
                tracked.due, tracked.errors = now + options.poll_interval, 0
                return
            if verdict == "accepted":
                tracked.step, tracked.due, tracked.errors = _STEP_POLL, now + options.poll_interval, 0
                tracked.state, tracked.message = PodState.TERMINATING, message
            elif verdict == "gone":
                tracked.state, tracked.message = PodState.GONE, message
            elif verdict == "blocked":
                tracked.retries += 1
                tracked.due = now + options.retry_429_after
                tracked.state, tracked.message, tracked.pdb = PodState.BLOCKED_BY_PDB, message, pdb
            elif verdict == "throttled":
                tracked.retries += 1
                tracked.due = now + options.retry_429_after
                tracked.message = message
            elif verdict == "retry":
                tracked.errors += 1
                if tracked.errors > MAX_TRANSIENT_RETRIES:
                    tracked.state = PodState.FAILED
                    tracked.message = f"{message} (gave up after {MAX_TRANSIENT_RETRIES} retries)"
                else:
                    tracked.due = now + max(options.poll_interval, min(options.retry_429_after, 5.0))
                    tracked.message = f"{message}; retrying"
            else:
                tracked.state, tracked.message = PodState.FAILED, message
        self._emit(tracked)

    # ------------------------------------------------------------------------------ steps
    def _evict_step(self, tracked: _Tracked) -> Callable[[], _StepOutcome]:
        """One eviction (or, only when chosen, deletion) request for ``tracked``."""
        namespace, name, uid = tracked.namespace, tracked.name, tracked.uid
        options = self.options
        caller = self._caller
        delete_options: dict[str, Any] = {}
        if options.grace_period_seconds is not None:
            delete_options["gracePeriodSeconds"] = options.grace_period_seconds
        if uid:
            delete_options["preconditions"] = {"uid": uid}
        if options.disable_eviction:
            body = {"kind": "DeleteOptions", "apiVersion": "v1", **delete_options}

            def delete() -> _StepOutcome:
                try:
                    caller.request("DELETE", _pod_path(namespace, name), body=body)
                except OperationError as error:
                    return _write_failure(error)
                return "accepted", "deleted; waiting for the pod to terminate", ""
            return delete
        eviction = {"apiVersion": self.plan.eviction_version or "policy/v1", "kind": "Eviction",
                    "metadata": {"name": name, "namespace": namespace}}
        if delete_options:
            eviction["deleteOptions"] = delete_options

        def evict() -> _StepOutcome:
            try:
                caller.request("POST", f"{_pod_path(namespace, name)}/eviction", body=eviction)
            except OperationError as error:
                return _write_failure(error)
            return "accepted", "evicted; waiting for the pod to terminate", ""
        return evict

    def _check_step(self, tracked: _Tracked) -> Callable[[], _StepOutcome]:
        """One GET: is ``tracked`` gone (404, or a new pod with another UID)?"""
        namespace, name, uid = tracked.namespace, tracked.name, tracked.uid
        caller = self._caller

        def check() -> _StepOutcome:
            try:
                pod = caller.get(_pod_path(namespace, name))
            except OperationError as error:
                if error.kind == NOT_FOUND:
                    return "gone", "gone", ""
                if _transient(error):
                    return "retry", f"cannot check the pod: {error.message}", ""
                return "failed", f"cannot check whether the pod is gone: {error.message}", ""
            if uid and _mapping(pod.get("metadata")).get("uid") != uid:
                return "gone", "gone (a new pod with the same name replaced it)", ""
            return "present", "", ""
        return check

    # ------------------------------------------------------------------------------ reporting
    def _update(self, tracked: _Tracked, state: PodState, message: str) -> None:
        with self._lock:
            tracked.state, tracked.message = state, message
        self._emit(tracked)

    def _emit(self, tracked: _Tracked) -> None:
        if self._on_progress is None:
            return
        with self._lock:
            snapshot = tracked.snapshot()
        try:
            self._on_progress(snapshot)
        except Exception:  # the listener's failure must not stop the drain
            log.exception("drain progress listener failed")

    def _result(self, started: float, drained: bool, cordoned: bool, message: str, *,
                cancelled: bool = False, timed_out: bool = False) -> DrainResult:
        return DrainResult(drained=drained, node_cordoned=cordoned, pods=tuple(self.progress()), message=message,
                           cancelled=cancelled, timed_out=timed_out, skipped=self._skipped,
                           elapsed_seconds=time.monotonic() - started)

    def _verdict(self, started: float, stop: str | None) -> DrainResult:
        pods = self.progress()
        gone = sum(1 for pod in pods if pod.state == PodState.GONE)
        failed = [pod for pod in pods if pod.state == PodState.FAILED]
        remaining = [pod for pod in pods if pod.state != PodState.GONE]
        node = self.node
        if stop is None and not remaining:
            left = f", {len(self._skipped)} left in place" if self._skipped else ""
            return self._result(started, True, True, f"node {node} drained: {_plural(gone, 'pod')} gone{left}")
        details = []
        for pod in remaining[:5]:
            detail = f"{pod.key} {pod.state}"
            if pod.retries:
                detail += f" after {_plural(pod.retries, 'refusal')}"
            if pod.message:
                detail += f": {pod.message}"
            details.append(detail)
        if len(remaining) > 5:
            details.append(f"and {len(remaining) - 5} more")
        still = f"{_plural(len(remaining), 'pod')} not gone"
        if stop == "cancelled":
            head = f"node {node} not drained: cancelled; {still}"
        elif stop == "timeout":
            head = f"node {node} not drained: timed out after {self.options.timeout_seconds:g} s; {still}"
        else:
            head = f"node {node} not drained: {_plural(len(failed), 'pod')} failed"
        return self._result(started, False, True, f"{head} ({'; '.join(details)}); the node stays cordoned",
                            cancelled=stop == "cancelled", timed_out=stop == "timeout")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _transient(error: OperationError) -> bool:
    return error.kind in (TIMEOUT, UNREACHABLE) or error.status in (429, 502, 503, 504)


def _write_failure(error: OperationError) -> _StepOutcome:
    """What a refused eviction (or deletion) means: gone, blocked by a PDB, retry later, or failed."""
    if error.kind == NOT_FOUND:
        return "gone", "gone", ""
    if error.kind == CONFLICT:
        return "gone", "gone (a new pod with the same name replaced it)", ""
    if error.status == 429:
        for cause in error.causes:
            cause_message = clean_message(str(cause.get("message") or ""))
            if cause.get("reason") == "DisruptionBudget" or "disruption budget" in cause_message.lower():
                match = _PDB_NAME_RE.search(cause_message)
                return "blocked", cause_message or error.message, match.group(1) if match else ""
        if "disruption budget" in error.message.lower():
            return "blocked", error.message, ""
        return "throttled", f"the server asked to retry later: {error.message}", ""
    if error.kind == FORBIDDEN and "being terminated" in error.message:
        return "throttled", f"the namespace is being deleted: {error.message}", ""
    if _transient(error):
        return "retry", error.message, ""
    return "failed", error.message, ""


# =============================================================================================
# One context's operations, guarded and audited


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one operation over one or more nodes.

    ``audit_error`` is set when the operation ran but its audit line could not be written.
    """

    action: str
    outcomes: tuple[NodeOutcome, ...]
    audit_error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every node succeeded."""
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def failed(self) -> list[NodeOutcome]:
        """The nodes that failed."""
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def message(self) -> str:
        """One line: how many nodes changed, were already as asked, or failed (with the first reason)."""
        changed = sum(1 for outcome in self.outcomes if outcome.ok and outcome.changed)
        unchanged = sum(1 for outcome in self.outcomes if outcome.ok and not outcome.changed)
        parts = [f"{self.action}: {changed} of {len(self.outcomes)} node{'s' if len(self.outcomes) != 1 else ''} changed"]
        if unchanged:
            parts.append(f"{unchanged} already as asked")
        if self.failed:
            first = self.failed[0]
            parts.append(f"{len(self.failed)} failed ({first.node}: {first.summary})")
        return "; ".join(parts)


def _outcome_text(outcomes: Sequence[NodeOutcome]) -> str:
    if all(outcome.ok for outcome in outcomes):
        return "ok"
    if any(outcome.ok for outcome in outcomes):
        return "partial"
    return "failed"


class NodeOperations:
    """Every node operation for one context, refused in read-only mode and written to the audit log.

    ``user`` is the kubeconfig user entry name (see ``config.describe_user``): it goes into the
    cordon annotations and the audit log, never a credential. With ``read_only`` every write
    method raises :class:`ReadOnlyError` before any request is sent, and ``permissions()``
    reports every action unavailable without asking the server (an access review is a POST).
    The preflight ``plan_drain`` only reads, so it works read-only, as a dry run.
    """

    def __init__(self, api: k8s_client.ApiClient, context: str, user: str, audit: AuditLog | None = None, *,
                 read_only: bool = False, request_timeout: RequestTimeout = DEFAULT_REQUEST_TIMEOUT,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self._caller = ApiCaller(api, read_only=read_only, request_timeout=request_timeout)
        self.context = context
        self.user = user
        self.audit = audit
        self._clock = clock

    @property
    def read_only(self) -> bool:
        """Whether writes are refused."""
        return self._caller.read_only

    def permissions(self) -> dict[str, AccessDecision]:
        """What the user may do on nodes (see :func:`node_permissions`)."""
        return node_permissions(self._caller)

    def cordon(self, nodes: str | Sequence[str], *, reason: str | None = None) -> BatchResult:
        """Cordon each node, with an optional reason (see :func:`cordon`)."""
        self._caller.require_write()
        names = _names(nodes)
        outcomes = cordon_nodes(self._caller, names, reason=reason, user=self.user, now=self._clock())
        return self._audited("cordon", names, {"reason": _clean_reason(reason)}, outcomes)

    def uncordon(self, nodes: str | Sequence[str]) -> BatchResult:
        """Uncordon each node (see :func:`uncordon`)."""
        self._caller.require_write()
        names = _names(nodes)
        return self._audited("uncordon", names, {}, uncordon_nodes(self._caller, names))

    def label(self, nodes: str | Sequence[str], changes: str | Mapping[str, str | None]) -> BatchResult:
        """Apply label changes (text as :func:`parse_label_changes` takes it, or parsed) to each node."""
        self._caller.require_write()
        parsed = parse_label_changes(changes) if isinstance(changes, str) else dict(changes)
        names = _names(nodes)
        return self._audited("label", names, {"changes": parsed}, label_nodes(self._caller, names, parsed))

    def taint(self, nodes: str | Sequence[str], changes: str | None = None, *, add: Sequence[Taint] = (),
              remove: Sequence[tuple[str, str | None]] = ()) -> BatchResult:
        """Apply taint changes (text as :func:`parse_taint_changes` takes it, or ``add``/``remove``) to each node."""
        self._caller.require_write()
        if changes is not None:
            add, remove = parse_taint_changes(changes)
        names = _names(nodes)
        parameters = {"add": [str(taint) for taint in add],
                      "remove": [f"{key}:{effect}" if effect else key for key, effect in remove]}
        outcomes = taint_nodes(self._caller, names, list(add), list(remove), now=self._clock())
        return self._audited("taint", names, parameters, outcomes)

    def plan_drain(self, node: str, options: DrainOptions | None = None) -> DrainPlan:
        """The drain preflight (reads only; allowed read-only)."""
        return plan_drain(self._caller, node, options)

    def drain(self, node: str, plan: DrainPlan, options: DrainOptions | None = None,
              on_progress: Callable[[PodProgress], None] | None = None, *, reason: str | None = None) -> Drain:
        """A :class:`Drain` ready to ``run()``; its result is written to the audit log when it ends."""
        self._caller.require_write()
        return _AuditedDrain(self, self._caller, node, plan, options, on_progress, user=self.user,
                             reason=reason, clock=self._clock)

    def _audited(self, action: str, nodes: list[str], parameters: Mapping[str, Any],
                 outcomes: list[NodeOutcome]) -> BatchResult:
        error = self._record(action=action, nodes=nodes, parameters=parameters, outcome=_outcome_text(outcomes),
                             results=[outcome.as_record() for outcome in outcomes])
        return BatchResult(action, tuple(outcomes), error)

    def _record(self, **entry: Any) -> str | None:
        """Write one audit line; returns the error message instead of raising."""
        if self.audit is None:
            return None
        try:
            self.audit.record(context=self.context, user=self.user, **entry)
        except AuditError as error:
            log.warning("%s", error.message)
            return error.message
        return None


class _AuditedDrain(Drain):
    """A Drain whose result is recorded in its NodeOperations' audit log."""

    def __init__(self, operations: NodeOperations, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._operations = operations

    def run(self) -> DrainResult:
        """Run the drain, then write its audit line (time, node, options, verdict, per-pod results)."""
        result = super().run()
        outcome = "drained" if result.drained else (
            "cancelled" if result.cancelled else "timed out" if result.timed_out else "not drained")
        parameters = self.options.as_parameters()
        if self._reason:
            parameters["reason"] = self._reason
        error = self._operations._record(
            action="drain", nodes=[self.node], parameters=parameters,
            outcome=f"{outcome}: {result.message}", pods=[pod.as_record() for pod in result.pods],
        )
        return replace(result, audit_error=error) if error else result


def _names(nodes: str | Sequence[str]) -> list[str]:
    names = [nodes] if isinstance(nodes, str) else list(nodes)
    if not names:
        raise OperationInputError("no node selected")
    return names
