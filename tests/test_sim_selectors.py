"""Label and field selectors of the API simulator behave like kube-apiserver's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from knm_tui.sim.selectors import (
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector_object,
)
from conftest import REAL_OBJECTS, real_objects as load_objects

FIXTURES = REAL_OBJECTS


def by_name(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["metadata"]["name"] == name)


# ---------------------------------------------------------------------------------------------
# Label selectors
# ---------------------------------------------------------------------------------------------

LABELS = {"app": "web", "tier": "frontend", "empty": "", "count": "7"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("missing=x", False),
        ("app in (web,db)", True),
        ("app in (db,cache)", False),
        ("app notin (db,cache)", True),
        ("app notin (web)", False),
        ("missing notin (web)", True),
        ("missing in (web)", False),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("empty=", True),
        ("empty in ()", True),
        ("app in ()", False),
        ("count>5", True),
        ("count<5", False),
        ("app>5", False),
        ("app=web,tier=frontend", True),
        ("app=web,tier=backend", False),
        ("  app = web ,\ttier in ( frontend , x )  ", True),
    ],
)
def test_label_selector_matches_like_upstream(selector: str, expected: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is expected


def test_empty_label_selector_matches_everything_including_no_labels() -> None:
    selector = parse_label_selector("")
    assert selector.empty
    assert selector.matches(None)
    assert selector.matches({"a": "b"})


def test_non_empty_label_selector_is_not_empty_and_treats_none_as_no_labels() -> None:
    selector = parse_label_selector("!gone")
    assert not selector.empty
    assert selector.matches(None)
    assert not parse_label_selector("present").matches(None)


def test_in_and_notin_are_values_when_used_as_keys_or_values() -> None:
    selector = parse_label_selector("in in (in,notin)")
    assert selector.matches({"in": "notin"})
    assert not selector.matches({"in": "x"})


def test_label_selector_string_is_sorted_like_upstream() -> None:
    selector = parse_label_selector("z notin (),x in (foo,,baz),y")
    assert str(selector) == "x in (,baz,foo),y,z notin ()"


def test_qualified_keys_with_dns_prefix_are_accepted() -> None:
    selector = parse_label_selector("node-role.kubernetes.io/control-plane,kubernetes.io/os=linux")
    assert selector.matches({"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"})


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("a=b,!", "unable to parse requirement: found '', expected: identifier"),
    ],
)
def test_malformed_label_selectors_raise_upstream_messages(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector(selector)
    assert str(caught.value) == message


def test_invalid_label_key_is_reported_with_upstream_validation_text() -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector("bad_=x")
    assert str(caught.value) == (
        'unable to parse requirement: <nil>: Invalid value: "bad_": name part must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  "
        "or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    )


def test_invalid_label_key_prefix_is_rejected() -> None:
    with pytest.raises(SelectorError, match=r'Invalid value: "Example.com/a": prefix part a lowercase RFC 1123'):
        parse_label_selector("Example.com/a=1")


def test_too_long_label_key_is_rejected() -> None:
    with pytest.raises(SelectorError, match="name part must be no more than 63 characters"):
        parse_label_selector("k" * 64)


def test_invalid_label_value_names_the_value_path() -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector("app=web-")
    message = str(caught.value)
    assert message.startswith('unable to parse requirement: values[0][app]: Invalid value: "web-": a valid label')
    assert "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'" in message


def test_numeric_comparison_needs_an_integer() -> None:
    with pytest.raises(SelectorError, match="for 'Gt', 'Lt' operators, the value must be an integer"):
        parse_label_selector("count>abc")


def test_selector_error_is_a_value_error() -> None:
    assert issubclass(SelectorError, ValueError)


# ---------------------------------------------------------------------------------------------
# metav1.LabelSelector objects (PodDisruptionBudget selection)
# ---------------------------------------------------------------------------------------------


def test_null_label_selector_object_matches_nothing() -> None:
    selector = selector_from_label_selector_object(None)
    assert not selector.empty
    assert not selector.matches({})
    assert not selector.matches({"app": "web"})
    assert selector == LabelSelector.nothing()


def test_empty_label_selector_object_matches_every_pod() -> None:
    selector = selector_from_label_selector_object({})
    assert selector.empty
    assert selector.matches({"anything": "at-all"})
    assert selector_from_label_selector_object({"matchLabels": {}, "matchExpressions": []}).matches(None)


def test_match_labels_and_expressions_are_anded() -> None:
    selector = selector_from_label_selector_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["frontend", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
                {"key": "track", "operator": "NotIn", "values": ["beta"]},
            ],
        }
    )
    assert selector.matches({"app": "web", "tier": "edge", "zone": "a"})
    assert not selector.matches({"app": "web", "tier": "edge"})
    assert not selector.matches({"app": "web", "tier": "edge", "zone": "a", "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "edge", "zone": "a", "track": "beta"})
    assert not selector.matches({"app": "db", "tier": "edge", "zone": "a"})


def test_unknown_match_expression_operator_is_rejected() -> None:
    with pytest.raises(SelectorError) as caught:
        selector_from_label_selector_object({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})
    assert str(caught.value) == '"Gt" is not a valid label selector operator'


def test_in_expression_without_values_is_rejected() -> None:
    with pytest.raises(SelectorError, match="values set can't be empty"):
        selector_from_label_selector_object({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


def test_real_pdb_selects_only_its_pods() -> None:
    pdb = by_name(load_objects("pdb-list-disruptionsallowed0-qovery-engine.json"), "cilium-operator")
    selector = selector_from_label_selector_object(pdb["spec"]["selector"])
    assert selector.matches({"io.cilium/app": "operator", "name": "cilium-operator", "pod-template-hash": "x"})
    assert not selector.matches({"io.cilium/app": "operator"})


def test_real_pdb_does_not_select_unrelated_real_pods() -> None:
    pdb = load_objects("pdb-disruptionsallowed0-k9s.json")[0]
    selector = selector_from_label_selector_object(pdb["spec"]["selector"])
    pods = load_objects("eks-podlist-kube-system-cluster-info-dump.json")
    assert [pod for pod in pods if selector.matches(pod["metadata"].get("labels"))] == []
    coredns = parse_label_selector("k8s-app=kube-dns")
    assert sorted(pod["metadata"]["name"] for pod in pods if coredns.matches(pod["metadata"].get("labels"))) == [
        "coredns-789f8477df-knmwr",
        "coredns-789f8477df-psws6",
    ]


# ---------------------------------------------------------------------------------------------
# Field selectors
# ---------------------------------------------------------------------------------------------


def test_pod_field_selectors_use_upstream_string_values() -> None:
    pods = load_objects("eks-podlist-kube-system-cluster-info-dump.json")
    on_node = parse_field_selector("spec.nodeName=ip-10-0-10-170.ec2.internal", "pods")
    assert sorted(pod["metadata"]["name"] for pod in pods if on_node.matches(pod)) == [
        "aws-node-9t64t",
        "coredns-789f8477df-knmwr",
        "coredns-789f8477df-psws6",
        "kube-proxy-psxbf",
    ]
    host_network = parse_field_selector("spec.hostNetwork=true", "pods")
    not_host_network = parse_field_selector("spec.hostNetwork=false", "pods")
    coredns = by_name(pods, "coredns-789f8477df-knmwr")
    assert not host_network.matches(coredns) and not_host_network.matches(coredns)
    assert host_network.matches(by_name(pods, "kube-proxy-82mb2"))


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("status.phase=Running", True),
        ("status.phase!=Running", False),
        ("status.phase==Running,metadata.namespace=kube-system", True),
        ("status.podIP=10.0.10.194", True),
        ("spec.restartPolicy=Always", True),
        ("spec.schedulerName=default-scheduler", True),
        ("spec.serviceAccountName=coredns", True),
        ("status.nominatedNodeName=", True),
        ("metadata.name=coredns-789f8477df-knmwr", True),
        ("metadata.name=other", False),
        ("spec.host=ip-10-0-10-170.ec2.internal", True),
    ],
)
def test_pod_field_selector_terms(selector: str, expected: bool) -> None:
    pod = by_name(load_objects("eks-podlist-kube-system-cluster-info-dump.json"), "coredns-789f8477df-knmwr")
    assert parse_field_selector(selector, "pods").matches(pod) is expected


def test_pod_ip_comes_from_pod_ips_first() -> None:
    pod = {"status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.2"}]}}
    assert parse_field_selector("status.podIP=10.0.0.2", "pods").matches(pod)
    assert parse_field_selector("status.podIP=10.0.0.1", "pods").matches({"status": {"podIP": "10.0.0.1"}})


def test_node_unschedulable_is_false_when_missing() -> None:
    nodes = load_objects("kuberang-vagrant-centos-k8s1.4-list-cordoned-notready.json")
    cordoned = parse_field_selector("spec.unschedulable=true", "nodes")
    schedulable = parse_field_selector("spec.unschedulable=false", "nodes")
    assert [node["metadata"]["name"] for node in nodes if cordoned.matches(node)] == ["node1"]
    assert [node["metadata"]["name"] for node in nodes if schedulable.matches(node)] == ["node2", "node3", "node4"]
    assert parse_field_selector("spec.unschedulable!=true", "nodes").matches({"metadata": {"name": "n"}})


def test_event_field_selectors() -> None:
    event = {
        "metadata": {"name": "n1.17a", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": "n1", "uid": "u-1", "apiVersion": "v1"},
        "reason": "NodeNotReady",
        "type": "Normal",
        "reportingComponent": "node-controller",
        "source": {},
    }
    selector = parse_field_selector("involvedObject.kind=Node,involvedObject.name=n1,reason=NodeNotReady", "events")
    assert selector.matches(event)
    assert parse_field_selector("source=node-controller", "events").matches(event)
    assert parse_field_selector("involvedObject.namespace=", "events").matches(event)
    assert not parse_field_selector("type=Warning", "events").matches(event)


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ("nodes", "status.phase"),
        ("pods", "spec.unschedulable"),
        ("events", "spec.nodeName"),
        ("leases", "spec.holderIdentity"),
    ],
)
def test_unsupported_field_labels_are_rejected(resource: str, field: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_field_selector(f"{field}=x", resource)
    assert str(caught.value) == f"field label not supported: {field}"


def test_every_resource_offers_name_and_namespace() -> None:
    lease = {"metadata": {"name": "node-a", "namespace": "kube-node-lease"}}
    assert parse_field_selector("metadata.name=node-a,metadata.namespace=kube-node-lease", "leases").matches(lease)
    assert parse_field_selector("metadata.namespace=", "nodes").matches({"metadata": {"name": "n"}})


def test_exact_name_is_reported_for_name_equality_only() -> None:
    assert parse_field_selector("metadata.name=node-a", "nodes").exact_name() == "node-a"
    assert parse_field_selector("spec.unschedulable=true,metadata.name==node-b", "nodes").exact_name() == "node-b"
    assert parse_field_selector("metadata.name!=node-a", "nodes").exact_name() is None
    assert parse_field_selector("spec.unschedulable=true", "nodes").exact_name() is None


def test_empty_field_selector_matches_everything() -> None:
    selector = parse_field_selector("", "pods")
    assert selector.empty
    assert selector.matches({})
    assert not parse_field_selector("metadata.name=a", "pods").empty


def test_field_selector_values_understand_escapes() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d", "pods")
    assert selector.matches({"metadata": {"name": "a,b=c\\d"}})


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        (r"metadata.name=a\x", r"invalid field selector: invalid escape sequence: \x"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
    ],
)
def test_malformed_field_selectors_are_rejected(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_field_selector(selector, "pods")
    assert str(caught.value) == message


def test_subresource_suffix_does_not_change_the_supported_fields() -> None:
    assert parse_field_selector("spec.unschedulable=true", "nodes/status").matches({"spec": {"unschedulable": True}})
