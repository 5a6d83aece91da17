"""The simulator's HTTP/1.1 front end: kube-apiserver's REST surface for one cluster.

Routing, discovery, authentication, LIST pagination, WATCH streams, Table output, PATCH/PUT/
DELETE/Eviction and access reviews, with faults injected where a test asks for them. The rules
follow ``apiserver-behaviour.md``; object semantics live in ``cluster.py`` and ``store.py``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from knm_tui.sim.cluster import SimCluster
from knm_tui.sim.faults import RequestRecord
from knm_tui.sim.patch import PatchError, apply_patch
from knm_tui.sim.selectors import SelectorError, parse_field_selector, parse_label_selector
from knm_tui.sim.store import (
    RESOURCE_TYPES,
    ResourceType,
    Snapshot,
    StoredObject,
    StoreError,
    WatchEvent,
    conflict,
)
from knm_tui.sim.tables import build_table

log = logging.getLogger(__name__)

GIT_VERSION = "v1.32.4"
TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
SUBRESOURCES: dict[str, tuple[str, ...]] = {
    "nodes": ("status",),
    "pods": ("status", "eviction"),
    "namespaces": ("status",),
    "daemonsets": ("status",),
    "poddisruptionbudgets": ("status",),
}
ACCESS_REVIEW_GROUP = ("authorization.k8s.io", "v1")
GROUP_VERSIONS: dict[str, list[str]] = {
    "apps": ["v1"],
    "policy": ["v1"],
    "coordination.k8s.io": ["v1"],
    "authorization.k8s.io": ["v1"],
}


class ApiError(StoreError):
    """An error found by the HTTP layer, answered as a ``Status`` body like a store error."""


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    """A ``Status`` object as kube-apiserver writes it."""
    body: dict = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason}
    if details:
        body["details"] = details
    body["code"] = code
    return body


def success_status(code: int = 200, details: dict | None = None) -> dict:
    """A ``Status`` object reporting success."""
    body: dict = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    body["code"] = code
    return body


def encode_continue(rv: int, next_key: str) -> str:
    """Upstream's opaque continue token: unpadded base64url of the start key and RV."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": next_key + "\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """The RV and start key of a continue token; 400 when it is malformed."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError("bad version")
        rv = int(data["rv"])
        start = str(data["start"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"continue key is not valid: {exc}") from None
    if rv <= 0:
        raise ApiError(400, "BadRequest", "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    return rv, start


@dataclass
class Route:
    """What a request path names."""

    resource: ResourceType | None = None
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    discovery: str = ""  # "version", "api", "apis", "group", "resources"
    group: str = ""
    version: str = ""


def parse_path(path: str) -> Route:
    """Split a request path into resource, namespace, name and subresource (404 when unknown)."""
    parts = [p for p in path.split("/") if p]
    if parts in (["version"],):
        return Route(discovery="version")
    if parts == ["api"]:
        return Route(discovery="api")
    if parts == ["apis"]:
        return Route(discovery="apis")
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 2:
        if len(parts) == 2:
            return Route(discovery="group", group=parts[1])
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    known_versions = ["v1"] if group == "" else GROUP_VERSIONS.get(group, [])
    if version not in known_versions:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    if not rest:
        return Route(discovery="resources", group=group, version=version)
    in_group = {rt.name: rt for rt in RESOURCE_TYPES.values() if rt.group == group and rt.version == version}
    if group == ACCESS_REVIEW_GROUP[0]:
        if rest == ["selfsubjectaccessreviews"]:
            return Route(discovery="ssar", group=group, version=version)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in in_group and in_group[rest[2]].namespaced:
        namespace, rest = rest[1], rest[2:]
    resource = in_group.get(rest[0])
    if resource is None or len(rest) > 3:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) == 3 else ""
    if subresource and subresource not in SUBRESOURCES.get(resource.name, ()):
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    if namespace and not resource.namespaced:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return Route(resource=resource, namespace=namespace, name=name, subresource=subresource,
                 group=group, version=version)


def resource_list(group: str, version: str) -> dict:
    """The legacy discovery APIResourceList for one group/version."""
    resources = []
    for rt in RESOURCE_TYPES.values():
        if rt.group != group or rt.version != version:
            continue
        resources.append({"name": rt.name, "singularName": rt.kind.lower(), "namespaced": rt.namespaced,
                          "kind": rt.kind, "verbs": list(rt.verbs), "shortNames": list(rt.short_names)})
        for sub in SUBRESOURCES.get(rt.name, ()):
            if sub == "eviction":
                resources.append({"name": "pods/eviction", "singularName": "", "namespaced": True,
                                  "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]})
            else:
                resources.append({"name": f"{rt.name}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                                  "kind": rt.kind, "verbs": ["get", "patch", "update"]})
    if group == ACCESS_REVIEW_GROUP[0]:
        resources.append({"name": "selfsubjectaccessreviews", "singularName": "", "namespaced": False,
                          "kind": "SelfSubjectAccessReview", "verbs": ["create"]})
    for entry in resources:
        if not entry.get("shortNames"):
            entry.pop("shortNames", None)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def group_entry(group: str) -> dict:
    """One APIGroup for ``/apis`` discovery."""
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in GROUP_VERSIONS[group]]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def metadata_only(obj: dict) -> dict:
    """A PartialObjectMetadata for Table rows and metadata-only clients."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


class _Matcher:
    """Namespace, label and field selection for one LIST or WATCH."""

    def __init__(self, resource: ResourceType, namespace: str, query: dict[str, str]) -> None:
        self.namespace = namespace
        try:
            self.labels = parse_label_selector(query.get("labelSelector", ""))
            self.fields = parse_field_selector(query.get("fieldSelector", ""), resource.name)
        except SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        self.selective = not (self.labels.empty and self.fields.empty)

    def matches(self, obj: dict) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        if not self.labels.empty and not self.labels.matches(meta.get("labels") or {}):
            return False
        return self.fields.empty or self.fields.matches(obj)


class RequestHandler(BaseHTTPRequestHandler):
    """One connection; the server object carries the cluster."""

    protocol_version = "HTTP/1.1"
    server: "ClusterHTTPServer"
    error_content_type = "application/json"

    # ------------------------------------------------------------ plumbing
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature from the base class
        """Route the base class's access log to ``logging`` at debug level."""
        log.debug("%s %s", self.server.cluster.name, format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(length) if length else b""

    def _send_bytes(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self._code = code
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, code: int, obj: dict, content_type: str = "application/json") -> None:
        self._send_bytes(code, json.dumps(obj, separators=(",", ":")).encode(), content_type)

    def _send_error(self, error: StoreError) -> None:
        self._code = error.code
        self._send_json(error.code, status_body(error.code, error.reason, error.message, error.details))

    # ------------------------------------------------------------ dispatch
    def _handle(self, method: str) -> None:
        cluster = self.server.cluster
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self._code = 0
        record = RequestRecord(method, split.path, split.query, "", "")
        body = self._read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        try:
            route = parse_path(split.path)
            verb = self._verb(method, route, query)
            record.verb, record.resource = verb, route.resource.name if route.resource else route.discovery
            self._apply_faults(verb, route)
            self._authenticate()
            if route.resource and cluster.faults.is_forbidden(verb, route.resource.name):
                cluster.faults.counts.forbidden += 1
                what = f'{route.resource.qualified_name} "{route.name}"' if route.name else route.resource.qualified_name
                scope = f' in the namespace "{route.namespace}"' if route.namespace else " at the cluster scope"
                raise ApiError(403, "Forbidden",
                               f'{what} is forbidden: User "{cluster.user}" cannot {verb} resource '
                               f'"{route.resource.name}" in API group "{route.resource.group}"{scope}',
                               {"name": route.name, "group": route.resource.group, "kind": route.resource.name})
            self._dispatch(method, verb, route, query, body)
        except StoreError as error:
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("simulator failed to serve %s %s", method, split.path)
            self.close_connection = True
            if self._code == 0:
                self._send_error(ApiError(500, "InternalError",
                                          "an error on the server (\"simulator failure\") has prevented the request from succeeding"))
        finally:
            record.code = self._code
            cluster.faults.record(record)

    @staticmethod
    def _verb(method: str, route: Route, query: dict[str, str]) -> str:
        if route.resource is None:
            return "create" if method == "POST" else "get"
        if method == "GET":
            if route.name:
                return "get"
            return "watch" if query.get("watch") in ("true", "1") else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]

    def _apply_faults(self, verb: str, route: Route) -> None:
        faults = self.server.cluster.faults
        if route.discovery == "version":
            return
        if faults.latency_seconds:
            time.sleep(faults.latency_seconds)
        stall = faults.take_stall()
        if stall:
            self._interruptible_sleep(stall)
        code = faults.pick_error(verb)
        if code is not None:
            reason = "ServiceUnavailable" if code == 503 else "InternalError"
            message = ("the server is currently unable to handle the request" if code == 503
                       else "an error on the server (\"injected fault\") has prevented the request from succeeding")
            raise ApiError(code, reason, message)

    def _interruptible_sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.server.stopping.is_set():
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _authenticate(self) -> None:
        cluster = self.server.cluster
        if cluster.token is None:
            return
        header = self.headers.get("Authorization", "")
        if header != f"Bearer {cluster.token}":
            cluster.faults.counts.unauthorized += 1
            raise ApiError(401, "Unauthorized", "Unauthorized")

    def _dispatch(self, method: str, verb: str, route: Route, query: dict[str, str], body: bytes) -> None:
        if route.discovery:
            if method != "GET" and route.discovery != "ssar":
                raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource")
            self._discovery(route, body)
            return
        resource = route.resource
        assert resource is not None
        if verb == "list":
            self._list(resource, route, query)
        elif verb == "watch":
            self._watch(resource, route, query)
        elif verb == "get":
            self._get(resource, route)
        elif verb == "create":
            self._create(resource, route, body)
        elif verb == "update":
            self._update(resource, route, body)
        elif verb == "patch":
            self._patch(resource, route, body)
        elif verb == "delete":
            self._delete(resource, route, query, body)

    # ------------------------------------------------------------ discovery
    def _discovery(self, route: Route, body: bytes) -> None:
        cluster = self.server.cluster
        if route.discovery == "version":
            self._send_json(200, {"major": "1", "minor": "32", "gitVersion": GIT_VERSION,
                                  "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                                  "buildDate": "2025-04-22T16:03:09Z", "goVersion": "go1.23.8",
                                  "compiler": "gc", "platform": "linux/amd64"})
        elif route.discovery == "api":
            self._send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.server.server_address[1]}"}]})
        elif route.discovery == "apis":
            self._send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                  "groups": [group_entry(g) for g in GROUP_VERSIONS]})
        elif route.discovery == "group":
            if route.group not in GROUP_VERSIONS:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self._send_json(200, {"kind": "APIGroup", "apiVersion": "v1", **group_entry(route.group)})
        elif route.discovery == "resources":
            self._send_json(200, resource_list(route.group, route.version))
        elif route.discovery == "ssar":
            self._access_review(cluster, body)

    def _access_review(self, cluster: SimCluster, body: bytes) -> None:
        content_type = self.headers.get("Content-Type", "")
        if "protobuf" in content_type:
            attributes = decode_protobuf_access_review(body)
        else:
            try:
                review = json.loads(body or b"{}")
                attributes = ((review.get("spec") or {}).get("resourceAttributes") or {})
            except (json.JSONDecodeError, AttributeError):
                raise ApiError(400, "BadRequest", "the body of the request could not be decoded as a SelfSubjectAccessReview") from None
        verb, resource = attributes.get("verb", ""), attributes.get("resource", "")
        allowed = not cluster.faults.is_forbidden(verb, resource)
        status = {"allowed": allowed}  # RBAC refuses with "no opinion": no reason, no "denied"
        self._send_json(201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                              "metadata": {"creationTimestamp": None},
                              "spec": {"resourceAttributes": attributes}, "status": status})

    # ------------------------------------------------------------ reads
    def _wants_table(self) -> bool:
        return "as=Table" in self.headers.get("Accept", "")

    def _get(self, resource: ResourceType, route: Route) -> None:
        cluster = self.server.cluster
        if resource.name == "poddisruptionbudgets":
            cluster.refresh_pdb_status(route.namespace, route.name)
        stored = cluster.store.require(resource.name, route.namespace, route.name)
        if self._wants_table():
            table = build_table(resource.kind, [stored.obj], cluster.clock.now(),
                                include_object=self._include_object())
            table["metadata"] = {"resourceVersion": str(stored.rv)}
            self._send_json(200, table, TABLE_CONTENT_TYPE)
            return
        self._code = 200
        self._send_bytes(200, stored.raw)

    def _include_object(self) -> str:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        value = query.get("includeObject", "Metadata")
        if value not in ("None", "Metadata", "Object"):
            raise ApiError(400, "BadRequest", f'includeObject: Unsupported value: "{value}"')
        return value

    def _list(self, resource: ResourceType, route: Route, query: dict[str, str]) -> None:
        cluster = self.server.cluster
        matcher = _Matcher(resource, route.namespace, query)
        limit = _int_param(query, "limit", 0)
        token = query.get("continue", "")
        rv_param = query.get("resourceVersion", "")
        rv_match = query.get("resourceVersionMatch", "")
        if resource.name == "poddisruptionbudgets":
            cluster.refresh_all_pdb_status()
        if rv_match and rv_match not in ("Exact", "NotOlderThan"):
            raise ApiError(422, "Invalid", f'resourceVersionMatch: Unsupported value: "{rv_match}": supported values: "Exact", "NotOlderThan"')
        if rv_match and not rv_param:
            raise ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
        if token and rv_match:
            raise ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided")
        if rv_match == "Exact" and rv_param == "0":
            raise ApiError(422, "Invalid", 'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
        start_key = ""
        if token:
            if rv_param not in ("", "0"):
                raise ApiError(400, "BadRequest", "specifying resource version is not allowed when using continue")
            snap_rv, start_key = decode_continue(token)
            try:
                snapshot = cluster.store.snapshot(resource.name, snap_rv)
            except StoreError as error:
                if error.code == 410:
                    raise ApiError(410, "Expired",
                                   "The provided continue parameter is too old to display a consistent list result. "
                                   "You can start a new list without the continue parameter, or use the continue token "
                                   "in this response to retrieve the remainder of the results. Continuing with the "
                                   "provided token results in an inconsistent list - objects that were created, "
                                   "modified, or deleted between the time the first chunk was returned and now may "
                                   "show up in the list.") from None
                raise
        else:
            wanted_rv = None
            if rv_param not in ("", "0"):
                try:
                    wanted_rv = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", f'invalid resource version "{rv_param}"') from None
                if rv_match == "Exact":
                    snapshot = cluster.store.snapshot(resource.name, wanted_rv)
                else:
                    current = cluster.store.resource_version
                    if wanted_rv > current:
                        raise ApiError(504, "Timeout", f"Too large resource version: {wanted_rv}, current: {current}",
                                       {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1})
                    snapshot = cluster.store.snapshot(resource.name)
            else:
                snapshot = cluster.store.snapshot(resource.name)
        self._send_list(resource, snapshot, matcher, start_key, limit)

    def _send_list(self, resource: ResourceType, snapshot: Snapshot, matcher: _Matcher,
                   start_key: str, limit: int) -> None:
        index = snapshot.start_index(start_key) if start_key else 0
        objects = snapshot.objects
        page: list[StoredObject] = []
        total = len(objects)
        while index < total and (limit <= 0 or len(page) < limit):
            stored = objects[index]
            if not matcher.selective and not matcher.namespace or matcher.matches(stored.obj):
                page.append(stored)
            index += 1
        metadata: dict = {"resourceVersion": str(snapshot.rv)}
        if limit > 0 and index < total:
            if matcher.selective or matcher.namespace:
                more = any(matcher.matches(objects[i].obj) for i in range(index, total))
            else:
                more = True
            if more:
                metadata["continue"] = encode_continue(snapshot.rv, snapshot.keys[index - 1])
                if not matcher.selective and not matcher.namespace:
                    metadata["remainingItemCount"] = total - index
        if self._wants_table():
            table = build_table(resource.kind, [s.obj for s in page], self.server.cluster.clock.now(),
                                include_object=self._include_object(), list_metadata=metadata)
            self._send_json(200, table, TABLE_CONTENT_TYPE)
            return
        head = json.dumps({"kind": resource.list_kind, "apiVersion": resource.api_version,
                           "metadata": metadata}, separators=(",", ":")).encode()
        body = b"".join((head[:-1], b',"items":[', b",".join(s.raw for s in page), b"]}"))
        self._code = 200
        self._send_bytes(200, body)

    # ------------------------------------------------------------ watch
    def _watch(self, resource: ResourceType, route: Route, query: dict[str, str]) -> None:
        cluster = self.server.cluster
        matcher = _Matcher(resource, route.namespace, query)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        timeout_param = query.get("timeoutSeconds")
        if timeout_param:
            timeout = float(_int_param(query, "timeoutSeconds", 0))
        else:
            low, high = cluster.watch_limits.default_timeout_range
            timeout = random.uniform(low, high)
        rv_param = query.get("resourceVersion", "")
        table = self._wants_table()
        include_object = self._include_object() if table else "Object"
        send_initial = query.get("sendInitialEvents") in ("true", "1")
        if rv_param not in ("", "0"):
            try:
                start_rv = int(rv_param)
            except ValueError:
                raise ApiError(400, "BadRequest", f'invalid resource version "{rv_param}"') from None
        else:
            start_rv = None
        self._code = 200
        self.send_response(200)
        self.send_header("Content-Type", TABLE_CONTENT_TYPE if table else "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        stream = _WatchStream(self, resource, matcher, table, include_object)
        self.server.track(self)
        ended_cleanly = False
        try:
            self._stream_watch(cluster, stream, resource, start_rv, send_initial, bookmarks, timeout)
            self._write_chunk(b"")
            ended_cleanly = not self.server.stopping.is_set()
        finally:
            self.server.untrack(self)
            # A watch that ended with the last chunk leaves the connection reusable, as upstream
            # does; the client was not told otherwise and may send its next request on it.
            self.close_connection = not ended_cleanly

    def _stream_watch(self, cluster: SimCluster, stream: "_WatchStream", resource: ResourceType,
                      start_rv: int | None, send_initial: bool, bookmarks: bool, timeout: float) -> None:
        faults = cluster.faults
        store = cluster.store
        if start_rv is not None and not send_initial and faults.take_watch_gone():
            stream.send_error_gone(start_rv, store.resource_version)
            return
        close_after = faults.close_watch_after_events
        events_sent = 0
        if start_rv is None or send_initial:
            snapshot = store.snapshot(resource.name)
            for stored in snapshot.objects:
                if stream.matcher.matches(stored.obj):
                    stream.send_object("ADDED", stored)
                    events_sent += 1
                    if close_after is not None and events_sent >= close_after:
                        faults.counts.watch_closed += 1
                        return
            rv = snapshot.rv
            if send_initial and bookmarks:
                stream.send_bookmark(rv, initial_events_end=True)
        else:
            rv = start_rv
        started = time.monotonic()
        deadline = started + timeout
        bookmark_every = cluster.watch_limits.bookmark_interval_seconds
        next_bookmark = started + bookmark_every
        final_bookmark_sent = False
        stop = self.server.stopping
        while not stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if bookmarks and not final_bookmark_sent and deadline - now <= min(1.0, timeout / 2):
                stream.send_bookmark(rv)
                final_bookmark_sent = True
            wait = min(deadline - now, 0.25)
            try:
                events, seen = store.events_after(rv, (resource.name,), wait, stop)
            except StoreError:
                stream.send_error_gone(rv, store.resource_version)
                return
            for event in events:
                if stream.send_event(event):
                    events_sent += 1
                    if close_after is not None and events_sent >= close_after:
                        faults.counts.watch_closed += 1
                        return
            rv = seen
            if bookmarks and time.monotonic() >= next_bookmark:
                stream.send_bookmark(rv)
                next_bookmark = time.monotonic() + bookmark_every

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # ------------------------------------------------------------ writes
    def _decode_object(self, body: bytes) -> dict:
        if "protobuf" in self.headers.get("Content-Type", ""):
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
        try:
            obj = json.loads(body or b"null")
        except json.JSONDecodeError as exc:
            raise ApiError(400, "BadRequest", f"the object provided is unrecognized: {exc}") from None
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the object provided is unrecognized (must be of type object)")
        return obj

    def _create(self, resource: ResourceType, route: Route, body: bytes) -> None:
        cluster = self.server.cluster
        if route.subresource == "eviction":
            eviction = self._decode_object(body)
            cluster.evict_pod(route.namespace, route.name, eviction.get("deleteOptions"))
            self._code = 201
            self._send_json(201, success_status(201))
            return
        if route.name:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        obj = self._decode_object(body)
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            if meta.get("namespace") and meta["namespace"] != route.namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = route.namespace
        meta.pop("resourceVersion", None)
        created = cluster.store.create(resource.name, obj)
        self._code = 201
        self._send_json(201, created)

    def _update(self, resource: ResourceType, route: Route, body: bytes) -> None:
        cluster = self.server.cluster
        obj = self._decode_object(body)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != route.name:
            raise ApiError(400, "BadRequest", f'the name of the object ({meta["name"]}) does not match the name on the URL ({route.name})')
        meta["name"] = route.name
        expect_rv = meta.get("resourceVersion")

        def replace(old: dict) -> dict:
            return _keep_other_half(old, obj, route.subresource)

        updated = cluster.store.mutate(resource.name, route.namespace, route.name, replace, expect_rv=expect_rv)
        self._code = 200
        self._send_json(200, updated)

    def _patch(self, resource: ResourceType, route: Route, body: bytes) -> None:
        cluster = self.server.cluster
        content_type = self.headers.get("Content-Type", "")

        def patch(old: dict) -> dict:
            try:
                patched = apply_patch(old, body, content_type, resource.name)
            except PatchError as exc:
                reason = {415: "UnsupportedMediaType", 422: "Invalid"}.get(exc.code, "BadRequest")
                raise ApiError(exc.code, reason, exc.message) from None
            wanted_rv = (patched.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"].get("resourceVersion"):
                raise conflict(resource.name, route.name)
            return _keep_other_half(old, patched, route.subresource)

        updated = cluster.store.mutate(resource.name, route.namespace, route.name, patch)
        self._code = 200
        self._send_json(200, updated)

    def _delete(self, resource: ResourceType, route: Route, query: dict[str, str], body: bytes) -> None:
        cluster = self.server.cluster
        if not route.name:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        options: dict = {}
        if body.strip():
            options = self._decode_object(body)
        grace = options.get("gracePeriodSeconds")
        if "gracePeriodSeconds" in query:
            grace = _int_param(query, "gracePeriodSeconds", 0)
        uid = (options.get("preconditions") or {}).get("uid")
        if resource.name == "pods":
            result = cluster.delete_pod(route.namespace, route.name, grace, uid)
        else:
            result = cluster.store.delete(resource.name, route.namespace, route.name)
        self._code = 200
        self._send_json(200, result)


def _keep_other_half(old: dict, new: dict, subresource: str) -> dict:
    """Writes to an object leave its status alone; writes to ``/status`` leave its spec alone."""
    if subresource == "status":
        result = dict(new)
        if "spec" in old:
            result["spec"] = old["spec"]
        else:
            result.pop("spec", None)
        return result
    if "status" in old or "status" in new:
        result = dict(new)
        if "status" in old:
            result["status"] = old["status"]
        else:
            result.pop("status", None)
        return result
    return new


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, "BadRequest", f'{name}: Invalid value: "{value}"') from None


class _WatchStream:
    """Writes watch events for one connection, turning selector changes into ADDED/DELETED."""

    def __init__(self, handler: RequestHandler, resource: ResourceType, matcher: _Matcher,
                 table: bool, include_object: str) -> None:
        self.handler = handler
        self.resource = resource
        self.matcher = matcher
        self.table = table
        self.include_object = include_object
        self.columns_sent = False

    def send_event(self, event: WatchEvent) -> bool:
        """Send one store event if it concerns this watch; returns whether anything was sent."""
        current_match = self.matcher.matches(event.current.obj)
        if event.type == "ADDED":
            if not current_match:
                return False
            kind = "ADDED"
        elif event.type == "DELETED":
            if not current_match:
                return False
            kind = "DELETED"
        else:
            previous_match = event.previous is not None and self.matcher.matches(event.previous.obj)
            if current_match and previous_match:
                kind = "MODIFIED"
            elif current_match:
                kind = "ADDED"
            elif previous_match:
                kind = "DELETED"
            else:
                return False
        self.send_object(kind, event.current)
        return True

    def send_object(self, kind: str, stored: StoredObject) -> None:
        """Write one event line for ``stored``."""
        if self.table:
            table = build_table(self.resource.kind, [stored.obj], self.handler.server.cluster.clock.now(),
                                include_object=self.include_object, with_columns=not self.columns_sent,
                                list_metadata={"resourceVersion": str(stored.rv)})
            self.columns_sent = True
            line = json.dumps({"type": kind, "object": table}, separators=(",", ":")).encode() + b"\n"
        else:
            line = b'{"type":"' + kind.encode() + b'","object":' + stored.raw + b"}\n"
        self.handler._write_chunk(line)

    def send_bookmark(self, rv: int, initial_events_end: bool = False) -> None:
        """Write a BOOKMARK carrying only a resourceVersion."""
        meta: dict = {"resourceVersion": str(rv)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.resource.kind, "apiVersion": self.resource.api_version, "metadata": meta}
        self.handler._write_chunk(json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + b"\n")

    def send_error_gone(self, rv: int, current: int) -> None:
        """Write the 410 ERROR event for a resourceVersion older than the history."""
        status = status_body(410, "Expired", f"too old resource version: {rv} ({current})")
        self.handler._write_chunk(json.dumps({"type": "ERROR", "object": status}, separators=(",", ":")).encode() + b"\n")


def decode_protobuf_access_review(body: bytes) -> dict:
    """Read verb/resource/... from a protobuf SelfSubjectAccessReview (as ``kubectl auth can-i`` sends).

    The envelope is ``k8s\\0`` + runtime.Unknown{raw=2}; inside, spec=2 → resourceAttributes=1 with
    namespace=1, verb=2, group=3, version=4, resource=5, subresource=6, name=7.
    """
    names = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}
    try:
        data = body[4:] if body.startswith(b"k8s\x00") else body
        raw = _proto_fields(data).get(2, [b""])[0]
        spec = _proto_fields(raw).get(2, [b""])[0]
        attributes_raw = _proto_fields(spec).get(1, [b""])[0]
        fields = _proto_fields(attributes_raw)
        return {names[number]: values[0].decode("utf-8", "replace")
                for number, values in fields.items() if number in names and values}
    except (IndexError, ValueError):
        return {}


def _proto_fields(data: bytes) -> dict[int, list[bytes]]:
    """The length-delimited fields of one protobuf message (varints are skipped)."""
    fields: dict[int, list[bytes]] = {}
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, index = _varint(data, index)
        elif wire_type == 2:
            length, index = _varint(data, index)
            fields.setdefault(number, []).append(data[index:index + length])
            index += length
        elif wire_type == 1:
            index += 8
        elif wire_type == 5:
            index += 4
        else:
            raise ValueError("unsupported protobuf wire type")
    return fields


def _varint(data: bytes, index: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[index]
        index += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, index
        shift += 7


class ClusterHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP(S) server bound to one cluster."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, cluster: SimCluster, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.cluster = cluster
        self.stopping = threading.Event()
        self._ssl_context = ssl_context
        self._active: set[RequestHandler] = set()
        self._connections: set[socket.socket] = set()
        self._active_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), RequestHandler)

    def get_request(self) -> tuple[socket.socket, tuple]:
        """Accept a connection, wrapping it in TLS when configured (handshake in the worker thread)."""
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._ssl_context is not None:
            conn = self._ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        with self._active_lock:
            self._connections.add(conn)
        return conn, addr

    def shutdown_request(self, request) -> None:
        """Forget a finished connection, then close it."""
        with self._active_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> int:
        """Reset every open connection, idle keep-alive ones included; returns how many."""
        with self._active_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(connections)

    def finish_request(self, request, client_address) -> None:
        """Complete the TLS handshake off the accept thread, then serve the connection."""
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(10)
                request.do_handshake()
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        """Connection errors from clients that went away are routine; log others at debug."""
        log.debug("simulator connection error from %s", client_address, exc_info=True)

    def track(self, handler: RequestHandler) -> None:
        """Remember an open watch so a restart can cut it."""
        with self._active_lock:
            self._active.add(handler)

    def untrack(self, handler: RequestHandler) -> None:
        """Forget a finished watch."""
        with self._active_lock:
            self._active.discard(handler)

    def drop_watches(self) -> int:
        """Reset every open watch connection (as a server restart would); returns how many."""
        with self._active_lock:
            handlers = list(self._active)
        for handler in handlers:
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(handlers)


class ClusterServer:
    """Serves one SimCluster on 127.0.0.1 in a background thread; restartable on the same port."""

    def __init__(self, cluster: SimCluster, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.cluster = cluster
        self._ssl_context = ssl_context
        self._port = port
        self._httpd: ClusterHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL clients use."""
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    def start(self) -> None:
        """Bind and serve in a daemon thread."""
        self._httpd = ClusterHTTPServer(self.cluster, self._port, self._ssl_context)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"sim-http-{self.cluster.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, cut open watches and release the port."""
        httpd = self._httpd
        if httpd is None:
            return
        httpd.stopping.set()
        self.cluster.store.wake_watchers()
        httpd.drop_connections()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def restart(self) -> None:
        """Stop and start again on the same port: every connection is reset, state is kept."""
        self.stop()
        self.cluster.faults.counts.restarts += 1
        self.start()

    def drop_watches(self) -> int:
        """Reset open watch connections without stopping the server."""
        return self._httpd.drop_watches() if self._httpd else 0
