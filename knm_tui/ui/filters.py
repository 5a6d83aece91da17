"""The node filter typed after ``/``: name substrings, kubectl-style label selectors, shortcuts.

A filter is a list of terms separated by blanks; a row must match every term. A term is:

- a **shortcut**, optionally negated with ``!``: ``ready``, ``notready``, ``cordoned``,
  ``pressure``, ``stale`` (heartbeat stopped), ``unhealthy`` (not Ready, pressure or stale),
  ``tainted``, ``control-plane``; ``!ready`` means ``notready``;
- a **label selector** as ``kubectl -l`` takes it: requirements joined by commas, each one of
  ``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``, ``key``
  (exists) and ``!key`` (does not exist). A term is read as a selector when it holds ``=``, a
  comma, parentheses or a ``/`` (node names never contain one), or is ``!`` plus a word that is
  not a shortcut;
- anything else: a **substring of the node name**, case-insensitive.

``parse_filter`` raises :class:`FilterError` with a one-line reason for a malformed selector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

from knm_tui.ui.format import RowData
from knm_tui.ui.node_table import TableRow

RowDataPredicate = Callable[[RowData], bool]


class FilterError(ValueError):
    """The filter text cannot be used; ``str(error)`` says why in one line."""


def _is_unhealthy(data: RowData) -> bool:
    view = data.view
    return view.status != "Ready" or data.heartbeat_stale or bool(view.pressure_conditions)


SHORTCUTS: Mapping[str, RowDataPredicate] = {
    "ready": lambda data: data.view.status == "Ready",
    "notready": lambda data: data.view.status != "Ready",
    "cordoned": lambda data: data.view.cordoned,
    "pressure": lambda data: bool(data.view.pressure_conditions),
    "stale": lambda data: data.heartbeat_stale,
    "unhealthy": _is_unhealthy,
    "tainted": lambda data: bool(data.view.taints),
    "control-plane": lambda data: data.view.is_control_plane,
}
"""Shortcut words and what they select (each can be negated with a leading ``!``)."""

_SET_REQUIREMENT = re.compile(r"^([^\s!=(),]+)\s+(in|notin)\s*\((.*)\)$", re.IGNORECASE)
_SELECTOR_MARKERS = ("=", ",", "(", ")", "/")


@dataclass(frozen=True)
class NodeFilter:
    """A parsed filter; call it with a table row (its ``data`` is a RowData) to test the row."""

    text: str
    predicates: tuple[RowDataPredicate, ...]

    def __call__(self, row: TableRow) -> bool:
        """Whether the row matches every term."""
        return self.matches(row.data)

    def matches(self, data: RowData) -> bool:
        """Whether a node (as a RowData) matches every term."""
        for predicate in self.predicates:
            if not predicate(data):
                return False
        return True


def parse_filter(text: str) -> NodeFilter | None:
    """Parse filter text; ``None`` for blank text (show every row). Raises FilterError."""
    terms = _split_terms(text)
    if not terms:
        return None
    return NodeFilter(text=text.strip(), predicates=tuple(_parse_term(term) for term in terms))


def _split_terms(text: str) -> list[str]:
    """Split on blanks outside parentheses, then rejoin ``key in (..)`` and ``key = value``."""
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char.isspace() and depth == 0:
            if current:
                pieces.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        pieces.append("".join(current))

    terms: list[str] = []
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        following = pieces[index + 1] if index + 1 < len(pieces) else ""
        after = pieces[index + 2] if index + 2 < len(pieces) else ""
        if following.lower() in ("in", "notin") and after.startswith("("):
            terms.append(f"{piece} {following} {after}")
            index += 3
        elif following in ("=", "==", "!=") and after:
            terms.append(f"{piece}{following}{after}")
            index += 3
        elif following.lower().startswith(("in(", "notin(")):
            operator, _, rest = following.partition("(")
            terms.append(f"{piece} {operator} ({rest}")
            index += 2
        else:
            terms.append(piece)
            index += 1
    return terms


def _parse_term(term: str) -> RowDataPredicate:
    lowered = term.lower()
    negated = lowered.startswith("!")
    word = lowered[1:] if negated else lowered
    if word in SHORTCUTS:
        predicate = SHORTCUTS[word]
        return (lambda data: not predicate(data)) if negated else predicate
    if negated or any(marker in term for marker in _SELECTOR_MARKERS):
        return _parse_selector(term)
    needle = lowered

    def name_contains(data: RowData) -> bool:
        return needle in data.view.name.lower()

    return name_contains


def _split_requirements(selector: str) -> list[str]:
    """Split a selector on commas outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise FilterError(f"unbalanced ')' in {selector!r}")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth:
        raise FilterError(f"missing ')' in {selector!r}")
    parts.append("".join(current).strip())
    return parts


def _parse_selector(selector: str) -> RowDataPredicate:
    requirements = []
    for requirement in _split_requirements(selector):
        if not requirement:
            raise FilterError(f"empty requirement in label selector {selector!r}")
        requirements.append(_parse_requirement(requirement))

    def matches_selector(data: RowData) -> bool:
        labels = data.view.labels
        return all(requirement(labels) for requirement in requirements)

    return matches_selector


def _check_key(key: str, requirement: str) -> str:
    if not key or any(char.isspace() or char in "!=(),<>" for char in key):
        raise FilterError(f"invalid label key in {requirement!r}")
    return key


def _parse_requirement(requirement: str) -> Callable[[Mapping[str, str]], bool]:
    set_match = _SET_REQUIREMENT.match(requirement)
    if set_match:
        key, operator, values_text = set_match.groups()
        values = frozenset(value.strip() for value in values_text.split(",") if value.strip())
        if not values:
            raise FilterError(f"{operator} needs at least one value in {requirement!r}")
        if operator.lower() == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for operator in ("!=", "==", "="):
        if operator in requirement:
            key, _, value = requirement.partition(operator)
            key, value = _check_key(key.strip(), requirement), value.strip()
            if any(char in value for char in "!=(), "):
                raise FilterError(f"invalid label value in {requirement!r}")
            if operator == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if requirement.startswith("!"):
        key = _check_key(requirement[1:].strip(), requirement)
        return lambda labels: key not in labels
    key = _check_key(requirement, requirement)
    return lambda labels: key in labels
