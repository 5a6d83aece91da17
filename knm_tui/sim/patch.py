"""PATCH bodies for the simulated API server: JSON patch, merge patch, strategic merge and apply.

``apply_patch`` returns a new object and never changes the one it is given. The four content types
kube-apiserver accepts are supported:

- ``application/json-patch+json``: RFC 6902 (add, remove, replace, move, copy, test; JSON pointers
  with ``~0``/``~1`` escapes; ``-`` appends). A body that is not a list of operations is a 400; an
  operation that does not apply (a failed ``test``, a missing path) is a 422 whose message is
  upstream's "the server rejected our request due to an error in our request" with the detail in
  ``causes``.
- ``application/merge-patch+json``: RFC 7386 (``null`` deletes a key).
- ``application/strategic-merge-patch+json``: a merge patch, except that the lists upstream marks
  ``patchStrategy: merge`` are merged item by item: node ``status.conditions`` and
  ``status.addresses`` by ``type``; pod ``status.conditions`` by ``type``, ``spec.containers``,
  ``spec.initContainers``, ``spec.ephemeralContainers`` and ``spec.volumes`` by ``name`` (and a
  container's ``env``/``ports``/``volumeMounts`` by ``name``/``containerPort``/``mountPath``);
  ``metadata.finalizers`` as a set and ``metadata.ownerReferences`` by ``uid`` for every resource.
  Every other list, node ``spec.taints`` included, is replaced whole. The directives ``$patch``
  (``replace``/``delete`` in maps and merged lists), ``$setElementOrder/<list>``,
  ``$deleteFromPrimitiveList/<list>`` and ``$retainKeys`` are honoured.
- ``application/apply-patch+yaml``: server-side apply is simulated as a merge patch of the YAML (or
  JSON) body. There is no field ownership and no conflict detection; that is good enough for a
  simulator whose clients use apply only to set fields.

Any other content type is a 415. Malformed bodies, and bodies that are not an object for the merge
types, are a 400.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

import yaml

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PatchError",
    "STRATEGIC_MERGE_PATCH",
    "SUPPORTED_PATCH_TYPES",
    "apply_patch",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
SUPPORTED_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH, STRATEGIC_MERGE_PATCH)

UNSUPPORTED_MEDIA_TYPE_MESSAGE = (
    "the body of the request was in an unknown format - accepted media types include: "
    + ", ".join(SUPPORTED_PATCH_TYPES)
)
REJECTED_MESSAGE = "the server rejected our request due to an error in our request"

_REASON_BY_CODE = {400: "BadRequest", 415: "UnsupportedMediaType", 422: "Invalid"}


class PatchError(Exception):
    """A patch the server refuses: ``code`` is the HTTP status, ``message`` the Status message.

    ``reason`` is the Status reason upstream uses for the code, and ``causes`` holds Status
    ``details.causes`` entries (``{"reason": ..., "message": ...}``) when upstream sends them.
    """

    def __init__(self, code: int, message: str, causes: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = _REASON_BY_CODE.get(code, "")
        self.causes: list[dict[str, str]] = list(causes or [])


def _rejected(detail: str) -> PatchError:
    """A 422 the way upstream words it: a generic message, the detail as an unexpected-response cause."""
    return PatchError(422, REJECTED_MESSAGE, [{"reason": "UnexpectedServerResponse", "message": detail}])


# --------------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------------


def _clone(value: Any) -> Any:
    """A deep copy of a JSON value (dicts and lists are copied, scalars shared)."""
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clone(item) for item in value]
    return value


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: numbers compare by value, but booleans are never numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


def _go_json_kind(value: Any) -> str:
    """The JSON kind name Go's decoder uses in "cannot unmarshal X" errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _decode_json(body: bytes | str) -> Any:
    """Parse a JSON body, raising a 400 PatchError when it is not valid JSON."""
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise PatchError(400, f"the request body is not valid UTF-8: {error}") from None
    except json.JSONDecodeError as error:
        raise PatchError(
            400, f"invalid JSON in the request body: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError as error:
        raise PatchError(400, str(error)) from None


class _JSONCompatibleLoader(yaml.SafeLoader):
    """A safe YAML loader that keeps timestamps as strings, as the YAML→JSON step upstream does."""


_JSONCompatibleLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _string_keys(value: Any) -> Any:
    """A YAML value with every map key turned into the string JSON would carry."""
    if isinstance(value, dict):
        return {_yaml_key(key): _string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_string_keys(item) for item in value]
    return value


def _yaml_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _decode_yaml(body: bytes | str) -> Any:
    """Parse a YAML (or JSON) body, raising a 400 PatchError when it cannot be read."""
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        return _string_keys(yaml.load(text, Loader=_JSONCompatibleLoader))  # noqa: S506 - a SafeLoader subclass
    except UnicodeDecodeError as error:
        raise PatchError(400, f"the request body is not valid UTF-8: {error}") from None
    except yaml.YAMLError as error:
        raise PatchError(400, f"error decoding YAML: {error}") from None


def _require_object(document: Any) -> dict[str, Any]:
    """The document when it is a JSON object, else a 400 PatchError worded like Go's decoder."""
    if not isinstance(document, dict):
        raise PatchError(
            400, f"json: cannot unmarshal {_go_json_kind(document)} into Go value of type map[string]interface {{}}"
        )
    return document


# --------------------------------------------------------------------------------------------
# RFC 6902 JSON patch
# --------------------------------------------------------------------------------------------

_MISSING = object()


def _parse_pointer(pointer: Any) -> list[str]:
    """The reference tokens of an RFC 6901 JSON pointer ("" is the whole document)."""
    if not isinstance(pointer, str):
        raise _rejected(f"invalid JSON pointer: {json.dumps(pointer)}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _rejected(f"JSON pointer must be empty or start with a \"/\": {pointer}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _list_index(token: str, length: int, *, allow_end: bool) -> int:
    """The list index a pointer token names, checked against the list length."""
    if token == "-" and allow_end:
        return length
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise _rejected(f"Unable to access invalid index: {token}: invalid index referenced")
    index = int(token)
    limit = length if allow_end else length - 1
    if index > limit:
        raise _rejected(f"Unable to access invalid index: {index}: invalid index referenced")
    return index


def _missing_path(operation: str, pointer: str) -> PatchError:
    return _rejected(f'{operation} operation does not apply: doc is missing path: "{pointer}": missing value')


def _resolve_parent(document: Any, tokens: list[str], operation: str, pointer: str) -> Any:
    """The container holding the last token of a pointer, or a 422 when the path is missing."""
    current = document
    for token in tokens[:-1]:
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and (token == "0" or token[0] != "0"):
            index = int(token)
            if index >= len(current):
                raise _missing_path(operation, pointer)
            current = current[index]
        else:
            raise _missing_path(operation, pointer)
    return current


def _get_value(document: Any, pointer: str) -> Any:
    """The value at a pointer, or _MISSING."""
    current = document
    for token in _parse_pointer(pointer):
        if isinstance(current, dict):
            if token not in current:
                return _MISSING
            current = current[token]
        elif isinstance(current, list):
            if not token.isdigit() or (len(token) > 1 and token[0] == "0") or int(token) >= len(current):
                return _MISSING
            current = current[int(token)]
        else:
            return _MISSING
    return current


def _add(document: Any, pointer: str, value: Any, operation: str = "add") -> Any:
    tokens = _parse_pointer(pointer)
    if not tokens:
        return value
    parent = _resolve_parent(document, tokens, operation, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(last, len(parent), allow_end=True), value)
    else:
        raise _missing_path(operation, pointer)
    return document


def _remove(document: Any, pointer: str, operation: str = "remove") -> tuple[Any, Any]:
    """Remove the value at a pointer; return the document and the removed value."""
    tokens = _parse_pointer(pointer)
    if not tokens:
        raise _rejected(f"{operation} operation does not apply: cannot remove the whole document")
    parent = _resolve_parent(document, tokens, operation, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _rejected(f"unable to remove nonexistent key: {last}: missing value")
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_list_index(last, len(parent), allow_end=False))
    raise _missing_path(operation, pointer)


def _replace(document: Any, pointer: str, value: Any) -> Any:
    tokens = _parse_pointer(pointer)
    if not tokens:
        return value
    parent = _resolve_parent(document, tokens, "replace", pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _rejected(f"replace operation does not apply: doc is missing key: {pointer}: missing value")
        parent[last] = value
    elif isinstance(parent, list):
        parent[_list_index(last, len(parent), allow_end=False)] = value
    else:
        raise _rejected(f"replace operation does not apply: doc is missing key: {pointer}: missing value")
    return document


def _apply_operation(document: Any, operation: Mapping[str, Any]) -> Any:
    kind = operation.get("op")
    path = operation.get("path")
    value = _clone(operation.get("value"))
    if kind == "add":
        return _add(document, path, value)
    if kind == "remove":
        return _remove(document, path)[0]
    if kind == "replace":
        return _replace(document, path, value)
    if kind in ("move", "copy"):
        source = operation.get("from")
        found = _get_value(document, source) if isinstance(source, str) else _MISSING
        if found is _MISSING:
            raise _rejected(f"{kind} operation does not apply: doc is missing from path: {source}: missing value")
        if kind == "copy":
            return _add(document, path, _clone(found), "copy")
        if isinstance(path, str) and path.startswith(source + "/"):
            raise _rejected(f"move operation does not apply: path {path} is inside from {source}")
        if path == source:
            return document
        document, moved = _remove(document, source, "move")
        return _add(document, path, moved, "move")
    if kind == "test":
        actual = _get_value(document, path)
        expected = operation.get("value")
        if actual is _MISSING:
            if expected is None:
                return document
        elif _json_equal(actual, expected):
            return document
        raise _rejected(f"testing value {path} failed: test failed")
    raise _rejected(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")


def _apply_json_patch(document: dict[str, Any], body: bytes | str) -> Any:
    operations = _decode_json(body)
    if not isinstance(operations, list):
        raise PatchError(
            400, f"json: cannot unmarshal {_go_json_kind(operations)} into Go value of type jsonpatch.Patch"
        )
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError(
                400,
                f"json: cannot unmarshal {_go_json_kind(operation)} into Go value of type jsonpatch.Operation",
            )
    result: Any = document
    for operation in operations:
        result = _apply_operation(result, operation)
    return result


# --------------------------------------------------------------------------------------------
# RFC 7386 merge patch
# --------------------------------------------------------------------------------------------


def _merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch; ``target`` may be changed in place and is returned."""
    if not isinstance(patch, dict):
        return _clone(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------------------------
# Strategic merge patch
# --------------------------------------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ELEMENT_ORDER_PREFIX = "$setElementOrder/"
_DELETE_FROM_PRIMITIVE_LIST_PREFIX = "$deleteFromPrimitiveList/"
_PRIMITIVE = ""  # merge key of a list of scalars merged as a set

_Path = tuple[str, ...]

_OBJECT_META_MERGE_LISTS: dict[_Path, str] = {
    ("metadata", "finalizers"): _PRIMITIVE,
    ("metadata", "ownerReferences"): "uid",
}


def _container_merge_lists(field: str) -> dict[_Path, str]:
    return {
        ("spec", field): "name",
        ("spec", field, "*", "env"): "name",
        ("spec", field, "*", "ports"): "containerPort",
        ("spec", field, "*", "volumeMounts"): "mountPath",
        ("spec", field, "*", "volumeDevices"): "devicePath",
    }


_MERGE_LISTS_BY_RESOURCE: dict[str, dict[_Path, str]] = {
    "nodes": {
        **_OBJECT_META_MERGE_LISTS,
        ("status", "conditions"): "type",
        ("status", "addresses"): "type",
        ("spec", "podCIDRs"): _PRIMITIVE,
    },
    "pods": {
        **_OBJECT_META_MERGE_LISTS,
        **_container_merge_lists("containers"),
        **_container_merge_lists("initContainers"),
        **_container_merge_lists("ephemeralContainers"),
        ("spec", "volumes"): "name",
        ("spec", "imagePullSecrets"): "name",
        ("spec", "hostAliases"): "ip",
        ("status", "conditions"): "type",
        ("status", "podIPs"): "ip",
        ("status", "hostIPs"): "ip",
    },
}


def _resource_key(resource: str) -> str:
    """The plural resource a patch is for, without any subresource ("nodes/status" → "nodes")."""
    name = resource.split("/", 1)[0].strip().lower()
    return {"node": "nodes", "pod": "pods"}.get(name, name)


class _StrategicMerger:
    """Strategic merge of one patch into one object, using a resource's merge-list table."""

    def __init__(self, merge_lists: Mapping[_Path, str]) -> None:
        self._merge_lists = merge_lists

    def merge_map(self, original: dict[str, Any], patch: Mapping[str, Any], path: _Path) -> dict[str, Any]:
        """Merge a patch map into ``original`` (changed in place and returned), honouring directives."""
        if _DIRECTIVE in patch:
            directive = patch[_DIRECTIVE]
            if directive == "replace":
                return self.merge_map({}, {k: v for k, v in patch.items() if k != _DIRECTIVE}, path)
            if directive == "delete":
                return {}
            raise _rejected(f"Unknown patch type: {directive} in map: {json.dumps(patch, default=str)}")
        patch = dict(patch)
        self._apply_retain_keys(original, patch)
        self._merge_ordered_lists(original, patch, path)
        for key, patch_value in patch.items():
            if key.startswith(_DELETE_FROM_PRIMITIVE_LIST_PREFIX):
                self._delete_from_primitive_list(original, key[len(_DELETE_FROM_PRIMITIVE_LIST_PREFIX) :], patch_value)
                continue
            if key.startswith(_SET_ELEMENT_ORDER_PREFIX):
                continue
            if patch_value is None:
                original.pop(key, None)
                continue
            original[key] = self.merge_value(original.get(key, _MISSING), patch_value, path + (key,))
        return original

    def merge_value(self, original: Any, patch_value: Any, path: _Path) -> Any:
        """Merge one field: maps recurse, merge lists merge, anything else is replaced."""
        if isinstance(patch_value, dict):
            base = original if isinstance(original, dict) else {}
            return self.merge_map(base, patch_value, path)
        if isinstance(patch_value, list) and path in self._merge_lists:
            base_list = original if isinstance(original, list) else []
            return self.merge_list(base_list, patch_value, path)
        return _clone(patch_value)

    def merge_list(self, original: list[Any], patch: list[Any], path: _Path) -> list[Any]:
        """Merge a ``patchStrategy: merge`` list, then order it as upstream's mergeSlice does."""
        merge_key = self._merge_lists[path]
        if not original and not patch:
            return original
        if merge_key == _PRIMITIVE:
            merged = _deduplicate(original + [_clone(item) for item in patch])
            return _normalize_order(merged, patch, patch, original, _identity)
        key_of = _merge_key_reader(merge_key)
        original, patch = self._apply_list_directives(original, patch, merge_key, key_of)
        merged = list(original)
        for item in patch:
            wanted = key_of(item)
            position = _find(merged, wanted, key_of)
            if position < 0:
                merged.append(self.merge_map({}, item, path + ("*",)))
            else:
                merged[position] = self.merge_map(merged[position], item, path + ("*",))
        return _normalize_order(merged, patch, patch, original, key_of)

    def _apply_list_directives(
        self, original: list[Any], patch: list[Any], merge_key: str, key_of: Callable[[Any], Any]
    ) -> tuple[list[Any], list[Any]]:
        """Handle ``$patch: delete``/``replace`` items; return the remaining original and patch items."""
        plain: list[Any] = []
        replace = False
        for item in patch:
            if not isinstance(item, dict):
                raise _rejected(f"list item {json.dumps(item, default=str)} is not a map with merge key {merge_key}")
            directive = item.get(_DIRECTIVE, _MISSING)
            if directive is _MISSING:
                if merge_key not in item:
                    raise _rejected(
                        f"map: {json.dumps(item, default=str)} does not contain declared merge key: {merge_key}"
                    )
                plain.append(item)
            elif directive == "delete":
                if merge_key not in item:
                    raise _rejected(
                        f"map: {json.dumps(item, default=str)} does not contain declared merge key: {merge_key}"
                    )
                wanted = item[merge_key]
                original = [entry for entry in original if not _json_equal(key_of(entry), wanted)]
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                raise _rejected("merging lists cannot yet be specified in the patch")
            else:
                raise _rejected(f"Unknown patch type: {directive} in map: {json.dumps(item, default=str)}")
        if replace:
            return [], plain
        return original, plain

    def _apply_retain_keys(self, original: dict[str, Any], patch: dict[str, Any]) -> None:
        retain = patch.pop(_RETAIN_KEYS, _MISSING)
        if retain is _MISSING:
            return
        if not isinstance(retain, list):
            raise PatchError(400, "invalid patch format of retainKeys")
        allowed = {str(key) for key in retain}
        for key in list(original):
            if key not in allowed:
                del original[key]

    def _merge_ordered_lists(self, original: dict[str, Any], patch: dict[str, Any], path: _Path) -> None:
        """Merge each list that has a ``$setElementOrder`` directive and put it in that order."""
        for directive_key in [key for key in patch if key.startswith(_SET_ELEMENT_ORDER_PREFIX)]:
            order = patch.pop(directive_key)
            field = directive_key[len(_SET_ELEMENT_ORDER_PREFIX) :]
            if not isinstance(order, list):
                raise PatchError(400, "invalid patch format of setElementOrder list")
            field_path = path + (field,)
            original_list = original.get(field)
            patch_list = patch.pop(field, _MISSING)
            if patch_list is None:
                original.pop(field, None)
                continue
            if field_path not in self._merge_lists:
                if isinstance(patch_list, list):
                    original[field] = _clone(patch_list)
                continue
            base = original_list if isinstance(original_list, list) else []
            if patch_list is _MISSING:
                if not isinstance(original_list, list):
                    continue
                merged = base
            elif isinstance(patch_list, list):
                merged = self.merge_list(base, patch_list, field_path)
            else:
                original[field] = _clone(patch_list)
                continue
            merge_key = self._merge_lists[field_path]
            key_of = _identity if merge_key == _PRIMITIVE else _merge_key_reader(merge_key)
            order_keys = order if merge_key == _PRIMITIVE else [key_of(item) for item in order]
            original[field] = _normalize_order(merged, order, order, base, key_of, order_keys=order_keys)

    def _delete_from_primitive_list(self, original: dict[str, Any], field: str, values: Any) -> None:
        current = original.get(field)
        if not isinstance(current, list):
            return
        if not isinstance(values, list):
            raise PatchError(400, "invalid patch format of primitive list")
        original[field] = [item for item in current if not any(_json_equal(item, value) for value in values)]


def _identity(item: Any) -> Any:
    return item


def _merge_key_reader(merge_key: str) -> Callable[[Any], Any]:
    def read(item: Any) -> Any:
        return item.get(merge_key, _MISSING) if isinstance(item, dict) else _MISSING

    return read


def _find(items: list[Any], wanted: Any, key_of: Callable[[Any], Any]) -> int:
    """The index of the first item whose key equals ``wanted``, or -1."""
    if wanted is _MISSING:
        return -1
    for position, item in enumerate(items):
        key = key_of(item)
        if key is not _MISSING and _json_equal(key, wanted):
            return position
    return -1


def _deduplicate(items: list[Any]) -> list[Any]:
    result: list[Any] = []
    for item in items:
        if not any(_json_equal(item, seen) for seen in result):
            result.append(item)
    return result


def _normalize_order(
    merged: list[Any],
    partition_by: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    key_of: Callable[[Any], Any],
    *,
    order_keys: list[Any] | None = None,
) -> list[Any]:
    """Order a merged list like upstream: patch items in patch order woven into server-only items.

    Items named by the patch keep the patch's relative order, the others keep the live object's,
    and the two runs are interleaved by their positions in the live object; an item new to the
    object goes before the next server-only item.
    """
    partition_keys = order_keys if order_keys is not None else [key_of(item) for item in partition_by]
    patch_keys = order_keys if order_keys is not None else [key_of(item) for item in patch_order]
    server_keys = [key_of(item) for item in server_order]

    def position(keys: list[Any], item: Any) -> int:
        key = key_of(item)
        if key is _MISSING:
            return -1
        for index, candidate in enumerate(keys):
            if candidate is not _MISSING and _json_equal(candidate, key):
                return index
        return -1

    patch_items = [item for item in merged if position(partition_keys, item) >= 0]
    server_only = [item for item in merged if position(partition_keys, item) < 0]

    def sort_by(keys: list[Any], items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda item: position(keys, item) if position(keys, item) >= 0 else len(keys))

    patch_items = sort_by(patch_keys, patch_items)
    server_only = sort_by(server_keys, server_only)
    result: list[Any] = []
    left, right = 0, 0
    while left < len(server_only) or right < len(patch_items):
        if left >= len(server_only):
            result.append(patch_items[right])
            right += 1
        elif right >= len(patch_items):
            result.append(server_only[left])
            left += 1
        else:
            left_position = position(server_keys, server_only[left])
            right_position = position(server_keys, patch_items[right])
            if left_position >= 0 and right_position >= 0 and left_position < right_position:
                result.append(server_only[left])
                left += 1
            else:
                result.append(patch_items[right])
                right += 1
    return result


def _strategic_merge(document: dict[str, Any], patch: dict[str, Any], resource: str) -> dict[str, Any]:
    merge_lists = _MERGE_LISTS_BY_RESOURCE.get(_resource_key(resource), _OBJECT_META_MERGE_LISTS)
    return _StrategicMerger(merge_lists).merge_map(document, patch, ())


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header (parameters dropped)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def apply_patch(obj: Mapping[str, Any], patch: bytes | str, content_type: str, resource: str) -> dict[str, Any]:
    """Apply a PATCH body to an object and return the patched copy; ``obj`` is never changed.

    ``content_type`` is the request's Content-Type header (``; charset=...`` is ignored) and
    ``resource`` the plural resource (``nodes``, ``pods``, ``nodes/status``, ...), which decides the
    strategic-merge lists. Raises PatchError (400, 415 or 422) as described in the module docstring.
    """
    media_type = _media_type(content_type)
    document = _clone(dict(obj))
    if media_type == JSON_PATCH:
        result = _apply_json_patch(document, patch)
    elif media_type == MERGE_PATCH:
        result = _merge_patch(document, _require_object(_decode_json(patch)))
    elif media_type == STRATEGIC_MERGE_PATCH:
        result = _strategic_merge(document, _require_object(_decode_json(patch)), resource)
    elif media_type == APPLY_PATCH:
        result = _merge_patch(document, _require_object(_decode_yaml(patch)))
    else:
        raise PatchError(415, UNSUPPORTED_MEDIA_TYPE_MESSAGE)
    if not isinstance(result, dict):
        raise _rejected(
            f"json: cannot unmarshal {_go_json_kind(result)} into Go value of type map[string]interface {{}}"
        )
    return result
