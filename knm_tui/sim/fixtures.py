"""Load Kubernetes objects from dumps of real clusters (``--nodes-from``).

A dump may come in any shape that tools produce:

- a typed list (``NodeList``, ``PodList``, ``LeaseList``, ``PodDisruptionBudgetList``...),
- a ``kind: List`` (what ``kubectl get -o json`` prints for several kinds), or a bare
  ``{"items": [...]}`` without a kind,
- a bare JSON array of objects (sonobuoy's format),
- a single object,
- any of the above as YAML, with several documents separated by ``---``.

Items often lack ``kind``/``apiVersion`` (``kubectl cluster-info dump`` omits them). The kind of
such an item is taken, in this order, from:

1. the enclosing typed list (``NodeList`` -> ``Node``);
2. its shape:

   - **Pod**: ``spec.containers`` is a list;
   - **Node**: ``status.nodeInfo`` is present, or ``spec`` has one of ``podCIDR``, ``podCIDRs``,
     ``providerID``, ``taints``, ``unschedulable``, ``externalID``, or the object has no
     namespace and ``status.conditions`` holds a kubelet node condition (Ready,
     MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable, OutOfDisk) with a
     ``lastHeartbeatTime``;
   - **Lease**: ``spec`` has ``holderIdentity``, ``renewTime`` or ``leaseDurationSeconds``;
   - **PodDisruptionBudget**: ``spec`` has ``minAvailable`` or ``maxUnavailable``, or
     ``status`` has ``disruptionsAllowed`` or ``expectedPods``.

An item whose kind cannot be told is an error. Errors are ``FixtureError`` with a one-line
message that names the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

CANONICAL_API_VERSIONS: dict[str, str] = {
    "Node": "v1",
    "Pod": "v1",
    "Namespace": "v1",
    "Event": "v1",
    "Lease": "coordination.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
    "DaemonSet": "apps/v1",
}
"""The group/version the simulator serves each kind it knows under."""

CLUSTER_SCOPED_KINDS = frozenset({"Node", "Namespace"})

_NODE_SPEC_FIELDS = ("podCIDR", "podCIDRs", "providerID", "taints", "unschedulable", "externalID")
_NODE_CONDITION_TYPES = frozenset(
    {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable", "OutOfDisk"})
_LEASE_SPEC_FIELDS = ("holderIdentity", "renewTime", "leaseDurationSeconds")
_DROPPED_METADATA = ("resourceVersion", "managedFields", "selfLink")
_YAML_SUFFIXES = (".yaml", ".yml")


class FixtureError(ValueError):
    """A dump that cannot be loaded; the message is one line and names the file."""


class _TimestampsAsStringsLoader(yaml.SafeLoader):
    """A safe YAML loader that keeps unquoted timestamps as the strings they were written as."""


_TimestampsAsStringsLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_objects(path: str | Path) -> list[dict]:
    """Every object in a dump, each with ``kind`` and ``apiVersion`` filled in.

    Objects are returned as parsed (metadata untouched); ``kind`` comes from the object, its
    typed list or its shape (see the module docstring) and a missing ``apiVersion`` is set to
    the kind's usual one. Raises FixtureError for an unreadable or malformed file.
    """
    path = Path(path)
    documents = _parse_documents(path)
    objects: list[dict] = []
    for document in documents:
        objects.extend(_objects_in(path, document))
    return objects


def split_by_kind(objects: Iterable[dict]) -> dict[str, list[dict]]:
    """Group objects by their ``kind``, keeping the order of the input within each kind."""
    groups: dict[str, list[dict]] = {}
    for obj in objects:
        groups.setdefault(str(obj.get("kind")), []).append(obj)
    return groups


def normalise(obj: dict) -> dict:
    """Prepare a loaded object for the store, in place, and return it.

    Sets the canonical ``apiVersion`` of the kind (a policy/v1beta1 PodDisruptionBudget becomes
    policy/v1), drops ``metadata.resourceVersion``, ``managedFields`` and ``selfLink`` (the store
    assigns versions), drops ``metadata.namespace`` of cluster-scoped kinds (the apiserver clears
    it) and puts namespaced objects without one in ``default``. ``uid`` is kept.
    """
    kind = obj.get("kind")
    if kind in CANONICAL_API_VERSIONS:
        obj["apiVersion"] = CANONICAL_API_VERSIONS[kind]
    metadata = obj.setdefault("metadata", {})
    for field in _DROPPED_METADATA:
        metadata.pop(field, None)
    if kind in CLUSTER_SCOPED_KINDS:
        metadata.pop("namespace", None)
    elif not metadata.get("namespace"):
        metadata["namespace"] = "default"
    return obj


def load_kind(path: str | Path, kind: str) -> list[dict]:
    """The objects of one kind in a dump, normalised (see ``normalise``).

    Raises FixtureError when the file holds no object of that kind or holds two with the same
    namespace and name.
    """
    path = Path(path)
    selected = [normalise(obj) for obj in load_objects(path) if obj.get("kind") == kind]
    if not selected:
        raise FixtureError(f"{path.name}: no {kind} objects found")
    seen: set[tuple[str, str]] = set()
    for obj in selected:
        metadata = obj["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        if key in seen:
            raise FixtureError(f"{path.name}: two {kind} objects are named {_describe_key(key)}")
        seen.add(key)
    return selected


def load_nodes(path: str | Path) -> list[dict]:
    """The Node objects of a dump, normalised; FixtureError when there is none."""
    return load_kind(path, "Node")


def load_pods(path: str | Path) -> list[dict]:
    """The Pod objects of a dump, normalised; FixtureError when there is none."""
    return load_kind(path, "Pod")


def load_leases(path: str | Path) -> list[dict]:
    """The Lease objects of a dump, normalised; FixtureError when there is none."""
    return load_kind(path, "Lease")


def load_pdbs(path: str | Path) -> list[dict]:
    """The PodDisruptionBudget objects of a dump, normalised to policy/v1; FixtureError when there is none."""
    return load_kind(path, "PodDisruptionBudget")


def _describe_key(key: tuple[str, str]) -> str:
    namespace, name = key
    return f'"{namespace}/{name}"' if namespace else f'"{name}"'


def _parse_documents(path: Path) -> list[Any]:
    """The top-level values in a file: one for JSON, one per document for YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FixtureError(f"{path.name}: no such file") from None
    except IsADirectoryError:
        raise FixtureError(f"{path.name}: is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise FixtureError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise FixtureError(f"{path.name}: cannot be read ({error.strerror})") from None
    if not text.strip():
        raise FixtureError(f"{path.name}: the file is empty")
    if path.suffix.lower() in _YAML_SUFFIXES:
        return _parse_yaml(path, text)
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as error:
        if path.suffix.lower() == ".json":
            raise FixtureError(
                f"{path.name}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    return _parse_yaml(path, text)


def _parse_yaml(path: Path, text: str) -> list[Any]:
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_TimestampsAsStringsLoader) if doc is not None]
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        position = f" at line {where.line + 1} column {where.column + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise FixtureError(f"{path.name}: invalid YAML{position}: {problem}") from None
    if not documents:
        raise FixtureError(f"{path.name}: the file holds no YAML document")
    return documents


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _objects_in(path: Path, document: Any) -> Iterator[dict]:
    """The objects of one top-level value, with their kinds resolved."""
    if isinstance(document, list):
        yield from _list_items(path, document, list_kind=None, list_api_version=None, where="")
        return
    if not isinstance(document, dict):
        raise FixtureError(
            f"{path.name}: the top level is {_type_name(document)}; expected an object, a list of objects or a *List")
    kind = document.get("kind")
    if "items" in document and (kind is None or (isinstance(kind, str) and kind.endswith("List"))):
        items = document["items"]
        if items is None:
            return
        if not isinstance(items, list):
            raise FixtureError(f"{path.name}: 'items' is {_type_name(items)}, not a list")
        yield from _list_items(path, items, document.get("kind"), document.get("apiVersion"), where="")
        return
    yield _resolve(path, document, implied_kind=None, implied_api_version=None, label="the object")


def _list_items(path: Path, items: list, list_kind: Any, list_api_version: Any, where: str) -> Iterator[dict]:
    implied_kind = None
    implied_api_version = None
    if isinstance(list_kind, str) and list_kind.endswith("List") and list_kind != "List":
        implied_kind = list_kind[: -len("List")]
        implied_api_version = list_api_version if isinstance(list_api_version, str) else None
    for index, item in enumerate(items):
        label = f"item {where}{index}"
        if not isinstance(item, dict):
            raise FixtureError(f"{path.name}: {label} is {_type_name(item)}, not an object")
        nested_kind = item.get("kind")
        if isinstance(item.get("items"), list) and (nested_kind is None or str(nested_kind).endswith("List")):
            yield from _list_items(path, item["items"], nested_kind, item.get("apiVersion"), where=f"{where}{index}.")
            continue
        yield _resolve(path, item, implied_kind, implied_api_version, label)


def _resolve(path: Path, obj: dict, implied_kind: str | None, implied_api_version: str | None, label: str) -> dict:
    """Check an object's metadata and fill in its kind and apiVersion."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise FixtureError(f"{path.name}: {label} has no metadata object")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise FixtureError(f"{path.name}: {label} has no metadata.name")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        kind = implied_kind or _kind_from_shape(obj)
        if kind is None:
            raise FixtureError(f'{path.name}: cannot tell the kind of {label} ("{name}"): it has no kind field')
        obj["kind"] = kind
        if not obj.get("apiVersion") and implied_api_version and implied_kind == kind:
            obj["apiVersion"] = implied_api_version
    if not obj.get("apiVersion") and kind in CANONICAL_API_VERSIONS:
        obj["apiVersion"] = CANONICAL_API_VERSIONS[kind]
    return obj


def _kind_from_shape(obj: dict) -> str | None:
    """The kind an object without ``kind`` most likely has, from its fields (see the module docstring)."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    metadata = obj["metadata"]
    if isinstance(spec.get("containers"), list):
        return "Pod"
    if "nodeInfo" in status or any(field in spec for field in _NODE_SPEC_FIELDS):
        return "Node"
    if not metadata.get("namespace"):
        for condition in status.get("conditions") or []:
            if (isinstance(condition, dict) and condition.get("type") in _NODE_CONDITION_TYPES
                    and "lastHeartbeatTime" in condition):
                return "Node"
    if any(field in spec for field in _LEASE_SPEC_FIELDS):
        return "Lease"
    if "minAvailable" in spec or "maxUnavailable" in spec or "disruptionsAllowed" in status or "expectedPods" in status:
        return "PodDisruptionBudget"
    return None
