"""The value index: one ``scim_user_values`` row per leaf value of a user document.

Filters and sorting on any attribute that is not a column of ``scim_users`` run against
these rows (see ``scim_server.scim.filters``). A row carries:

- ``path``: the lower-cased attribute path without the core schema URN (``emails.value``,
  ``name.givenname``, ``urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department``);
- ``elem``: the index of the element of a multi-valued attribute (0 otherwise), so that the
  sub-attributes of one element can be matched together (value paths, RFC 7644 §3.4.2.2);
- ``value``: the value as text (booleans ``true``/``false``, dateTimes as fixed-width ISO-8601
  UTC so that text order is time order, numbers as text);
- ``value_ci``: the comparison key, scim2-models' ``default_comparison_key`` (NFC, and lower
  case unless the attribute is caseExact, RFC 7643 §2.2), so that SQL compares exactly as
  ``ScimFilter.match`` does;
- ``value_num``: the number, for numeric attributes.

Attributes kept as columns (``id``, ``userName``, ``externalId``, ``active``, ``meta``) get no
rows; ``password`` is never indexed; ``groups`` is read-only and lives in
``scim_group_members``. ``displayName`` *is* indexed: the users table has no case-folded
column for it, and it is caseExact=false.

The per-attribute metadata is computed once from scim2-models' bindings of
``User[EnterpriseUser]``, so indexing a document is a dictionary walk (~17 µs for a typical
Okta user).

The second half holds how these stored forms compare in SQL (``Col``, ``compare_column``,
``codepoint``): the operand of a filter is put in the stored form and compared by code
point on SQLite and PostgreSQL alike, as Python (and so ``ScimFilter.match``) compares.
"""

from __future__ import annotations

import base64
import operator
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from inspect import isclass
from typing import Any

from pydantic import BaseModel as PydanticModel
from scim2_models import InvalidFilterException, Path
from sqlalchemy import ColumnElement, Integer, Text, and_, false, func, literal, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from scim_server.scim.models import UserModel

USER_MODEL = UserModel
CORE_USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"

# Attributes that are columns of scim_users, secret, or stored elsewhere: no value rows.
NOT_INDEXED = frozenset({"id", "username", "externalid", "active", "meta", "password", "groups"})

STR, BOOL, DATETIME, NUM, BINARY = "str", "bool", "datetime", "num", "binary"


def comparison_key(value: str, case_exact: bool = False) -> str:
    """The string comparisons use in place of ``value``: scim2-models' default key.

    NFC, then lower case unless ``case_exact``. Use it for every ``*_ci`` column too
    (``user_name_ci``, ``display_name_ci``) so that columns and value rows agree with
    ``ScimFilter.match``.
    """
    if value.isascii():
        return value if case_exact else value.lower()
    normalized = unicodedata.normalize("NFC", value)
    if case_exact:
        return normalized
    return unicodedata.normalize("NFC", normalized.lower())


def storage_path(urn: str) -> str:
    """The ``path`` of an attribute from its scim2-models binding URN."""
    lowered = urn.lower()
    for core in (CORE_USER_URN.lower() + ":", CORE_GROUP_URN.lower() + ":"):
        if lowered.startswith(core):
            return lowered[len(core) :]
    return lowered


def kind_of(target_type: Any) -> str:
    """The storage kind of a scim2-models attribute type."""
    if not isclass(target_type):
        return STR
    if issubclass(target_type, bool):
        return BOOL
    if issubclass(target_type, datetime):
        return DATETIME
    if issubclass(target_type, int | float | Decimal):
        return NUM
    if issubclass(target_type, bytes):
        return BINARY
    return STR


@dataclass(frozen=True, slots=True)
class Leaf:
    """A simple attribute or sub-attribute: where its rows go and how they compare."""

    path: str
    kind: str
    case_exact: bool


@dataclass(slots=True)
class Attr:
    """A top-level attribute of the document (or of the enterprise extension)."""

    path: str
    multi: bool
    leaf: Leaf | None  # a simple attribute (or a primitive array)
    subs: dict[str, Leaf] = field(default_factory=dict)  # lower-cased sub name -> leaf


def _build_attrs() -> tuple[dict[str, Attr], dict[str, dict[str, Attr]]]:
    """Core attributes by lower-cased name, and extension attributes by lower-cased URN."""
    core: dict[str, Attr] = {}
    extensions: dict[str, dict[str, Attr]] = {}
    for path in Path[USER_MODEL].iter_paths():
        binding = path.resolve()
        if binding is None:
            continue
        spath = storage_path(binding.urn)
        head, _, sub = spath.rpartition(":")[2].partition(".")
        prefix = spath[: len(spath) - len(spath.rpartition(":")[2])]
        table = core if not prefix else extensions.setdefault(prefix.rstrip(":"), {})
        target = binding.target_type
        complex_ = isclass(target) and issubclass(target, PydanticModel)
        if not sub:
            leaf = None if complex_ else Leaf(spath, kind_of(target), binding.case_exact)
            table[head] = Attr(prefix + head, binding.is_multivalued, leaf)
        else:
            table[head].subs[sub] = Leaf(spath, kind_of(target), binding.case_exact)
    for name in NOT_INDEXED:
        core.pop(name, None)
    return core, extensions


CORE_ATTRS, EXTENSION_ATTRS = _build_attrs()


def iso_utc(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC (naive values are taken as UTC): text order is time order."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def _text_forms(leaf: Leaf, raw: Any) -> tuple[str, str, float | None] | None:
    """(value, value_ci, value_num) of one leaf value, or None when it holds nothing."""
    if raw is None or isinstance(raw, dict | list):
        return None
    kind = leaf.kind
    if kind == STR or kind == BINARY:
        text = raw if isinstance(raw, str) else str(raw)
        return text, comparison_key(text, leaf.case_exact), None
    if kind == BOOL:
        text = "true" if raw is True or str(raw).lower() == "true" else "false"
        return text, text, None
    if kind == NUM:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return None
        return str(raw), str(raw), number
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw)
        except ValueError:
            return raw, raw, None
    text = iso_utc(raw) if isinstance(raw, datetime) else str(raw)
    return text, text, None


def _row(user_id: str, workspace_id: int, leaf: Leaf, elem: int, raw: Any) -> dict[str, Any] | None:
    forms = _text_forms(leaf, raw)
    if forms is None:
        return None
    return {
        "user_id": user_id,
        "workspace_id": workspace_id,
        "path": leaf.path,
        "elem": elem,
        "value": forms[0],
        "value_ci": forms[1],
        "value_num": forms[2],
    }


def _complex_rows(user_id: str, ws: int, attr: Attr, elem: int, item: Any, out: list[dict[str, Any]]) -> None:
    if not isinstance(item, dict):
        return
    subs = attr.subs
    for key, raw in item.items():
        leaf = subs.get(key.lower())
        if leaf is not None and (row := _row(user_id, ws, leaf, elem, raw)) is not None:
            out.append(row)


def _attr_rows(user_id: str, ws: int, attr: Attr, raw: Any, out: list[dict[str, Any]]) -> None:
    items = (raw if isinstance(raw, list) else [raw]) if attr.multi else [raw]
    for elem, item in enumerate(items):
        if attr.leaf is None:
            _complex_rows(user_id, ws, attr, elem, item, out)
        elif (row := _row(user_id, ws, attr.leaf, elem, item)) is not None:
            out.append(row)


def user_value_rows(user_id: str, workspace_id: int, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``scim_user_values`` rows of a user document (scim2-models dump form).

    Call on every user write, after deleting the user's previous rows: every row has the
    same keys, ready for one ``insert(ScimUserValue.__table__)`` executemany. Unknown keys,
    ``None`` values and the not-indexed attributes (columns, ``password``, ``groups``)
    give no rows.
    """
    out: list[dict[str, Any]] = []
    for key, raw in doc.items():
        lowered = key.lower()
        attr = CORE_ATTRS.get(lowered)
        if attr is not None:
            _attr_rows(user_id, workspace_id, attr, raw, out)
            continue
        extension = EXTENSION_ATTRS.get(lowered)
        if extension is not None and isinstance(raw, dict):
            for sub_key, sub_raw in raw.items():
                sub_attr = extension.get(sub_key.lower())
                if sub_attr is not None:
                    _attr_rows(user_id, workspace_id, sub_attr, sub_raw, out)
    return out


# ------------------------------------------------------------------ comparing stored values in SQL
# The operand of a filter is put in the stored form (``operand_form``) and compared by the
# database; text order is made code-point order on every dialect (``codepoint``), which is
# the order Python, and so ``ScimFilter.match``, gives strings.


class codepoint(FunctionElement[str]):
    """Its text argument, compared and sorted by code point (PostgreSQL: ``COLLATE "C"``)."""

    type = Text()
    inherit_cache = True
    name = "codepoint"


@compiles(codepoint)
def _codepoint_default(element: codepoint, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))  # SQLite's BINARY collation already is


@compiles(codepoint, "postgresql")
def _codepoint_postgresql(element: codepoint, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


class position(FunctionElement[int]):
    """1-based position of the second text in the first, 0 when absent (case-sensitive)."""

    type = Integer()
    inherit_cache = True
    name = "position"


@compiles(position)
def _position_default(element: position, compiler: Any, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(position, "postgresql")
def _position_postgresql(element: position, compiler: Any, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True, slots=True)
class Col:
    """A SQL expression holding an attribute's value, and how to compare it.

    ``native`` columns hold Python-typed values (DateTime, Boolean); value rows hold the
    text forms of ``_text_forms`` (``value_ci``) or ``value_num``.
    """

    expr: Any
    kind: str
    case_exact: bool
    nullable: bool = False
    native: bool = True


def operand_form(col: Col, value: Any) -> Any:
    """The filter operand in the form ``col`` stores; InvalidFilterException when it cannot be."""
    kind = col.kind
    if kind == BOOL and isinstance(value, bool):
        return value if col.native else ("true" if value else "false")
    if kind == DATETIME and isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # naive: taken as UTC
        return aware.astimezone(UTC) if col.native else iso_utc(aware)
    if kind == NUM and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    if kind == BINARY and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if kind == STR and isinstance(value, str):
        return comparison_key(str(value), col.case_exact)
    raise InvalidFilterException(detail=f"{value!r} cannot be compared with this attribute.")


def substring(expr: ColumnElement[Any], op: str, needle: str) -> ColumnElement[bool]:
    """``co``/``sw``/``ew`` by code point, without LIKE (SQLite's LIKE ignores ASCII case)."""
    if needle == "":
        return expr.is_not(None)
    if op == "co":
        return position(expr, needle) > 0
    size = literal(len(needle), Integer)
    if op == "sw":
        return func.substr(expr, 1, size) == needle
    length = func.length(expr)
    return and_(length >= size, func.substr(expr, length - size + 1, size) == needle)


_ORDER_OPS = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}


def compare_column(col: Col, op: str, value: Any) -> ColumnElement[bool]:
    """``col op value`` for a non-null operand and any operator but ``ne``; never SQL NULL.

    ``co``/``sw``/``ew`` only ever match strings (as ``ScimFilter.match``): a non-string
    operand or attribute gives FALSE.
    """
    if op in ("co", "sw", "ew"):
        if col.kind != STR or not isinstance(value, str):
            return false()
        cond = substring(col.expr, op, comparison_key(value, col.case_exact))
    else:
        operand = operand_form(col, value)
        if op == "eq":
            cond = col.expr == operand
        else:
            text = col.kind in (STR, BINARY) or (not col.native and col.kind != NUM)
            left = codepoint(col.expr) if text else col.expr
            cond = _ORDER_OPS[op](left, operand)
    return and_(col.expr.is_not(None), cond) if col.nullable else cond


def present_column(col: Col) -> ColumnElement[bool]:
    """RFC 7644 ``pr``: a value that is not null and, for strings, not empty."""
    if col.kind == STR:
        return and_(col.expr.is_not(None), col.expr != "")
    return col.expr.is_not(None) if col.nullable else true()
