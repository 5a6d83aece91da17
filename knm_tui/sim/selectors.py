"""Label and field selectors for the simulated API server, parsed and matched like kube-apiserver.

Label selectors follow ``k8s.io/apimachinery/pkg/labels``: ``=``, ``==``, ``!=``, ``in (a,b)``,
``notin (a,b)``, ``key`` (exists), ``!key`` (does not exist) and the numeric ``>``/``<``; a comma
means AND, blanks between tokens are ignored, and the empty string selects everything. Keys and
values are validated with upstream's rules, and errors carry upstream's wording (``unable to parse
requirement: ...``) so the server can return them verbatim in a 400 Status.

Field selectors follow ``k8s.io/apimachinery/pkg/fields``: ``=``, ``==`` and ``!=`` joined by
commas, with backslash escapes in values. Each resource accepts only the field labels its upstream
conversion function accepts; any other label is rejected with ``field label not supported: X``.
Values are compared as the strings upstream derives from the object (a missing string is ``""``,
booleans are ``"true"``/``"false"``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = [
    "FieldSelector",
    "FieldTerm",
    "LabelRequirement",
    "LabelSelector",
    "SelectorError",
    "parse_field_selector",
    "parse_label_selector",
    "selector_from_label_selector_object",
]


class SelectorError(ValueError):
    """A selector that cannot be parsed or used; the message is what the server returns in a 400."""


# --------------------------------------------------------------------------------------------
# Validation of label keys and values (k8s.io/apimachinery/pkg/util/validation)
# --------------------------------------------------------------------------------------------

_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_RE = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_MAX_LENGTH = 63

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MAX_LENGTH = 253

_LABEL_VALUE_FMT = f"({_QUALIFIED_NAME_FMT})?"
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MAX_LENGTH = 63


def _regex_error(message: str, pattern: str, *examples: str) -> str:
    """Upstream's RegexError text: the message, the examples and the pattern."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    quoted = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {quoted}regex used for validation is '{pattern}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _qualified_name_errors(value: str) -> list[str]:
    """The problems upstream's IsQualifiedName finds in a label key (empty list when valid)."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            if len(prefix) > _DNS1123_SUBDOMAIN_MAX_LENGTH:
                errors.append("prefix part " + _max_len_error(_DNS1123_SUBDOMAIN_MAX_LENGTH))
            if not _DNS1123_SUBDOMAIN_RE.match(prefix):
                errors.append(
                    "prefix part "
                    + _regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com")
                )
    else:
        return [
            "a qualified name "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > _QUALIFIED_NAME_MAX_LENGTH:
        errors.append("name part " + _max_len_error(_QUALIFIED_NAME_MAX_LENGTH))
    if not _QUALIFIED_NAME_RE.match(name):
        errors.append(
            "name part "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def _label_value_errors(value: str) -> list[str]:
    """The problems upstream's IsValidLabelValue finds in a label value (empty list when valid)."""
    errors: list[str] = []
    if len(value) > _LABEL_VALUE_MAX_LENGTH:
        errors.append(_max_len_error(_LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.match(value):
        errors.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def _go_quote(value: Any) -> str:
    """A bad value rendered like field.Error does: strings quoted, string lists as Go literals."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[]string{" + ", ".join(json.dumps(str(item), ensure_ascii=False) for item in value) + "}"
    return str(value)


def _invalid(path: str, value: Any, detail: str) -> str:
    """Upstream's field.Invalid(...).Error() text."""
    return f"{path}: Invalid value: {_go_quote(value)}: {detail}"


def _aggregate(errors: list[str]) -> str:
    """Upstream's utilerrors.Aggregate text: one message alone, several in brackets."""
    unique = list(dict.fromkeys(errors))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


# --------------------------------------------------------------------------------------------
# Label requirements and selectors
# --------------------------------------------------------------------------------------------

OP_EQUALS = "="
OP_DOUBLE_EQUALS = "=="
OP_NOT_EQUALS = "!="
OP_IN = "in"
OP_NOT_IN = "notin"
OP_EXISTS = "exists"
OP_DOES_NOT_EXIST = "!"
OP_GREATER_THAN = "gt"
OP_LESS_THAN = "lt"

_BINARY_OPERATORS = (
    OP_IN,
    OP_NOT_IN,
    OP_EQUALS,
    OP_DOUBLE_EQUALS,
    OP_NOT_EQUALS,
    OP_GREATER_THAN,
    OP_LESS_THAN,
)
_UNARY_OPERATORS = (OP_EXISTS, OP_DOES_NOT_EXIST)


def _parse_int64(text: str) -> int | None:
    """The value of a base-10 integer string as strconv.ParseInt reads it, or None."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    number = int(text)
    if not -(2**63) <= number < 2**63:
        return None
    return number


@dataclass(frozen=True)
class LabelRequirement:
    """One ANDed term of a label selector: a key, an operator and its values."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    @classmethod
    def create(cls, key: str, operator: str, values: Sequence[str], key_path: str = "key") -> LabelRequirement:
        """Build a requirement after upstream's NewRequirement checks; raise SelectorError if invalid."""
        errors: list[str] = []
        key_errors = _qualified_name_errors(key)
        if key_errors:
            errors.append(_invalid(key_path, key, "; ".join(key_errors)))
        values = list(values)
        if operator in (OP_IN, OP_NOT_IN):
            if not values:
                errors.append(_invalid("values", values, "for 'in', 'notin' operators, values set can't be empty"))
        elif operator in (OP_EQUALS, OP_DOUBLE_EQUALS, OP_NOT_EQUALS):
            if len(values) != 1:
                errors.append(_invalid("values", values, "exact-match compatibility requires one single value"))
        elif operator in _UNARY_OPERATORS:
            if values:
                errors.append(_invalid("values", values, "values set must be empty for exists and does not exist"))
        elif operator in (OP_GREATER_THAN, OP_LESS_THAN):
            if len(values) != 1:
                errors.append(
                    _invalid("values", values, "for 'Gt', 'Lt' operators, exactly one value is required")
                )
            for index, value in enumerate(values):
                if _parse_int64(value) is None:
                    errors.append(
                        _invalid(f"values[{index}]", value, "for 'Gt', 'Lt' operators, the value must be an integer")
                    )
        else:
            supported = ", ".join(f'"{op}"' for op in (*_BINARY_OPERATORS, *_UNARY_OPERATORS))
            errors.append(f'operator: Unsupported value: "{operator}": supported values: {supported}')
        for index, value in enumerate(values):
            value_errors = _label_value_errors(value)
            if value_errors:
                errors.append(_invalid(f"values[{index}][{key}]", value, "; ".join(value_errors)))
        if errors:
            raise SelectorError(_aggregate(errors))
        return cls(key, operator, tuple(values))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when the labels satisfy this requirement (upstream's Requirement.Matches)."""
        present = self.key in labels
        if self.operator in (OP_IN, OP_EQUALS, OP_DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if self.operator in (OP_NOT_IN, OP_NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if self.operator == OP_EXISTS:
            return present
        if self.operator == OP_DOES_NOT_EXIST:
            return not present
        if self.operator in (OP_GREATER_THAN, OP_LESS_THAN):
            if not present or len(self.values) != 1:
                return False
            have = _parse_int64(labels[self.key])
            want = _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if self.operator == OP_GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        if self.operator == OP_DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator == OP_EXISTS:
            return self.key
        values = ",".join(sorted(self.values)) if len(self.values) > 1 else "".join(self.values)
        if self.operator in (OP_IN, OP_NOT_IN):
            return f"{self.key} {self.operator} ({values})"
        symbol = {OP_GREATER_THAN: ">", OP_LESS_THAN: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{values}"


class LabelSelector:
    """An AND of label requirements; or, for a null metav1.LabelSelector, a selector matching nothing."""

    __slots__ = ("_requirements", "_matches_nothing")

    def __init__(self, requirements: Iterable[LabelRequirement] = (), *, matches_nothing: bool = False) -> None:
        self._requirements: tuple[LabelRequirement, ...] = tuple(sorted(requirements, key=lambda r: r.key))
        self._matches_nothing = matches_nothing

    @classmethod
    def everything(cls) -> LabelSelector:
        """The selector that matches every label set."""
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelector:
        """The selector that matches no label set (upstream's labels.Nothing())."""
        return cls(matches_nothing=True)

    @property
    def requirements(self) -> tuple[LabelRequirement, ...]:
        """The requirements, sorted by key as upstream keeps them."""
        return self._requirements

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (it matches every label set)."""
        return not self._matches_nothing and not self._requirements

    @property
    def matches_nothing(self) -> bool:
        """True for the selector built from a null metav1.LabelSelector."""
        return self._matches_nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when every requirement holds for the labels (None counts as no labels)."""
        if self._matches_nothing:
            return False
        label_map = labels or {}
        return all(requirement.matches(label_map) for requirement in self._requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self._requirements)

    def __repr__(self) -> str:
        if self._matches_nothing:
            return "LabelSelector.nothing()"
        return f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self._requirements == other._requirements and self._matches_nothing == other._matches_nothing

    def __hash__(self) -> int:
        return hash((self._requirements, self._matches_nothing))


# Lexer tokens.
_TOKEN_ERROR = "error"
_TOKEN_END = "end"
_TOKEN_CLOSE_PAREN = ")"
_TOKEN_COMMA = ","
_TOKEN_NOT = "!"
_TOKEN_DOUBLE_EQUALS = "=="
_TOKEN_EQUALS = "="
_TOKEN_GREATER_THAN = ">"
_TOKEN_IDENTIFIER = "identifier"
_TOKEN_IN = "in"
_TOKEN_LESS_THAN = "<"
_TOKEN_NOT_EQUALS = "!="
_TOKEN_NOT_IN = "notin"
_TOKEN_OPEN_PAREN = "("

_LITERAL_TOKENS = {
    ")": _TOKEN_CLOSE_PAREN,
    ",": _TOKEN_COMMA,
    "!": _TOKEN_NOT,
    "==": _TOKEN_DOUBLE_EQUALS,
    "=": _TOKEN_EQUALS,
    ">": _TOKEN_GREATER_THAN,
    "in": _TOKEN_IN,
    "<": _TOKEN_LESS_THAN,
    "!=": _TOKEN_NOT_EQUALS,
    "notin": _TOKEN_NOT_IN,
    "(": _TOKEN_OPEN_PAREN,
}
_OPERATOR_BY_TOKEN = {
    _TOKEN_IN: OP_IN,
    _TOKEN_EQUALS: OP_EQUALS,
    _TOKEN_DOUBLE_EQUALS: OP_DOUBLE_EQUALS,
    _TOKEN_GREATER_THAN: OP_GREATER_THAN,
    _TOKEN_LESS_THAN: OP_LESS_THAN,
    _TOKEN_NOT_IN: OP_NOT_IN,
    _TOKEN_NOT_EQUALS: OP_NOT_EQUALS,
}
_WHITESPACE = " \t\r\n"
_SPECIAL_SYMBOLS = "=!(),><"


def _lex(text: str) -> list[tuple[str, str]]:
    """Split a label selector into (token, literal) pairs ending with the end-of-string token."""
    items: list[tuple[str, str]] = []
    position = 0
    length = len(text)
    while True:
        while position < length and text[position] in _WHITESPACE:
            position += 1
        if position >= length:
            items.append((_TOKEN_END, ""))
            return items
        if text[position] in _SPECIAL_SYMBOLS:
            # Longest run of symbols that still forms a known operator, as upstream scans it.
            buffer = ""
            matched: tuple[str, str] | None = None
            while position < length and text[position] in _SPECIAL_SYMBOLS:
                candidate = buffer + text[position]
                if candidate in _LITERAL_TOKENS:
                    buffer = candidate
                    matched = (_LITERAL_TOKENS[candidate], candidate)
                    position += 1
                elif matched is not None:
                    break
                else:
                    buffer = candidate
                    position += 1
            if matched is None:
                items.append((_TOKEN_ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                items.append(matched)
            continue
        start = position
        while position < length and text[position] not in _SPECIAL_SYMBOLS and text[position] not in _WHITESPACE:
            position += 1
        word = text[start:position]
        items.append((_LITERAL_TOKENS.get(word, _TOKEN_IDENTIFIER), word))


class _LabelSelectorParser:
    """Recursive-descent parser with upstream's grammar and error messages."""

    def __init__(self, text: str) -> None:
        self._items = _lex(text)
        self._position = 0

    def _peek(self, values_context: bool) -> tuple[str, str]:
        token, literal = self._items[self._position]
        if values_context and token in (_TOKEN_IN, _TOKEN_NOT_IN):
            token = _TOKEN_IDENTIFIER
        return token, literal

    def _take(self, values_context: bool) -> tuple[str, str]:
        item = self._peek(values_context)
        self._position += 1
        return item

    def parse(self) -> list[LabelRequirement]:
        requirements: list[LabelRequirement] = []
        while True:
            token, literal = self._peek(True)
            if token in (_TOKEN_IDENTIFIER, _TOKEN_NOT):
                try:
                    requirements.append(self._requirement())
                except SelectorError as error:
                    raise SelectorError(f"unable to parse requirement: {error}") from None
                token, literal = self._take(True)
                if token == _TOKEN_END:
                    return requirements
                if token == _TOKEN_COMMA:
                    next_token, next_literal = self._peek(True)
                    if next_token not in (_TOKEN_IDENTIFIER, _TOKEN_NOT):
                        raise SelectorError(f"found '{next_literal}', expected: identifier after ','")
                    continue
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            if token == _TOKEN_END:
                return requirements
            raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> LabelRequirement:
        key, operator = self._key_and_inferred_operator()
        if operator in _UNARY_OPERATORS:
            return LabelRequirement.create(key, operator, [])
        operator = self._operator()
        if operator in (OP_IN, OP_NOT_IN):
            values = self._value_set()
        else:
            values = self._exact_value()
        return LabelRequirement.create(key, operator, sorted(values))

    def _key_and_inferred_operator(self) -> tuple[str, str]:
        operator = ""
        token, literal = self._take(True)
        if token == _TOKEN_NOT:
            operator = OP_DOES_NOT_EXIST
            token, literal = self._take(True)
        if token != _TOKEN_IDENTIFIER:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key_errors = _qualified_name_errors(literal)
        if key_errors:
            raise SelectorError(_invalid("<nil>", literal, "; ".join(key_errors)))
        next_token, _ = self._peek(True)
        if next_token in (_TOKEN_END, _TOKEN_COMMA) and operator != OP_DOES_NOT_EXIST:
            operator = OP_EXISTS
        return literal, operator

    def _operator(self) -> str:
        token, literal = self._take(False)
        operator = _OPERATOR_BY_TOKEN.get(token)
        if operator is None:
            raise SelectorError(f"found '{literal}', expected: {', '.join(_BINARY_OPERATORS)}")
        return operator

    def _value_set(self) -> set[str]:
        token, literal = self._take(True)
        if token != _TOKEN_OPEN_PAREN:
            raise SelectorError(f"found '{literal}' expected: '('")
        token, literal = self._peek(True)
        if token in (_TOKEN_IDENTIFIER, _TOKEN_COMMA):
            values = self._identifier_list()
            closing, _ = self._take(True)
            if closing != _TOKEN_CLOSE_PAREN:
                raise SelectorError(f"found '{literal}', expected: ')'")
            return values
        if token == _TOKEN_CLOSE_PAREN:
            self._take(True)
            return {""}
        raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")

    def _identifier_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self._take(True)
            if token == _TOKEN_IDENTIFIER:
                values.add(literal)
                next_token, next_literal = self._peek(True)
                if next_token == _TOKEN_COMMA:
                    continue
                if next_token == _TOKEN_CLOSE_PAREN:
                    return values
                raise SelectorError(f"found '{next_literal}', expected: ',' or ')'")
            if token == _TOKEN_COMMA:
                if not values:
                    values.add("")
                next_token, _ = self._peek(True)
                if next_token == _TOKEN_CLOSE_PAREN:
                    values.add("")
                    return values
                if next_token == _TOKEN_COMMA:
                    self._take(True)
                    values.add("")
                continue
            raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        token, _ = self._peek(True)
        if token in (_TOKEN_END, _TOKEN_COMMA):
            return {""}
        token, literal = self._take(True)
        if token == _TOKEN_IDENTIFIER:
            return {literal}
        raise SelectorError(f"found '{literal}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a ``labelSelector`` query value; the empty string selects everything.

    Raises SelectorError with upstream's message for a malformed selector or an invalid key/value.
    """
    return LabelSelector(_LabelSelectorParser(text or "").parse())


_MATCH_EXPRESSION_OPERATORS = {
    "In": OP_IN,
    "NotIn": OP_NOT_IN,
    "Exists": OP_EXISTS,
    "DoesNotExist": OP_DOES_NOT_EXIST,
}


def selector_from_label_selector_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Turn a metav1.LabelSelector object into a selector, as upstream's LabelSelectorAsSelector does.

    ``None`` (a null selector) matches nothing; an object with neither ``matchLabels`` nor
    ``matchExpressions`` (``{}``) matches everything, which for a policy/v1 PodDisruptionBudget
    means every pod in its namespace. Raises SelectorError for an unknown operator or invalid
    keys/values.
    """
    if selector is None:
        return LabelSelector.nothing()
    if not isinstance(selector, Mapping):
        raise SelectorError(f"invalid label selector: {selector!r}")
    match_labels = selector.get("matchLabels") or {}
    match_expressions = selector.get("matchExpressions") or []
    if not match_labels and not match_expressions:
        return LabelSelector.everything()
    requirements: list[LabelRequirement] = []
    for key, value in match_labels.items():
        requirements.append(LabelRequirement.create(str(key), OP_EQUALS, ["" if value is None else str(value)]))
    for expression in match_expressions:
        if not isinstance(expression, Mapping):
            raise SelectorError(f"invalid label selector requirement: {expression!r}")
        operator_name = expression.get("operator")
        operator = _MATCH_EXPRESSION_OPERATORS.get(operator_name) if isinstance(operator_name, str) else None
        if operator is None:
            raise SelectorError(f"{json.dumps(operator_name)} is not a valid label selector operator")
        values = [str(value) for value in expression.get("values") or []]
        requirements.append(LabelRequirement.create(str(expression.get("key", "")), operator, values))
    return LabelSelector(requirements)


# --------------------------------------------------------------------------------------------
# Field selectors
# --------------------------------------------------------------------------------------------


def _dig(obj: Mapping[str, Any], *path: str) -> Any:
    """The value at a key path, or None when any step is missing or not an object."""
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _string_at(*path: str) -> Callable[[Mapping[str, Any]], str]:
    """An extractor giving the string at a key path, "" when missing."""

    def extract(obj: Mapping[str, Any]) -> str:
        value = _dig(obj, *path)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return extract


def _bool_at(*path: str) -> Callable[[Mapping[str, Any]], str]:
    """An extractor giving "true"/"false" for a boolean at a key path, "false" when missing."""

    def extract(obj: Mapping[str, Any]) -> str:
        return "true" if _dig(obj, *path) is True else "false"

    return extract


def _pod_ip(pod: Mapping[str, Any]) -> str:
    """The pod's primary IP as upstream selects on it: podIPs[0], else podIP."""
    pod_ips = _dig(pod, "status", "podIPs")
    if isinstance(pod_ips, list) and pod_ips and isinstance(pod_ips[0], Mapping):
        return str(pod_ips[0].get("ip") or "")
    return _string_at("status", "podIP")(pod)


def _event_source(event: Mapping[str, Any]) -> str:
    """The event's source as upstream selects on it: source.component, else reportingComponent."""
    return _string_at("source", "component")(event) or _string_at("reportingComponent")(event)


_FieldExtractor = Callable[[Mapping[str, Any]], str]

_COMMON_FIELDS: dict[str, _FieldExtractor] = {
    "metadata.name": _string_at("metadata", "name"),
    "metadata.namespace": _string_at("metadata", "namespace"),
}

_FIELDS_BY_RESOURCE: dict[str, dict[str, _FieldExtractor]] = {
    "pods": {
        **_COMMON_FIELDS,
        "spec.nodeName": _string_at("spec", "nodeName"),
        "spec.restartPolicy": _string_at("spec", "restartPolicy"),
        "spec.schedulerName": _string_at("spec", "schedulerName"),
        "spec.serviceAccountName": _string_at("spec", "serviceAccountName"),
        "spec.hostNetwork": _bool_at("spec", "hostNetwork"),
        "status.phase": _string_at("status", "phase"),
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": _string_at("status", "nominatedNodeName"),
    },
    "nodes": {
        **_COMMON_FIELDS,
        "spec.unschedulable": _bool_at("spec", "unschedulable"),
    },
    "events": {
        **_COMMON_FIELDS,
        "involvedObject.kind": _string_at("involvedObject", "kind"),
        "involvedObject.namespace": _string_at("involvedObject", "namespace"),
        "involvedObject.name": _string_at("involvedObject", "name"),
        "involvedObject.uid": _string_at("involvedObject", "uid"),
        "involvedObject.apiVersion": _string_at("involvedObject", "apiVersion"),
        "involvedObject.resourceVersion": _string_at("involvedObject", "resourceVersion"),
        "involvedObject.fieldPath": _string_at("involvedObject", "fieldPath"),
        "reason": _string_at("reason"),
        "reportingComponent": _string_at("reportingComponent"),
        "source": _event_source,
        "type": _string_at("type"),
    },
}

# Old field labels upstream still accepts and rewrites.
_FIELD_ALIASES: dict[str, dict[str, str]] = {"pods": {"spec.host": "spec.nodeName"}}


def _resource_key(resource: str) -> str:
    """The plural resource name a selector is for, without any subresource."""
    return resource.split("/", 1)[0].strip().lower()


def supported_field_labels(resource: str) -> frozenset[str]:
    """The field labels a resource accepts in a fieldSelector."""
    return frozenset(_FIELDS_BY_RESOURCE.get(_resource_key(resource), _COMMON_FIELDS))


@dataclass(frozen=True)
class FieldTerm:
    """One ANDed term of a field selector: ``field = value`` or ``field != value``."""

    field: str
    operator: str
    value: str

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.operator}{escaped}"


class FieldSelector:
    """An AND of field terms over the selectable fields of one resource."""

    __slots__ = ("_terms", "_extractors")

    def __init__(self, terms: Iterable[FieldTerm], resource: str) -> None:
        self._terms = tuple(terms)
        self._extractors = _FIELDS_BY_RESOURCE.get(_resource_key(resource), _COMMON_FIELDS)

    @property
    def terms(self) -> tuple[FieldTerm, ...]:
        """The terms, in the order upstream sorts them."""
        return self._terms

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything."""
        return not self._terms

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """True when every term holds for the object's selectable fields."""
        for term in self._terms:
            actual = self._extractors[term.field](obj)
            if (actual == term.value) != (term.operator == "="):
                return False
        return True

    def exact_name(self) -> str | None:
        """The name required by a ``metadata.name=X`` term, or None when there is none."""
        for term in self._terms:
            if term.field == "metadata.name" and term.operator == "=":
                return term.value
        return None

    def __str__(self) -> str:
        return ",".join(str(term) for term in self._terms)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def _split_unescaped_commas(text: str) -> list[str]:
    """Split on commas not preceded by a backslash escape (upstream's splitTerms)."""
    parts: list[str] = []
    start = 0
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _split_term(term: str) -> tuple[str, str, str] | None:
    """Split ``field<op>value`` at the first ``!=``, ``==`` or ``=`` (upstream's splitTerm)."""
    for index in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


def _unescape_value(value: str) -> str:
    """Undo ``\\\\``, ``\\,`` and ``\\=`` escapes; reject others and bare ``,``/``=``."""
    if "\\" not in value and "=" not in value and "," not in value:
        return value
    result: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            result.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            result.append(char)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(result)


def parse_field_selector(text: str, resource: str) -> FieldSelector:
    """Parse a ``fieldSelector`` query value for a resource (``pods``, ``nodes``, ``events``, ...).

    Raises SelectorError for malformed syntax, or ``field label not supported: X`` for a field the
    resource does not offer.
    """
    key = _resource_key(resource)
    extractors = _FIELDS_BY_RESOURCE.get(key, _COMMON_FIELDS)
    aliases = _FIELD_ALIASES.get(key, {})
    parsed: list[tuple[str, str, str]] = []
    for part in sorted(_split_unescaped_commas(text or "")):
        if part == "":
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, operator, raw_value = split
        parsed.append((field, "!=" if operator == "!=" else "=", _unescape_value(raw_value)))
    terms: list[FieldTerm] = []
    for field, operator, value in parsed:
        field = aliases.get(field, field)
        if field not in extractors:
            raise SelectorError(f"field label not supported: {field}")
        terms.append(FieldTerm(field, operator, value))
    return FieldSelector(terms, resource)
