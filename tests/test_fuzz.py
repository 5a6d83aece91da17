"""Fuzzing (hypothesis) of every parser that reads input from outside: nodes, kubeconfigs, user input.

- ``project_node`` over random nodes and mutated real ones (fields missing or of the wrong type,
  odd timestamps, huge label sets, unicode and 253-character names): it returns a ``NodeView``
  or raises ``NodeProjectionError`` (only for an unusable name), and never invents a time: every
  time in the view is the instant its input string names.
- ``load_kubeconfig`` over random, mutated and truncated files: a ``Kubeconfig`` or a one-line
  ``KubeconfigError`` that never quotes a credential; a loaded one builds its targets and API
  clients or says (``ContextError``, ``ContextTarget.error``) why a context cannot be used,
  again without quoting a credential.
- ``parse_label_changes`` / ``parse_taint_changes``: a valid change set or a one-line
  ``OperationInputError``.
- The simulator's label and field selector parsing: a selector (which can match) or ``SelectorError``.

Runs are derandomized (the same examples every run) and bounded so the file takes seconds.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import string
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from conftest import REAL_OBJECTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knm_tui.kube.config import ContextError, KubeconfigError, build_targets, load_kubeconfig, make_api_client
from knm_tui.kube.nodeview import NodeProjectionError, NodeView, project_node
from knm_tui.kube.ops import (
    TAINT_EFFECTS,
    OperationInputError,
    label_value_problems,
    parse_label_changes,
    parse_taint_changes,
    qualified_name_problems,
)
from knm_tui.sim.fixtures import load_objects, split_by_kind
from knm_tui.sim.selectors import SelectorError, parse_field_selector, parse_label_selector

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
QUICK = settings(FUZZ, max_examples=400)

REAL_NODES: list[dict[str, Any]] = [
    node for path in sorted(REAL_OBJECTS.glob("*.json"))
    for node in split_by_kind(load_objects(path)).get("Node", [])
]
ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")
"""RFC 3339's date-time production (section 5.6); the fraction needs at least one digit."""


# =============================================================================================
# Strategies


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=False), st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
wrong_types = st.sampled_from([None, 0, -1, 1.5, True, False, "", "x", [], {}, [1, "a"], {"a": 1}, "null"]).map(
    copy.deepcopy)  # a fresh copy each draw: a mutation must never change the next draw


def mostly(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``strategy`` three times in four, else a value of the wrong type."""
    return st.one_of(strategy, strategy, strategy, wrong_types)


@st.composite
def odd_timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 stamps of every shape: fractions, offsets, far past and future, and near misses."""
    year = draw(st.sampled_from([1, 2, 1969, 1970, 2024, 2038, 9999]) | st.integers(0, 10000))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    hour = draw(st.integers(0, 25))
    minute = draw(st.integers(0, 60))
    second = draw(st.integers(0, 61))
    fraction = draw(st.sampled_from(["", ".", ".0", ".5", ".123", ".123456", ".123456789", ".1234567891234"]))
    zone = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "-12:00",
                                 "+24:00", "+23:59", "+05:60", "", "UTC", " Z"]))
    separator = draw(st.sampled_from(["T", "t", " ", "_"]))
    text = f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"
    return draw(st.sampled_from([text, text, text, text[:-1], " " + text, text + "\n"]))


valid_timestamps = st.builds(
    lambda moment, digits, zone: moment.strftime("%Y-%m-%dT%H:%M:%S")
    + (f".{moment.microsecond:06d}"[: digits + 1] if digits else "") + zone,
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(0, 6),
    st.sampled_from(["Z", "+00:00", "+05:30", "-08:00"]),
)
timestamps = st.one_of(valid_timestamps, odd_timestamps(), json_values)

names = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet=string.ascii_lowercase + string.digits + "-.", min_size=253, max_size=253),
    st.text(min_size=253, max_size=253),
    st.sampled_from(["ip-10-0-1-5.eu-west-1.compute.internal", "nöde-ünicode-✓", "节点-1", "\u202enode",
                     "a\nb", "\ud800", "0", " "]),
    st.integers(min_value=-5, max_value=10**12),
)


@st.composite
def label_sets(draw: st.DrawFn) -> Any:
    """Ordinary, unicode, huge (thousands of entries) or malformed label maps."""
    kind = draw(st.sampled_from(["small", "unicode", "huge", "odd"]))
    if kind == "small":
        return draw(st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=8))
    if kind == "unicode":
        return draw(st.dictionaries(st.text(min_size=1, max_size=253), json_scalars, max_size=6))
    if kind == "huge":
        count = draw(st.integers(500, 5000))
        seed = draw(st.integers(0, 1000))
        return {f"example.com/label-{seed}-{index}": f"value-{index % 97}" for index in range(count)}
    return draw(wrong_types)


conditions = mostly(st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["Ready", "MemoryPressure", "DiskPressure", "PIDPressure",
                                      "NetworkUnavailable", "KernelDeadlock", "", "ready"]) | json_scalars},
            optional={"status": st.sampled_from(["True", "False", "Unknown", ""]) | json_scalars,
                      "reason": json_scalars, "message": json_scalars,
                      "lastHeartbeatTime": timestamps, "lastTransitionTime": timestamps},
        ),
        json_values,
    ),
    max_size=8,
))

taints = st.lists(
    st.fixed_dictionaries({"key": st.text(max_size=30) | json_scalars},
                          optional={"value": json_scalars, "effect": st.sampled_from(TAINT_EFFECTS) | json_scalars,
                                    "timeAdded": timestamps}) | json_values,
    max_size=5,
) | wrong_types

quantities = st.one_of(
    st.sampled_from(["4", "3920m", "16318784Ki", "110", "1e3", "1E-3", "0.5", "16Gi", "1Ei", "-1", "+2",
                     "1e400", "1e-400", "NaN", "Infinity", "12Zi", "", " 1", "0x10", "1.2.3"]),
    json_scalars,
)


@st.composite
def random_nodes(draw: st.DrawFn) -> Any:
    """Node-shaped JSON built from scratch, every part optional and any part possibly wrong."""
    metadata = draw(mostly(st.fixed_dictionaries(
        {"name": mostly(names)},
        optional={"uid": json_scalars, "resourceVersion": json_scalars, "creationTimestamp": timestamps,
                  "labels": label_sets(),
                  "annotations": mostly(st.dictionaries(st.sampled_from(["knm-tui.io/cordon-reason",
                                                                         "karpenter.sh/do-not-disrupt", "other"]),
                                                        json_scalars, max_size=3))})))
    spec = draw(mostly(st.fixed_dictionaries({}, optional={"unschedulable": json_scalars, "taints": taints,
                                                           "providerID": json_scalars})))
    status = draw(mostly(st.fixed_dictionaries(
        {"conditions": conditions},
        optional={"capacity": mostly(st.dictionaries(st.sampled_from(["cpu", "memory", "pods", "nvidia.com/gpu",
                                                                      "ephemeral-storage", "x"]), quantities,
                                                     max_size=5)),
                  "allocatable": mostly(st.dictionaries(st.sampled_from(["cpu", "memory", "pods"]), quantities,
                                                        max_size=3)),
                  "addresses": mostly(st.lists(st.fixed_dictionaries({"type": json_scalars, "address": json_scalars})
                                               | json_values, max_size=4)),
                  "nodeInfo": mostly(st.dictionaries(st.sampled_from(["kubeletVersion", "osImage", "architecture"]),
                                                     json_scalars, max_size=3))})))
    return {"kind": "Node", "apiVersion": "v1", "metadata": metadata, "spec": spec, "status": status}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


@st.composite
def mutated_real_nodes(draw: st.DrawFn) -> Any:
    """A real node with a few fields deleted, retyped, retimed or replaced by random JSON."""
    node = copy.deepcopy(draw(st.sampled_from(REAL_NODES)))
    node.get("status", {}).pop("images", None)  # large and never read: keeps the path list short
    for _ in range(draw(st.integers(1, 8))):
        paths = list(_paths(node))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = node
        for step in path[:-1]:
            parent = parent[step]
        operation = draw(st.sampled_from(["delete", "retype", "retime", "replace", "rename"]))
        if operation == "delete":
            del parent[path[-1]]
        elif operation == "retype":
            parent[path[-1]] = draw(wrong_types)
        elif operation == "retime":
            parent[path[-1]] = draw(odd_timestamps())
        elif operation == "replace":
            parent[path[-1]] = draw(json_values)
        else:
            node.setdefault("metadata", {})
            if isinstance(node["metadata"], dict):
                node["metadata"]["name"] = draw(names)
    return node


# =============================================================================================
# NodeView


def _independent_instant(text: str) -> datetime:
    """The instant an RFC 3339 text names, read with the standard library (not the product's parser)."""
    return datetime.fromisoformat(text.upper()).astimezone(timezone.utc)


def _scalar_nonempty(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    return isinstance(value, (bool, int, float))


def _check_time(projected: datetime | None, raw: Any, where: str) -> None:
    """A projected time must be exactly what the raw value says; a clean, valid stamp must not be lost."""
    if projected is not None:
        assert isinstance(raw, str), f"{where}: a time was made up from {raw!r}"
        assert projected.tzinfo is not None
        assert projected == _independent_instant(raw), f"{where}: {raw!r} became {projected}"
        assert projected != ZERO_TIME
    elif isinstance(raw, str) and len(raw) <= 100:
        try:
            instant = _independent_instant(raw)
        except (ValueError, OverflowError):
            return
        valid = RFC3339.fullmatch(raw) is not None and instant != ZERO_TIME
        assert not valid, f"{where}: the valid time {raw!r} was dropped"


def check_projection(obj: Any) -> NodeView | None:
    """project_node's contract, checked against its own input."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    usable = (isinstance(name, str) and name != "") or (isinstance(name, int) and not isinstance(name, bool))
    try:
        view = project_node(obj)
    except NodeProjectionError as error:
        assert not usable, f"a node named {name!r} was rejected: {error}"
        assert str(error) and "\n" not in str(error)
        return None
    assert usable
    assert view.name == str(name)
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in view.labels.items())
    assert view.status in ("Ready", "NotReady", "Unknown")
    assert view.ready in (None, *{c.status for c in view.conditions})

    _check_time(view.created, metadata.get("creationTimestamp"), "creationTimestamp")
    raw_conditions = (obj.get("status") or {}).get("conditions") if isinstance(obj.get("status"), dict) else None
    kept = [entry for entry in raw_conditions if isinstance(entry, dict) and _scalar_nonempty(entry.get("type"))] \
        if isinstance(raw_conditions, list) else []
    assert len(view.conditions) == len(kept)
    for condition, entry in zip(view.conditions, kept):
        _check_time(condition.last_heartbeat, entry.get("lastHeartbeatTime"), f"{condition.type} heartbeat")
        _check_time(condition.last_transition, entry.get("lastTransitionTime"), f"{condition.type} transition")
    raw_taints = (obj.get("spec") or {}).get("taints") if isinstance(obj.get("spec"), dict) else None
    kept_taints = [entry for entry in raw_taints if isinstance(entry, dict) and _scalar_nonempty(entry.get("key"))] \
        if isinstance(raw_taints, list) else []
    assert len(view.taints) == len(kept_taints)
    for taint, entry in zip(view.taints, kept_taints):
        _check_time(taint.time_added, entry.get("timeAdded"), f"taint {taint.key} timeAdded")
    return view


def as_json(value: Any) -> Any:
    """``value`` as ``json.loads`` would hand it over (what the sync engine projects)."""
    return json.loads(json.dumps(value))


def test_every_real_node_projects_with_its_times() -> None:
    assert len(REAL_NODES) >= 30
    for node in REAL_NODES:
        assert check_projection(as_json(node)) is not None


@FUZZ
@given(random_nodes())
def test_random_nodes_project_or_are_rejected_for_their_name_only(node: Any) -> None:
    check_projection(as_json(node))


@FUZZ
@given(mutated_real_nodes())
def test_mutated_real_nodes_project_without_inventing_a_time(node: Any) -> None:
    check_projection(as_json(node))


@QUICK
@given(timestamps, timestamps)
def test_condition_times_come_only_from_the_input(heartbeat: Any, transition: Any) -> None:
    node = {"metadata": {"name": "n"}, "status": {"conditions": [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": heartbeat, "lastTransitionTime": transition}]}}
    view = check_projection(as_json(node))
    assert view is not None and len(view.conditions) == 1


@FUZZ
@given(json_values)
def test_any_json_value_is_a_node_or_a_clear_rejection(value: Any) -> None:
    check_projection(as_json(value))


# =============================================================================================
# Kubeconfig

SECRET_TOKEN = "fuzz-secret-token-0123456789abcdefABCDEF"
SECRET_KEY_BODY = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFuzzSecretKeyMaterial"
KEY_DATA = base64.b64encode(
    f"-----BEGIN PRIVATE KEY-----\n{SECRET_KEY_BODY}\n-----END PRIVATE KEY-----\n".encode()).decode()

BASE_KUBECONFIG = yaml.safe_dump({
    "apiVersion": "v1", "kind": "Config", "current-context": "prod",
    "clusters": [{"name": "prod", "cluster": {"server": "https://127.0.0.1:6443",
                                              "certificate-authority-data": base64.b64encode(b"not a cert").decode()}},
                 {"name": "dev", "cluster": {"server": "http://127.0.0.1:8080", "insecure-skip-tls-verify": True}}],
    "users": [{"name": "admin", "user": {"token": SECRET_TOKEN}},
              {"name": "cert", "user": {"client-certificate-data": KEY_DATA, "client-key-data": KEY_DATA}}],
    "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin", "namespace": "web"}},
                 {"name": "dev", "context": {"cluster": "dev", "user": "cert"}},
                 {"name": "dev-admin", "context": {"cluster": "dev", "user": "admin"}}],
}, sort_keys=False).encode()


@st.composite
def mutated_kubeconfigs(draw: st.DrawFn) -> bytes:
    """The base kubeconfig with bytes flipped, inserted or deleted."""
    data = bytearray(BASE_KUBECONFIG)
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "delete", "flip"]))
        if operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4)
                                           | st.sampled_from([b":", b"- ", b"\n", b"  ", b"{", b"[", b"'", b"\t"]))
        elif data:
            position = min(position, len(data) - 1)
            if operation == "delete":
                del data[position:position + draw(st.integers(1, 8))]
            else:
                data[position] = draw(st.integers(0, 255))
    return bytes(data)


@st.composite
def structured_kubeconfigs(draw: st.DrawFn, well_formed: bool = False) -> bytes:
    """Kubeconfig-shaped YAML with random values; unless ``well_formed``, random shapes and types too."""
    entry_names = st.sampled_from(["prod", "dev", "admin", "cert"])

    def entries(body_key: str, fields: dict[str, Any], required: dict[str, Any]) -> Any:
        if well_formed:
            body = st.fixed_dictionaries(required, optional=fields)
            entry = st.fixed_dictionaries({"name": entry_names, body_key: body})
            return st.lists(entry, min_size=1, max_size=4, unique_by=lambda item: item["name"])
        body = mostly(st.fixed_dictionaries({}, optional={**required, **fields}))
        entry = mostly(st.fixed_dictionaries({"name": mostly(entry_names)}, optional={body_key: body}))
        return mostly(st.lists(entry, max_size=4))

    sections = {
        "clusters": entries("cluster", {
            "certificate-authority-data": st.sampled_from(["%%%", KEY_DATA, ""]) | json_scalars,
            "certificate-authority": json_scalars, "insecure-skip-tls-verify": json_scalars,
        }, {"server": st.one_of(st.just("https://127.0.0.1:6443"), st.just("http://127.0.0.1:8080"),
                                st.sampled_from(["http://[::1", "ftp://x", "", "https://u:p@h:1/x?y", "https://h:99999"]),
                                json_scalars)}),
        "users": entries("user", {
            "token": st.just(SECRET_TOKEN) | json_scalars,
            "tokenFile": st.sampled_from(["/nonexistent/token", "relative-token"]) | json_scalars,
            "client-key-data": st.sampled_from([KEY_DATA, KEY_DATA[:20], "!!"]) | json_scalars,
            "client-certificate-data": st.sampled_from([KEY_DATA]) | json_scalars,
            "username": json_scalars, "password": st.just(SECRET_TOKEN) | json_scalars,
            "auth-provider": json_values,
            "exec": st.fixed_dictionaries({}, optional={"command": st.just("/nonexistent/plugin") | json_scalars,
                                                        "apiVersion": json_scalars}) | json_values,
        }, {}),
        "contexts": entries("context", {"namespace": json_scalars}, {
            "cluster": st.one_of(entry_names, entry_names, entry_names, json_scalars),
            "user": st.one_of(entry_names, entry_names, entry_names, json_scalars),
        }),
    }
    top = {"apiVersion": json_scalars, "kind": json_scalars,
           "current-context": st.sampled_from(["prod", "dev", "nope"]) | json_scalars}
    if well_formed:
        document = draw(st.fixed_dictionaries(sections, optional=top))
    else:
        document = draw(st.fixed_dictionaries({}, optional={**top, **sections}))
    return yaml.safe_dump(document, allow_unicode=True).encode()


kubeconfig_files = st.one_of(
    st.integers(0, len(BASE_KUBECONFIG)).map(lambda length: BASE_KUBECONFIG[:length]),
    mutated_kubeconfigs(),
    structured_kubeconfigs(),
    structured_kubeconfigs(well_formed=True),
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda value: yaml.safe_dump(value).encode()),
)


@pytest.fixture(scope="module")
def fuzz_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubeconfig-fuzz")


def _assert_no_secret(message: str) -> None:
    assert message.strip() and "Traceback" not in message
    assert SECRET_TOKEN not in message and SECRET_TOKEN[-16:] not in message
    assert SECRET_KEY_BODY[-24:] not in message and KEY_DATA[-24:] not in message


def _assert_clean_line(message: str) -> None:
    _assert_no_secret(message)
    assert "\n" not in message


@settings(FUZZ, max_examples=300)
@given(content=kubeconfig_files)
def test_kubeconfig_files_load_or_fail_with_one_clean_line(fuzz_directory: Path, content: bytes) -> None:
    path = fuzz_directory / "config"
    path.write_bytes(content)
    try:
        kubeconfig = load_kubeconfig(str(path), env={"HOME": str(fuzz_directory)})
    except KubeconfigError as error:
        _assert_clean_line(str(error))
        assert error.message == str(error)
        return
    # A broken context is shown through its ClusterStatus, whose message is joined to one line
    # (names from the file may hold line breaks); it must say why without quoting a credential.
    for target in build_targets(kubeconfig):
        if target.error is not None:
            _assert_no_secret(target.error)
            continue
        try:
            make_api_client(kubeconfig, target.name).close()
        except ContextError as error:
            _assert_no_secret(str(error))


# =============================================================================================
# Label and taint input

key_parts = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_./", max_size=70),
    st.sampled_from(["example.com/team", "a" * 63, "a" * 64, "-a", "a-", "kubernetes.io/", "/x", "x/y/z",
                     "A.B/c", "node-role.kubernetes.io/worker", "é", "a b"]),
)
value_parts = st.one_of(st.text(alphabet=string.ascii_letters + string.digits + "-_.:=", max_size=70),
                        st.sampled_from(["", "v" * 63, "v" * 64, "-v", "v-", "ünï"]))
effects = st.sampled_from([*TAINT_EFFECTS, "noschedule", "", "Bogus"])
label_specs = st.one_of(
    st.builds(lambda key, value: f"{key}={value}", key_parts, value_parts),
    st.builds(lambda key: f"{key}-", key_parts),
    key_parts, st.text(max_size=20),
)
taint_specs = st.one_of(
    st.builds(lambda key, value, effect: f"{key}={value}:{effect}", key_parts, value_parts, effects),
    st.builds(lambda key, effect: f"{key}:{effect}", key_parts, effects),
    st.builds(lambda key, effect: f"{key}:{effect}-", key_parts, effects),
    st.builds(lambda key: f"{key}-", key_parts),
    key_parts, st.text(max_size=20),
)
separators = st.sampled_from([" ", ",", ", ", "\t", "  ,"])


def joined(specs: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda parts, separator: separator.join(parts), st.lists(specs, max_size=4), separators)


@QUICK
@given(joined(label_specs) | st.text())
def test_label_input_parses_to_valid_changes_or_one_clear_line(text: str) -> None:
    try:
        changes = parse_label_changes(text)
    except OperationInputError as error:
        assert error.message == str(error) and error.message and "\n" not in error.message
        return
    assert changes
    for key, value in changes.items():
        assert qualified_name_problems(key) == []
        assert value is None or label_value_problems(value) == []


@QUICK
@given(joined(taint_specs) | st.text())
def test_taint_input_parses_to_valid_changes_or_one_clear_line(text: str) -> None:
    try:
        add, remove = parse_taint_changes(text)
    except OperationInputError as error:
        assert error.message == str(error) and error.message and "\n" not in error.message
        return
    assert add or remove
    for taint in add:
        assert qualified_name_problems(taint.key) == [] and label_value_problems(taint.value) == []
        assert taint.effect in TAINT_EFFECTS
    for key, effect in remove:
        assert qualified_name_problems(key) == [] and effect in (None, *TAINT_EFFECTS)


# =============================================================================================
# The simulator's selectors

selector_atoms = st.sampled_from(["app", "env", "tier", "example.com/zone", "!", "=", "==", "!=", "in", "notin",
                                  "(", ")", ",", " ", "a", "b", "1", "2", ">", "<", "-", "_", ".", "/", "é", "\\"])
selector_texts = st.one_of(st.lists(selector_atoms, max_size=12).map("".join),
                           st.lists(selector_atoms, max_size=12).map(" ".join), st.text(max_size=40))
selector_labels = st.dictionaries(st.sampled_from(["app", "env", "tier", "example.com/zone", "a"]),
                                  st.sampled_from(["a", "b", "1", "2", "", "web"]), max_size=4)


@QUICK
@given(selector_texts, selector_labels)
def test_label_selectors_parse_and_match_or_raise_selector_error(text: str, labels: dict[str, str]) -> None:
    try:
        selector = parse_label_selector(text)
    except SelectorError as error:
        assert str(error)
        return
    assert isinstance(selector.matches(labels), bool)


field_atoms = st.sampled_from(["metadata.name", "spec.nodeName", "status.phase", "spec.unschedulable",
                               "metadata.namespace", "involvedObject.kind", "=", "==", "!=", ",", "\\", "\\,",
                               "node-1", "Running", "true", " ", "x"])


@QUICK
@given(st.lists(field_atoms, max_size=10).map("".join) | st.text(max_size=30),
       st.sampled_from(["nodes", "pods", "events", "namespaces", "leases", "poddisruptionbudgets", "nodes/status"]))
def test_field_selectors_parse_and_match_or_raise_selector_error(text: str, resource: str) -> None:
    try:
        selector = parse_field_selector(text, resource)
    except SelectorError as error:
        assert str(error)
        return
    node = {"metadata": {"name": "node-1", "namespace": ""}, "spec": {"unschedulable": True, "nodeName": "node-1"},
            "status": {"phase": "Running"}, "involvedObject": {"kind": "Node"}}
    assert isinstance(selector.matches(node), bool)
