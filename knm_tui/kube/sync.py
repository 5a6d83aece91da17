"""Keeping every context's node cache complete and live: LIST once, then WATCH, forever.

One ``ClusterSync`` per kubeconfig context owns two ``Reflector`` threads built from the same
class, in the style of client-go's reflector: one for ``/api/v1/nodes`` (projected to
``NodeView``) and one for the ``kube-node-lease`` Leases (projected to ``LeaseView``), started
once the nodes are primed. ``Fleet`` runs the ``ClusterSync`` of every selected context.

How a reflector works:

- **Prime.** A paginated LIST (``limit=500``) read as raw bytes through the context's
  ``ApiClient`` (no client models), each page parsed with orjson, projected item by item
  and dropped. A malformed item is logged and skipped. When the last page arrives the cache is
  replaced atomically and the sync logs ``Initialized node cache with N nodes for cluster X in
  T ms``. A 410 on a continue token restarts the LIST from the beginning.
- **Watch.** From the LIST's resourceVersion with ``allowWatchBookmarks=true`` and a server-side
  ``timeoutSeconds`` drawn with jitter (240–360 s by default). The stream is read incrementally
  and split into lines; every ADDED/MODIFIED/DELETED/BOOKMARK moves the last seen
  resourceVersion, and every close (timeout or dropped connection) resumes from it.
- **410 Gone** (an ERROR event or an HTTP 410): relist and reconcile. The cache is replaced by
  the new list, so nodes absent from it disappear and none is duplicated; the feed gets a
  *reset* batch (the consumer rebuilds that context from ``NodeCache``).
- **Connection errors, timeouts, 429 and 5xx**: exponential backoff with jitter (0.5 s doubling
  to a 30 s cap), cache kept. A primed cluster goes RECONNECTING, then STALE after 3 failed
  attempts or 15 s, with ``since`` set to when the connection was lost; a cluster that never
  primed is ERROR (``unreachable``/``timeout``/``tls``/``server``) with ``next_retry_at``.
  Recovery resumes the watch from the last resourceVersion, or relists when that has expired.
- **401/403** put the cluster in ERROR (``auth``/``forbidden``) with the server's message and
  retry every 60 s; after a 401 the ``ApiClient`` is rebuilt from the kubeconfig, so refreshed
  credentials (exec plugins, token files) are picked up.
- Every request has a connect and a read timeout (a watch's read timeout is its
  ``timeoutSeconds`` plus a margin), so a stalled server cannot hang a worker; ``stop()`` shuts
  the open response's socket down, so a thread blocked in a read ends at once. Only a request
  still waiting for its response headers runs until its read timeout.
- Every state transition is logged on ``knm_tui.kube.sync`` with the context name. URLs with
  query strings and request headers are never logged; failure messages are built from the
  error type, and bearer tokens are scrubbed from server messages.

Node MODIFIED events that change nothing a ``NodeView`` holds apart from its resourceVersion
update the cache but are not published to the feed. An event reaches the feed just before the
cache (and a status change just before ``status()``), so whoever sees a change there finds it
in the feed too; after a LIST the cache is replaced first and the reset published next.

Leases: watched with the same reflector, not polled — decided by measurement. 5,000 node
leases renewed every 10 s (500 lease events/s) by a simulator in a separate process, client
CPU (``time.process_time``) over 20 s on this 2-core machine:

- watch, reading every event as it arrives: 1.50 s (7.5 % of a core) — one thread wake-up per
  event costs far more than parsing it (about 16 µs for ``json.loads`` plus projection);
- watch, coalesced (after a read that had to wait, pause 1 s so renewals gather in the socket
  buffer): 0.27–0.33 s (1.3–1.6 % of a core), renew times at most about 1 s old;
- polling a full paginated LIST of the 5,000 leases every 10 s: 0.19–0.23 s (1.0–1.2 % of a
  core), renew times up to 10 s old.

Polling costs about a quarter to a third less client CPU, but it would cover only the visible
cluster (the others would have no lease data), it costs the apiserver a 5,000-object LIST
every 10 s per user, and it needs a second code path; the coalesced watch keeps every
cluster's leases within a second for about half a percent of a core more. So leases are watched, coalesced by
``SyncSettings.lease_watch_coalesce_seconds`` (node watches use a shorter pause). Leases
forbidden (403) or not served (404) set ``leases_available=False`` and are retried every
10 minutes; node sync is unaffected.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import operator
import random
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Generic, Iterator, Mapping, Protocol, Sequence, TypeVar
from urllib.parse import urlsplit

import urllib3
from kubernetes import client as k8s_client
from kubernetes.client import rest as k8s_rest
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from knm_tui.kube.cache import ChangeFeed, ClusterStatus, NodeCache, SyncState
from knm_tui.kube.config import ContextError, ContextTarget, Kubeconfig, build_targets, make_api_client
from knm_tui.kube.gcpause import collector_paused
from knm_tui.kube.jsonparse import parse_json
from knm_tui.kube.leaseview import NODE_LEASE_NAMESPACE, LeaseView, project_lease
from knm_tui.kube.nodeview import NodeView, drop_node_images, project_node

log = logging.getLogger(__name__)

NODES_PATH = "/api/v1/nodes"
NODE_LEASES_PATH = f"/apis/coordination.k8s.io/v1/namespaces/{NODE_LEASE_NAMESPACE}/leases"
JSON_ACCEPT = "application/json"

STREAM_READ_BYTES = 1 << 16
BLOCKED_READ_SECONDS = 0.002  # a watch read that took longer than this waited for the server
MAX_ERROR_BODY_BYTES = 1 << 16
MAX_LIST_RESTARTS = 3
MAX_MESSAGE_LENGTH = 300

FAILURE_AUTH = "auth"
FAILURE_FORBIDDEN = "forbidden"
FAILURE_UNREACHABLE = "unreachable"
FAILURE_TIMEOUT = "timeout"
FAILURE_TLS = "tls"
FAILURE_CONFIG = "config"
FAILURE_SERVER = "server"
FAILURE_EXPIRED = "expired"  # 410 Gone: relist, not an error the UI sees
CREDENTIAL_FAILURES = frozenset({FAILURE_AUTH, FAILURE_FORBIDDEN, FAILURE_CONFIG})

T = TypeVar("T")


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SyncSettings:
    """Timeouts, backoff and limits of the sync workers (tests shrink them)."""

    page_size: int = 500
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # LIST and other short requests: longest silence between bytes
    watch_timeout_range: tuple[int, int] = (240, 360)  # server-side timeoutSeconds, drawn per watch
    watch_read_margin: float = 15.0  # a watch's read timeout is its timeoutSeconds plus this
    min_watch_seconds: float = 1.0  # a watch closed sooner with no event counts as a failure
    node_watch_coalesce_seconds: float = 0.1  # pause after an idle read, so trickling events batch up
    lease_watch_coalesce_seconds: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.2  # each delay is scaled by a random factor in [1 - j, 1 + j]
    auth_retry_seconds: float = 60.0  # after 401/403/broken credentials
    lease_retry_seconds: float = 600.0  # after leases are forbidden or not served
    stale_after_failures: int = 3
    stale_after_seconds: float = 15.0
    max_concurrent_lists: int = 8  # LISTs in flight across the fleet (bounded parallel priming)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The delay before retry number ``attempt`` (1-based), with jitter, at most ``backoff_max``."""
        base = self.backoff_initial * 2 ** min(max(attempt - 1, 0), 30)
        jittered = min(base, self.backoff_max) * rng.uniform(1 - self.backoff_jitter, 1 + self.backoff_jitter)
        return max(0.0, min(self.backoff_max, jittered))


# ---------------------------------------------------------------------------------------------
# Raw requests and failures


class ApiStatusError(Exception):
    """The server answered with a non-2xx status; ``message`` is its ``Status`` message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class MalformedResponseError(Exception):
    """The server's answer could not be read as the JSON it should be."""


class ServerBehaviourError(Exception):
    """The server answered, but not in a way a sync can go on from (the message says how)."""


@dataclass(frozen=True)
class SyncFailure:
    """A failed request, classified: ``kind`` is one of the FAILURE_* names; ``message`` one line."""

    kind: str
    message: str
    status: int | None = None


def configure_retries(api_client: k8s_client.ApiClient) -> k8s_client.ApiClient:
    """Limit the client's own retries to one read retry and no connect retry; returns the client.

    urllib3 retries a failed GET three times by default, which would multiply every read
    timeout by four and hammer a dead server; the sync workers do their own backoff. The one
    read retry covers a pooled keep-alive connection the server closed while idle. The REST
    client is rebuilt because urllib3 reads the retry policy when its pool manager is created.
    """
    api_client.configuration.retries = urllib3.Retry(
        total=1, connect=0, read=1, status=0, redirect=0, other=0, raise_on_status=False
    )
    api_client.rest_client = k8s_rest.RESTClientObject(api_client.configuration)
    return api_client


def open_raw(
    api_client: k8s_client.ApiClient,
    path: str,
    query: Sequence[tuple[str, str]],
    timeout: tuple[float, float],
) -> urllib3.BaseHTTPResponse:
    """GET ``path`` through ``api_client`` (its auth, TLS and pool) and return the unread response.

    The caller owns the response and must ``close()`` or fully read it. A non-2xx answer raises
    :class:`ApiStatusError` carrying the server's ``Status`` message.
    """
    method, url, headers, body, post_params = api_client.param_serialize(
        method="GET",
        resource_path=path,
        query_params=list(query),
        header_params={"Accept": JSON_ACCEPT},
        auth_settings=["BearerToken"],
    )
    rest_response = api_client.call_api(
        method, url, header_params=headers, body=body, post_params=post_params, _request_timeout=timeout
    )
    response = rest_response.response
    if 200 <= response.status < 300:
        return response
    try:
        data = response.read(MAX_ERROR_BODY_BYTES)
    except Exception:  # the body of an error is a courtesy; the status says enough
        data = b""
    finally:
        response.close()
    raise status_error(response.status, response.reason or "", data)


def status_error(status: int, reason: str, body: bytes) -> ApiStatusError:
    """An :class:`ApiStatusError` from an HTTP status and its (possibly ``Status``) body."""
    message = ""
    status_reason = ""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("message") if isinstance(parsed.get("message"), str) else ""
        status_reason = parsed.get("reason") if isinstance(parsed.get("reason"), str) else ""
    return ApiStatusError(status, status_reason or reason, message or reason or f"HTTP {status}")


def close_connections(api_client: k8s_client.ApiClient) -> None:
    """Close the client's pooled keep-alive connections now; one still in use closes when released.

    urllib3 2's ``PoolManager.clear()`` only forgets its pools: their sockets stay open until the
    pools are garbage-collected, which anything holding an exception that names a pool (a log
    record, a traceback) postpones indefinitely.
    """
    manager = api_client.rest_client.pool_manager
    for key in list(manager.pools.keys()):
        pool = manager.pools.get(key)
        if pool is not None:
            pool.close()
    manager.clear()


def read_body(response: urllib3.BaseHTTPResponse) -> bytes:
    """The whole body of ``response``; the connection goes back to the pool, or is closed on error."""
    try:
        data = response.read()
    except BaseException:
        response.close()
        raise
    response.release_conn()
    return data


_BEARER_PATTERN = re.compile(r"(?i)\b(bearer|basic)\s+\S+")
_QUERY_PATTERN = re.compile(r"(/[^\s?'\"]*)\?[^\s'\")]*")
_JWT_PATTERN = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def clean_message(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` on one line, shortened, without ``secrets``, token-like strings or URL query strings."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _BEARER_PATTERN.sub(lambda match: f"{match.group(1)} ***", text)
    text = _JWT_PATTERN.sub("***", text)
    text = _QUERY_PATTERN.sub(r"\1", text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[: MAX_MESSAGE_LENGTH - 1] + "…"
    return text


def _connection_message(text: str) -> str:
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "connection timed out"
    if any(marker in lowered for marker in ("name or service not known", "nodename nor servname",
                                            "name resolution", "getaddrinfo")):
        return "cannot resolve the server's host name"
    if "unreachable" in lowered:
        return "network unreachable"
    if "reset" in lowered:
        return "connection reset"
    return "cannot connect"


def describe_failure(error: BaseException, secrets: Sequence[str] = ()) -> SyncFailure:
    """Classify a request failure; the message never contains URLs, headers or ``secrets``."""
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        return describe_failure(error.reason, secrets)
    if isinstance(error, ApiStatusError):
        text = clean_message(error.message, secrets) or f"HTTP {error.status}"
        if error.status == 401:
            return SyncFailure(FAILURE_AUTH, text, 401)
        if error.status == 403:
            return SyncFailure(FAILURE_FORBIDDEN, text, 403)
        if error.status == 410:
            return SyncFailure(FAILURE_EXPIRED, text, 410)
        return SyncFailure(FAILURE_SERVER, f"HTTP {error.status} {error.reason}: {text}", error.status)
    if isinstance(error, (ContextError, ConfigException)):
        text = error.message if isinstance(error, ContextError) else str(error)
        return SyncFailure(FAILURE_CONFIG, clean_message(text, secrets) or "credentials cannot be loaded")
    if isinstance(error, ApiException):  # the client wraps some TLS failures as status 0
        text = str(error.reason or "")
        if "SSL" in text:
            return SyncFailure(FAILURE_TLS, _tls_message(text))
        return SyncFailure(FAILURE_SERVER, clean_message(text, secrets) or "request failed")
    if isinstance(error, urllib3.exceptions.SSLError):
        return SyncFailure(FAILURE_TLS, _tls_message(str(error)))
    if isinstance(error, urllib3.exceptions.NewConnectionError):  # a subclass of ConnectTimeoutError
        return SyncFailure(FAILURE_UNREACHABLE, _connection_message(str(error)))
    if isinstance(error, urllib3.exceptions.ConnectTimeoutError):
        return SyncFailure(FAILURE_UNREACHABLE, "connection timed out")
    if isinstance(error, urllib3.exceptions.ReadTimeoutError):
        return SyncFailure(FAILURE_TIMEOUT, "timed out waiting for the server")
    if isinstance(error, urllib3.exceptions.ProtocolError):
        return SyncFailure(FAILURE_UNREACHABLE, f"connection lost ({_connection_message(str(error))})"
                           if "reset" in str(error).lower() else "connection lost")
    if isinstance(error, TimeoutError):
        return SyncFailure(FAILURE_TIMEOUT, "timed out waiting for the server")
    if isinstance(error, ServerBehaviourError):
        return SyncFailure(FAILURE_SERVER, clean_message(str(error), secrets))
    if isinstance(error, (MalformedResponseError, ValueError)):
        return SyncFailure(FAILURE_SERVER, f"malformed response: {clean_message(str(error), secrets)}")
    if isinstance(error, urllib3.exceptions.HTTPError):
        return SyncFailure(FAILURE_UNREACHABLE, _connection_message(str(error)))
    if isinstance(error, OSError):
        return SyncFailure(FAILURE_UNREACHABLE, _connection_message(error.strerror or str(error)))
    return SyncFailure(FAILURE_SERVER, clean_message(f"{type(error).__name__}: {error}", secrets))


_SSL_DETAIL = re.compile(r"\[SSL(?:: [A-Z_]+)?\] ([^()'\"]+?)\s*(?:\(_ssl\.c:\d+\))")


def _tls_message(text: str) -> str:
    """"TLS error: <what OpenSSL said>" from an exception text, leaving out URLs and hosts."""
    match = _SSL_DETAIL.search(text)
    return f"TLS error: {match.group(1).strip()}" if match else "TLS error: handshake failed"


# ---------------------------------------------------------------------------------------------
# The reflector


class ReflectorHandler(Protocol[T]):
    """What a reflector reports to its owner; every call comes from the reflector's thread."""

    def on_list_request(self) -> None:
        """A LIST is about to be sent (its first page)."""

    def on_listing(self) -> None:
        """A LIST has been answered (its first page arrived)."""

    def on_replace(self, objects: dict[str, T], resource_version: str, elapsed: float) -> None:
        """A complete LIST: ``objects`` by key replace everything known."""

    def on_upsert(self, obj: T) -> None:
        """An object was added or modified."""

    def on_delete(self, key: str) -> None:
        """An object was deleted."""

    def on_watching(self, resource_version: str) -> None:
        """A watch stream is open from ``resource_version``."""

    def on_failure(self, failure: SyncFailure, attempt: int) -> float:
        """A request failed (``attempt`` failures in a row); returns seconds to wait before retrying."""


class _Expired(Exception):
    """The watch's resourceVersion is too old (410): relist."""


class _Stopped(Exception):
    """The reflector was asked to stop."""


class _PageFetchStopped(Exception):
    """The sync was asked to stop while waiting for a page."""


class _PageFetch:
    """Fetches one LIST page on a daemon thread; ``result`` waits for it (or for a stop)."""

    def __init__(self, fetch: Callable[[str], bytes], token: str, label: str) -> None:
        self._done = threading.Event()
        self._body: bytes = b""
        self._error: BaseException | None = None
        thread = threading.Thread(target=self._run, args=(fetch, token), name=f"{label}-next-page", daemon=True)
        thread.start()

    def _run(self, fetch: Callable[[str], bytes], token: str) -> None:
        try:
            self._body = fetch(token)
        except BaseException as error:  # handed to the waiting list loop
            self._error = error
        finally:
            self._done.set()

    def result(self, stop: threading.Event) -> bytes:
        """The page body; re-raises the fetch's error; raises _PageFetchStopped on stop."""
        while not self._done.wait(0.2):
            if stop.is_set():
                raise _PageFetchStopped
        if self._error is not None:
            raise self._error
        return self._body


_PEEK_BYTES = 4096


def peek_continue_token(body: bytes) -> str:
    """The continue token of a LIST page, read from its head without parsing the whole page.

    Servers write ``kind``, ``apiVersion`` and ``metadata`` before ``items``, and list metadata
    holds no nested object. "" when the head does not look like that (the full parse decides then).
    """
    head = body[:_PEEK_BYTES]
    at = head.find(b'"metadata":{')
    end = head.find(b"}", at) if at >= 0 else -1
    if end < 0:
        return ""
    try:
        metadata = json.loads(head[at + len(b'"metadata":'):end + 1])
    except ValueError:
        return ""
    token = metadata.get("continue") if isinstance(metadata, dict) else None
    return token if isinstance(token, str) else ""


def _resource_version(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    value = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else ""


def _object_name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name) if isinstance(name, (str, int)) and not isinstance(name, bool) and name != "" else ""


class Reflector(Generic[T]):
    """LIST then WATCH one collection, keeping its owner's copy complete (client-go style).

    ``path`` is the collection URL path, ``project`` turns one JSON object into ``T`` (it may
    raise for an unusable object, which is then skipped), ``key`` gives the key of a projected
    object (equal to the object's ``metadata.name``). Requests go through ``client()``, called
    for every request, so the owner can swap the ``ApiClient``. With ``coalesce_seconds`` the
    watch pauses that long after a read that had to wait, so a steady trickle of events is read
    in batches (one wake-up per pause) at the cost of at most that much latency. ``trim``, when
    given, removes parts ``project`` never reads from raw JSON (a page or an event) before it is
    parsed; when the trimmed text does not parse, the original is parsed instead.
    """

    def __init__(
        self,
        *,
        label: str,
        path: str,
        project: Callable[[dict], T],
        key: Callable[[T], str],
        handler: ReflectorHandler[T],
        client: Callable[[], k8s_client.ApiClient],
        settings: SyncSettings,
        stop: threading.Event,
        list_slots: threading.Semaphore | None = None,
        rng: random.Random | None = None,
        coalesce_seconds: float = 0.0,
        trim: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.label = label
        self.path = path
        self._project = project
        self._key = key
        self._handler = handler
        self._client = client
        self._settings = settings
        self._stop = stop
        self._list_slots = list_slots
        self._coalesce_seconds = coalesce_seconds
        self._trim = trim
        self._rng = rng or random.Random()
        self._response_lock = threading.Lock()
        self._response: urllib3.BaseHTTPResponse | None = None
        self.resource_version = ""
        self.secrets: Callable[[], Sequence[str]] = lambda: ()
        self._watch_events = 0  # events received by the current watch

    # ------------------------------------------------------------------ control
    def interrupt(self) -> None:
        """Shut the open response's socket down so a blocked read returns now (used by stop)."""
        with self._response_lock:
            response = self._response
        if response is None:
            return
        try:
            response.shutdown()
        except (ValueError, RuntimeError, OSError, AttributeError):
            pass

    def run(self) -> None:
        """List and watch until the stop event is set; never raises."""
        attempt = 0
        expired_in_a_row = 0
        while not self._stop.is_set():
            self._watch_events = 0
            try:
                if not self.resource_version:
                    self.resource_version = self._list()
                    attempt = 0
                events, elapsed = self._watch()
                if events or elapsed >= self._settings.min_watch_seconds:
                    attempt = expired_in_a_row = 0
                else:
                    raise ServerBehaviourError("the server closed the watch at once")
            except _Stopped:
                break
            except _Expired as expired:
                expired_in_a_row = 0 if self._watch_events else expired_in_a_row + 1
                self._relist_after_expiry(str(expired), expired_in_a_row)
            except Exception as error:  # every failure is classified and retried
                if self._stop.is_set():
                    break
                failure = describe_failure(error, self.secrets())
                if failure.kind == FAILURE_EXPIRED:
                    expired_in_a_row += 1
                    self._relist_after_expiry(failure.message, expired_in_a_row)
                    continue
                if self._watch_events:
                    attempt = 0  # the watch that failed had been working: start the backoff over
                attempt += 1
                log.debug("%s: request failed (%s: %s), attempt %d",
                          self.label, failure.kind, failure.message, attempt)
                delay = self._handler.on_failure(failure, attempt)
                self._stop.wait(delay)

    def _relist_after_expiry(self, message: str, in_a_row: int) -> None:
        """Forget the resourceVersion so the next round relists; back off if expiries repeat."""
        log.info("%s: resourceVersion %s expired (%s); relisting", self.label, self.resource_version, message)
        self.resource_version = ""
        if in_a_row > 1:
            self._stop.wait(self._settings.backoff(in_a_row - 1, self._rng))

    # ------------------------------------------------------------------ requests
    def _open(self, query: Sequence[tuple[str, str]], read_timeout: float) -> urllib3.BaseHTTPResponse:
        if self._stop.is_set():
            raise _Stopped
        response = open_raw(self._client(), self.path, query,
                            (self._settings.connect_timeout, read_timeout))
        with self._response_lock:
            self._response = response
        if self._stop.is_set():
            self._forget(response)
            raise _Stopped
        return response

    def _forget(self, response: urllib3.BaseHTTPResponse) -> None:
        with self._response_lock:
            if self._response is response:
                self._response = None
        response.close()

    @contextmanager
    def _list_slot(self) -> Iterator[None]:
        slots = self._list_slots
        if slots is None:
            yield
            return
        while not slots.acquire(timeout=0.2):
            if self._stop.is_set():
                raise _Stopped
        try:
            yield
        finally:
            slots.release()

    # ------------------------------------------------------------------ LIST
    def _list(self) -> str:
        """A complete paginated LIST handed to the handler; returns its resourceVersion."""
        for _ in range(MAX_LIST_RESTARTS + 1):
            with self._list_slot():
                result = self._list_once()
            if result is not None:
                return result
        raise ServerBehaviourError("the list kept expiring between pages")

    def _list_once(self) -> str | None:
        """One paginated LIST; ``None`` when a continue token expired and the LIST must restart.

        While one page is parsed and projected, the next page is already being fetched on a helper
        thread (socket reads release the GIL), so the work hides behind the network: the continue
        token is read from the page's metadata, which servers write before the items.
        """
        started = time.monotonic()
        objects: dict[str, T] = {}
        token = ""
        next_page: _PageFetch | None = None
        announced = False
        self._handler.on_list_request()
        while True:
            try:
                body = next_page.result(self._stop) if next_page else self._fetch_page(token)
            except ApiStatusError as error:
                if error.status == 410 and token:
                    log.info("%s: continue token expired; restarting the list", self.label)
                    return None
                raise
            except _PageFetchStopped:
                raise _Stopped from None
            if not announced:
                self._handler.on_listing()
                announced = True
            early_token = peek_continue_token(body)
            next_page = _PageFetch(self._fetch_page, early_token, self.label) if early_token else None
            with collector_paused():
                page = self._parse_page(body)
                del body
                metadata = page.get("metadata") if isinstance(page.get("metadata"), dict) else {}
                resource_version = metadata.get("resourceVersion")
                token = metadata.get("continue") or ""
                if not isinstance(token, str):
                    raise MalformedResponseError("list continue token is not a string")
                if token != early_token:  # the page did not start with its metadata
                    next_page = _PageFetch(self._fetch_page, token, self.label) if token else None
                items = page.get("items")
                for item in items if isinstance(items, list) else ():
                    view = self._project_or_skip(item)
                    if view is not None:
                        objects[self._key(view)] = view
                del page, items
            if not token:
                if not isinstance(resource_version, str) or not resource_version:
                    raise MalformedResponseError("list has no resourceVersion")
                if self._stop.is_set():
                    raise _Stopped
                self._handler.on_replace(objects, resource_version, time.monotonic() - started)
                return resource_version

    def _loads(self, raw: bytes) -> Any:
        """``raw`` parsed (see :func:`parse_json`), trimmed first when the owner asked; the
        original decides when the trimmed text does not parse."""
        if self._trim is not None:
            try:
                return parse_json(self._trim(raw))
            except ValueError:
                pass
        return parse_json(raw)

    def _parse_page(self, body: bytes) -> dict:
        """One LIST page as a dict (trimmed first when the owner asked for it)."""
        try:
            page = self._loads(body)
        except ValueError as error:
            raise MalformedResponseError(f"list page is not JSON ({error.msg})") from None
        if not isinstance(page, dict):
            raise MalformedResponseError("list page is not a JSON object")
        return page

    def _fetch_page(self, token: str) -> bytes:
        """The raw body of one LIST page."""
        query = [("limit", str(self._settings.page_size))]
        if token:
            query.append(("continue", token))
        response = self._open(query, self._settings.read_timeout)
        try:
            return read_body(response)
        finally:
            self._forget(response)

    def _project_or_skip(self, obj: object) -> T | None:
        try:
            return self._project(obj)  # type: ignore[arg-type]
        except Exception as error:  # one bad object never stops the sync
            log.warning("%s: skipping an object that cannot be read: %s", self.label, error)
            return None

    # ------------------------------------------------------------------ WATCH
    def _watch(self) -> tuple[int, float]:
        """One watch from ``resource_version`` until the server closes it; returns (events, seconds)."""
        low, high = self._settings.watch_timeout_range
        timeout_seconds = max(1, round(self._rng.uniform(low, high)))
        query = [
            ("watch", "true"),
            ("resourceVersion", self.resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        response = self._open(query, timeout_seconds + self._settings.watch_read_margin)
        started = read_at = time.monotonic()
        coalesce = self._coalesce_seconds
        try:
            self._handler.on_watching(self.resource_version)
            partial = b""
            for chunk in _chunks(response):
                if self._stop.is_set():
                    raise _Stopped
                arrived_at = time.monotonic()
                lines = (partial + chunk).split(b"\n") if partial else chunk.split(b"\n")
                partial = lines.pop()
                self.apply_lines(lines)
                if coalesce and arrived_at - read_at > BLOCKED_READ_SECONDS:
                    # The read had to wait: the stream is idle between events. Let the next
                    # ones gather in the socket buffer instead of waking up for each of them.
                    self._stop.wait(coalesce)
                read_at = time.monotonic()
            self.apply_lines([partial])
        except urllib3.exceptions.HTTPError:
            if self._stop.is_set():
                raise _Stopped from None
            raise
        finally:
            self._forget(response)
        if self._stop.is_set():
            raise _Stopped
        return self._watch_events, time.monotonic() - started

    def apply_lines(self, lines: Sequence[bytes]) -> None:
        """Apply the complete watch event lines read in one go (blank lines are skipped).

        The cycle collector is paused meanwhile: each event allocates a few hundred short-lived
        objects, and collections triggered by them would walk the whole cache again and again.
        """
        with collector_paused():
            for line in lines:
                if line.strip():
                    self._apply(line)
                    self._watch_events += 1

    def _apply(self, line: bytes) -> None:
        """Apply one watch event line and move the resourceVersion on."""
        try:
            event = self._loads(line)
        except ValueError as error:
            raise MalformedResponseError(f"watch event is not JSON ({error.msg})") from None
        obj = event.get("object") if isinstance(event, dict) else None
        if not isinstance(obj, dict):
            raise MalformedResponseError("watch event has no object")
        event_type = event.get("type")
        if event_type == "ERROR":
            code = obj.get("code")
            message = obj.get("message") if isinstance(obj.get("message"), str) else ""
            if code == 410:
                raise _Expired(message or "410 Gone")
            reason = obj.get("reason") if isinstance(obj.get("reason"), str) else ""
            raise ApiStatusError(code if isinstance(code, int) else 500, reason or "Error",
                                 message or "watch error")
        if event_type in ("ADDED", "MODIFIED"):
            view = self._project_or_skip(obj)
            if view is not None:
                self._handler.on_upsert(view)
        elif event_type == "DELETED":
            name = _object_name(obj)
            if name:
                self._handler.on_delete(name)
        elif event_type != "BOOKMARK":
            log.debug("%s: ignoring a watch event of type %r", self.label, event_type)
        resource_version = _resource_version(obj)
        if resource_version:
            self.resource_version = resource_version


def _chunks(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """The body as it arrives: one chunk per server flush, or whatever bytes are ready."""
    if response.chunked:
        yield from response.stream(STREAM_READ_BYTES)
        return
    while True:
        data = response.read1(STREAM_READ_BYTES)
        if not data:
            return
        yield data


# ---------------------------------------------------------------------------------------------
# One context


_NODE_CONTENT_FIELDS = tuple(f.name for f in dataclasses.fields(NodeView) if f.name != "resource_version")
_node_content = operator.attrgetter(*_NODE_CONTENT_FIELDS)


def same_node_content(old: NodeView, new: NodeView) -> bool:
    """Whether two versions of a node differ in nothing but their resourceVersion."""
    return old is new or _node_content(old) == _node_content(new)


def redact_url(url: str) -> str:
    """``url`` without user information or query string (never credentials)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=host, query="", fragment="").geturl()


def _seconds_text(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))} s"


class ClusterSync:
    """The sync of one context: an ``ApiClient``, a node reflector, a lease reflector, a status."""

    def __init__(
        self,
        target: ContextTarget,
        kubeconfig: Kubeconfig,
        feed: ChangeFeed,
        *,
        settings: SyncSettings | None = None,
        watch_leases: bool = True,
        clock: Callable[[], datetime] = utc_now,
        list_slots: threading.Semaphore | None = None,
    ) -> None:
        self.context = target.name
        self.target = target
        self.cache = NodeCache()
        self._kubeconfig = kubeconfig
        self._feed = feed
        self._settings = settings or SyncSettings()
        self._watch_leases = watch_leases
        self._clock = clock
        self._rng = random.Random()
        self._stop = threading.Event()
        self._primed = threading.Event()
        self._status_lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._api_client: k8s_client.ApiClient | None = None
        self._renew_client = False
        self._lost_since: datetime | None = None
        self._live_message = ""
        self._leases_primed = False
        self._threads: list[threading.Thread] = []
        self._status = ClusterStatus(
            context=self.context,
            state=SyncState.CONNECTING,
            server=redact_url(target.server),
            node_count=0,
            ready_count=0,
            synced=False,
            message="connecting",
            since=clock(),
            insecure_tls=target.insecure_skip_tls_verify,
            leases_available=watch_leases,
        )
        if target.error:
            self._status = dataclasses.replace(
                self._status, state=SyncState.ERROR, error_kind=FAILURE_CONFIG,
                message=clean_message(target.error),
            )
        self._nodes = Reflector(
            label=f'cluster "{self.context}" nodes', path=NODES_PATH, project=self._project_node,
            key=operator.attrgetter("name"), handler=_NodeEvents(self), client=self._client,
            settings=self._settings, stop=self._stop, list_slots=list_slots, rng=self._rng,
            coalesce_seconds=self._settings.node_watch_coalesce_seconds, trim=drop_node_images,
        )
        self._leases = Reflector(
            label=f'cluster "{self.context}" leases', path=NODE_LEASES_PATH, project=project_lease,
            key=operator.attrgetter("node_name"), handler=_LeaseEvents(self), client=self._client,
            settings=self._settings, stop=self._stop, list_slots=None, rng=self._rng,
            coalesce_seconds=self._settings.lease_watch_coalesce_seconds,
        )
        self._nodes.secrets = self._leases.secrets = self._secrets

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Publish the first status and start the worker threads (none for a broken context)."""
        self._feed.publish_status(self.context, self._status)
        if self.target.error:
            log.warning('cluster "%s": %s -> %s (%s): %s', self.context, SyncState.CONNECTING.value,
                        SyncState.ERROR.value, FAILURE_CONFIG, self._status.message)
            return
        self._start_thread("nodes", self._run_nodes)
        if self._watch_leases:
            self._start_thread("leases", self._run_leases)

    def _start_thread(self, role: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"knm-sync-{self.context}-{role}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def request_stop(self) -> None:
        """Ask the threads to end and cut any open response; returns at once."""
        self._stop.set()
        self._primed.set()
        self._nodes.interrupt()
        self._leases.interrupt()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the threads; whether all ended."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def close(self) -> None:
        """Release the ``ApiClient``'s connections (after the threads have ended)."""
        with self._client_lock:
            client = self._api_client
        if client is not None:
            close_connections(client)

    @property
    def threads(self) -> list[threading.Thread]:
        """The worker threads started so far."""
        return list(self._threads)

    def status(self) -> ClusterStatus:
        """The current status."""
        return self._status

    @property
    def api_client(self) -> k8s_client.ApiClient | None:
        """The context's ``ApiClient`` once built; ``None`` before that or for a broken context."""
        return self._api_client

    # ------------------------------------------------------------------ threads
    def _run_nodes(self) -> None:
        try:
            self._nodes.run()
        except Exception as error:  # a bug must show as an error state, not a silent thread death
            log.exception('cluster "%s": node sync failed', self.context)
            self._set_status(SyncState.ERROR, error_kind=FAILURE_SERVER,
                             message=clean_message(f"internal error: {error}"))

    def _run_leases(self) -> None:
        self._primed.wait()
        if self._stop.is_set():
            return
        try:
            self._leases.run()
        except Exception:
            log.exception('cluster "%s": lease sync failed', self.context)
            self._set_leases_available(False, "internal error")

    def _client(self) -> k8s_client.ApiClient:
        """The ``ApiClient`` for the next request, built (or rebuilt after a 401) on demand."""
        with self._client_lock:
            if self._api_client is None or self._renew_client:
                self._renew_client = False
                replaced = self._api_client
                self._api_client = configure_retries(make_api_client(self._kubeconfig, self.context))
                if replaced is not None:
                    close_connections(replaced)
            return self._api_client

    def _secrets(self) -> Sequence[str]:
        client = self._api_client
        if client is None:
            return ()
        value = client.configuration.api_key.get("authorization") or client.configuration.api_key.get("BearerToken")
        if not isinstance(value, str):
            return ()
        return [value, value.split()[-1]] if value.split() else [value]

    # ------------------------------------------------------------------ status
    def _set_status(self, state: SyncState | None = None, *, log_change: bool = True, **changes: Any) -> None:
        """Replace the status with ``changes`` (counts refreshed), publish it and log a transition."""
        with self._status_lock:
            old = self._status
            new_state = state or old.state
            if new_state != old.state and "since" not in changes:
                changes["since"] = self._clock()
            if new_state not in (SyncState.ERROR, SyncState.RECONNECTING, SyncState.STALE):
                changes.setdefault("error_kind", None)
                changes.setdefault("next_retry_at", None)
            new = dataclasses.replace(
                old, state=new_state, node_count=len(self.cache), ready_count=self.cache.ready_count,
                resource_version=self._nodes.resource_version, **changes,
            )
            if new == old:
                return
            self._feed.publish_status(self.context, new)  # first, as for nodes: seen here => in the feed
            self._status = new
        if log_change and (new.state != old.state or new.error_kind != old.error_kind):
            level = logging.WARNING if new.state in (SyncState.ERROR, SyncState.STALE) else logging.INFO
            kind = f" ({new.error_kind})" if new.error_kind else ""
            log.log(level, 'cluster "%s": %s -> %s%s: %s', self.context, old.state.value,
                    new.state.value, kind, new.message)

    def _refresh_counts(self) -> None:
        status = self._status
        if status.node_count != len(self.cache) or status.ready_count != self.cache.ready_count:
            self._set_status(log_change=False)

    def _set_leases_available(self, available: bool, reason: str) -> None:
        if self._status.leases_available == available:
            return
        self._set_status(leases_available=available, log_change=False)
        if available:
            log.info('cluster "%s": node leases available', self.context)
        else:
            log.warning('cluster "%s": node leases not available: %s', self.context, reason)

    # ------------------------------------------------------------------ node events
    def _nodes_list_requested(self) -> None:
        if self._status.synced:
            self._set_status(SyncState.RECONNECTING, message="relisting nodes",
                             since=self._lost_since or self._clock())

    def _nodes_listing(self) -> None:
        if not self._status.synced:
            self._set_status(SyncState.PRIMING, message="listing nodes")

    def _nodes_replaced(self, views: dict[str, NodeView], resource_version: str, elapsed: float) -> None:
        added, removed = self.cache.replace_nodes(views)
        self._feed.publish_reset(self.context)
        milliseconds = round(elapsed * 1000)
        if not self._status.synced:
            log.info("Initialized node cache with %d nodes for cluster %s in %d ms",
                     len(views), self.context, milliseconds)
            self._live_message = f"Initialized node cache with {len(views)} nodes in {milliseconds} ms"
        else:
            log.info('cluster "%s": relisted %d nodes (%d added, %d removed) in %d ms',
                     self.context, len(views), added, removed, milliseconds)
            self._live_message = f"Relisted {len(views)} nodes in {milliseconds} ms"
        self._set_status(synced=True, log_change=False)
        self._primed.set()

    def _nodes_watching(self) -> None:
        if self._status.state != SyncState.LIVE:
            message = self._live_message
            if self._lost_since is not None:
                away = (self._clock() - self._lost_since).total_seconds()
                message = f"reconnected after {_seconds_text(away)}"
            self._lost_since = None
            self._set_status(SyncState.LIVE, message=message)

    def _project_node(self, obj: dict) -> NodeView:
        """Project a node, sharing what did not change with the cached version of it."""
        name = _object_name(obj) if isinstance(obj, dict) else ""
        return project_node(obj, self.cache.get(name) if name else None)

    # The feed hears of a change before the cache holds it: whoever sees the new cache content
    # can be sure the feed has it too. Only this thread writes the cache.
    def _node_upserted(self, view: NodeView) -> None:
        previous = self.cache.get(view.name)
        if previous is None or not same_node_content(previous, view):
            self._feed.publish_upsert(self.context, view)
        self.cache.put_node(view)
        if previous is None or previous.ready != view.ready:
            self._refresh_counts()

    def _node_deleted(self, name: str) -> None:
        if name in self.cache:
            self._feed.publish_removed(self.context, name)
            self.cache.remove_node(name)
            self._refresh_counts()

    def _nodes_failed(self, failure: SyncFailure, attempt: int) -> float:
        now = self._clock()
        if failure.kind in CREDENTIAL_FAILURES:
            delay = self._settings.auth_retry_seconds
            if failure.kind == FAILURE_AUTH:
                self._renew_client = True
            self._set_status(SyncState.ERROR, error_kind=failure.kind, message=failure.message,
                             next_retry_at=now + timedelta(seconds=delay))
            return delay
        delay = self._settings.backoff(attempt, self._rng)
        retry_at = now + timedelta(seconds=delay)
        message = f"{failure.message} (retrying in {_seconds_text(delay)})"
        if not self._status.synced:
            self._set_status(SyncState.ERROR, error_kind=failure.kind, message=message,
                             next_retry_at=retry_at)
            return delay
        if self._lost_since is None:
            self._lost_since = now
        lost_for = (now - self._lost_since).total_seconds()
        stale = attempt >= self._settings.stale_after_failures or lost_for >= self._settings.stale_after_seconds
        self._set_status(SyncState.STALE if stale else SyncState.RECONNECTING, error_kind=failure.kind,
                         message=message, since=self._lost_since, next_retry_at=retry_at)
        return delay

    # ------------------------------------------------------------------ lease events
    def _leases_replaced(self, leases: dict[str, LeaseView], elapsed: float) -> None:
        changed = self.cache.replace_leases(leases)
        if changed:
            self._feed.publish_leases(self.context, changed.values())
        if not self._leases_primed:
            self._leases_primed = True
            log.info("Initialized lease cache with %d leases for cluster %s in %d ms",
                     len(leases), self.context, round(elapsed * 1000))
        self._set_leases_available(True, "")

    def _lease_upserted(self, lease: LeaseView) -> None:
        if self.cache.lease(lease.node_name) != lease:
            self._feed.publish_lease(self.context, lease)
        self.cache.put_lease(lease)

    def _leases_failed(self, failure: SyncFailure, attempt: int) -> float:
        if failure.kind == FAILURE_FORBIDDEN or failure.status == 404:
            self._set_leases_available(False, failure.message)
            return self._settings.lease_retry_seconds
        if failure.kind in CREDENTIAL_FAILURES:
            if failure.kind == FAILURE_AUTH:
                self._renew_client = True  # refreshed credentials for the next request
            return self._settings.auth_retry_seconds  # the node sync reports credentials
        return self._settings.backoff(attempt, self._rng)


class _NodeEvents:
    """The node reflector's handler: updates the cache, the feed and the cluster state."""

    def __init__(self, sync: ClusterSync) -> None:
        self._sync = sync

    def on_list_request(self) -> None:
        self._sync._nodes_list_requested()

    def on_listing(self) -> None:
        self._sync._nodes_listing()

    def on_replace(self, objects: dict[str, NodeView], resource_version: str, elapsed: float) -> None:
        self._sync._nodes_replaced(objects, resource_version, elapsed)

    def on_upsert(self, obj: NodeView) -> None:
        self._sync._node_upserted(obj)

    def on_delete(self, key: str) -> None:
        self._sync._node_deleted(key)

    def on_watching(self, resource_version: str) -> None:
        self._sync._nodes_watching()

    def on_failure(self, failure: SyncFailure, attempt: int) -> float:
        return self._sync._nodes_failed(failure, attempt)


class _LeaseEvents:
    """The lease reflector's handler: leases only; never changes the cluster state."""

    def __init__(self, sync: ClusterSync) -> None:
        self._sync = sync

    def on_list_request(self) -> None:
        pass

    def on_listing(self) -> None:
        pass

    def on_replace(self, objects: dict[str, LeaseView], resource_version: str, elapsed: float) -> None:
        self._sync._leases_replaced(objects, elapsed)

    def on_upsert(self, obj: LeaseView) -> None:
        self._sync._lease_upserted(obj)

    def on_delete(self, key: str) -> None:
        self._sync.cache.remove_lease(key)

    def on_watching(self, resource_version: str) -> None:
        self._sync._set_leases_available(True, "")

    def on_failure(self, failure: SyncFailure, attempt: int) -> float:
        return self._sync._leases_failed(failure, attempt)


# ---------------------------------------------------------------------------------------------
# Every context


class Fleet:
    """The ``ClusterSync`` of every selected context, sharing one change feed.

    ``contexts`` are kubeconfig context names (all of them when empty); an unknown name raises
    ``KubeconfigError``. A context whose kubeconfig entry is broken is in ERROR (``config``)
    from the start and runs no thread. LISTs across the fleet are bounded by
    ``settings.max_concurrent_lists``; watches are not.
    """

    def __init__(
        self,
        kubeconfig: Kubeconfig,
        contexts: Sequence[str],
        feed: ChangeFeed | None = None,
        *,
        watch_leases: bool = True,
        clock: Callable[[], datetime] = utc_now,
        settings: SyncSettings | None = None,
    ) -> None:
        self.feed = feed if feed is not None else ChangeFeed()
        self.settings = settings or SyncSettings()
        order = {name: index for index, name in enumerate(kubeconfig.context_names)}
        targets = sorted(build_targets(kubeconfig, contexts), key=lambda target: order[target.name])
        self.contexts: list[str] = [target.name for target in targets]
        list_slots = threading.BoundedSemaphore(max(1, self.settings.max_concurrent_lists))
        self._syncs: dict[str, ClusterSync] = {
            target.name: ClusterSync(target, kubeconfig, self.feed, settings=self.settings,
                                     watch_leases=watch_leases, clock=clock, list_slots=list_slots)
            for target in targets
        }
        self._started = False

    def start(self) -> None:
        """Start every context's workers (daemon threads); returns at once."""
        if self._started:
            return
        self._started = True
        for sync in self._syncs.values():
            sync.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every worker and wait up to ``timeout`` seconds in total for them to end."""
        for sync in self._syncs.values():
            sync.request_stop()
        deadline = time.monotonic() + timeout
        for sync in self._syncs.values():
            if sync.join(max(0.0, deadline - time.monotonic())):
                sync.close()
            else:
                log.warning('cluster "%s": sync threads still busy after stop', sync.context)

    def __enter__(self) -> "Fleet":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def sync(self, context: str) -> ClusterSync:
        """The ``ClusterSync`` of ``context`` (KeyError when not in this fleet)."""
        return self._syncs[context]

    def cache(self, context: str) -> NodeCache:
        """The node cache of ``context``."""
        return self._syncs[context].cache

    def status(self, context: str) -> ClusterStatus:
        """The current status of ``context``."""
        return self._syncs[context].status()

    def api_client(self, context: str) -> k8s_client.ApiClient | None:
        """The ``ApiClient`` of ``context`` for on-demand requests; ``None`` if broken or not built yet."""
        return self._syncs[context].api_client

    def threads(self) -> list[threading.Thread]:
        """Every worker thread the fleet started."""
        return [thread for sync in self._syncs.values() for thread in sync.threads]
