"""Bounds on a filter's size, checked by a cheap scan before the filter is parsed.

Parsing a filter (scim2-models' lark grammar) and translating it to SQL (``filters.py``) is pure
Python on the event loop: 3 to 5 µs a character, and about 1 ms a comparison to translate. A
64 KB filter of nested parentheses, or thousands of ``or`` terms refused only after the full
parse, held the loop 0.1 to 0.5 s each, and other clients waited. The scan here reads the text
once (string literals skipped) and refuses, with ``invalidFilter`` and the limit in the
message, a filter that is longer than ``max_length`` characters, nests parentheses or brackets
deeper than ``max_depth``, or holds more than ``max_terms`` comparisons (``eq`` ... ``le`` and
``pr`` are counted; an attribute named like an operator counts too, which only errs towards
refusing). RFC 7644 §5 has no place for these limits in ``/ServiceProviderConfig``
(``filter.maxResults`` bounds results, not filters): they are settings
(``SCIM_BRIDGE_FILTER_MAX_LENGTH``, ``..._MAX_DEPTH``, ``..._MAX_TERMS``), told in the README and
openapi/openapi.yaml. Identity providers send one to three comparisons (``userName eq "x"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scim2_models import InvalidFilterException

__all__ = ["CEILING", "DEFAULT_FILTER_LIMITS", "FilterLimits", "check_filter", "violation"]

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # a JSON string literal: its content has no structure
_NESTING = re.compile(r"[()\[\]]")
_OPERATOR = re.compile(r"(?<![\w$:.\-])(?:eq|ne|co|sw|ew|gt|lt|ge|le|pr)(?![\w$:.\-])", re.IGNORECASE)
@dataclass(frozen=True, slots=True)
class FilterLimits:
    """How large a filter this server parses (the defaults are the settings' defaults)."""

    max_length: int = 2048
    max_depth: int = 8
    max_terms: int = 16

    @classmethod
    def from_settings(cls, settings: Any) -> FilterLimits:
        """The limits ``Settings`` configures (``filter_max_length``, ``_depth``, ``_terms``)."""
        return cls(settings.filter_max_length, settings.filter_max_depth, settings.filter_max_terms)


DEFAULT_FILTER_LIMITS = FilterLimits()
CEILING = FilterLimits(max_length=16_384, max_depth=32, max_terms=200)
"""The most the settings may allow (``Settings`` bounds them so), and what ``filters`` enforces
whatever its caller checked: SQLite refuses expressions nested deeper than 1000, scim2-models
filters nesting more than 32 expressions, and a filter at these bounds still costs the event
loop tens of milliseconds."""


def violation(text: str, limits: FilterLimits, what: str = "filter") -> str | None:
    """Why ``text`` is over ``limits``, as a message naming the limit; None when it is within.

    Costs one pass of C-implemented regular expressions over at most ``max_length`` characters.
    """
    if len(text) > limits.max_length:
        return f"The {what} is longer than {limits.max_length} characters."
    bare = _STRING.sub('""', text)
    depth = deepest = 0
    for match in _NESTING.finditer(bare):
        depth = depth + 1 if match.group() in "([" else max(0, depth - 1)
        deepest = max(deepest, depth)
    if deepest > limits.max_depth:
        return f"The {what} nests parentheses or brackets deeper than {limits.max_depth} levels."
    if len(_OPERATOR.findall(bare)) > limits.max_terms:
        return f"The {what} has more than {limits.max_terms} comparisons."
    return None


def check_filter(text: str, limits: FilterLimits = DEFAULT_FILTER_LIMITS) -> None:
    """:raises InvalidFilterException: ``text`` is over ``limits`` (see :func:`violation`)."""
    reason = violation(text, limits)
    if reason is not None:
        raise InvalidFilterException(detail=reason)
