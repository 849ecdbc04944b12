"""SCIM filters (RFC 7644 §3.4.2.2) and ``sortBy`` (§3.4.2.3) translated to SQL.

scim2-models parses the filter (``ScimFilter``) and binds its attribute paths to the models
(``resolve_comparison``); this module walks the tree (``FilterVisitor``), checks operators
and operands as scim2-models' validator does, and emits one SQL boolean, evaluated by the
database, never by loading rows. Semantics follow scim2-models' reference ``ScimFilter.match``:

- names are case-insensitive; strings compare through ``comparison_key`` (lower case
  unless caseExact), ``gt``/``lt`` on strings by code point, dateTimes by instant;
- a comparison on a multi-valued attribute matches when *any* value matches, and ``ne``
  is the negation of ``eq`` (no value equals the operand, so a missing attribute is
  ``ne`` anything); ``eq null`` matches a missing value;
- a value path ``emails[type eq "work" and value co "@x"]`` needs one element that
  satisfies the whole inner filter (rows of one element share ``elem``);
- an attribute the resource type does not declare, or one this store cannot filter on
  (``password``, ``meta.location``, ``meta.version``, ``$ref``, ``members.display``), is
  refused with ``InvalidFilterException`` (RFC 7644 §3.12 ``invalidFilter``).

Columns of ``scim_users``/``scim_groups`` are compared directly; other user attributes are
``IN (SELECT user_id FROM scim_user_values ...)`` sub-selects (a semi-join that starts from
the ``(workspace_id, path, value_ci)`` index); ``groups``/``members`` use
``scim_group_members``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from inspect import isclass
from typing import Any

from pydantic import BaseModel as PydanticModel
from pydantic import TypeAdapter, ValidationError
from scim2_models import Group, InvalidFilterException, InvalidValueException, ScimFilter
from scim2_models.path import (
    ORDERING_OPERATORS,
    STRING_OPERATORS,
    AttributeBinding,
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import (
    ColumnElement,
    Table,
    Text,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)

from scim_server.scim.filter_limits import CEILING, check_filter
from scim_server.store.models import ScimGroup, ScimGroupMember, ScimUser, ScimUserValue
from scim_server.store.values import (
    BINARY,
    BOOL,
    CORE_ATTRS,
    DATETIME,
    EXTENSION_ATTRS,
    NUM,
    STR,
    USER_MODEL,
    Attr,
    Col,
    Leaf,
    codepoint,
    compare_column,
    kind_of,
    present_column,
    storage_path,
)

users: Table = ScimUser.__table__
user_values: Table = ScimUserValue.__table__
groups: Table = ScimGroup.__table__
members: Table = ScimGroupMember.__table__

MAX_FILTER_TERMS = CEILING.max_terms  # whatever the settings say (filter_limits.py), no more is parsed

_EQ, _NE = CompareOperator.eq, CompareOperator.ne


def _invalid(detail: str) -> InvalidFilterException:
    return InvalidFilterException(detail=detail)


def _index_leaves() -> dict[str, tuple[Attr, Leaf]]:
    attrs = [*CORE_ATTRS.values(), *(a for ext in EXTENSION_ATTRS.values() for a in ext.values())]
    out: dict[str, tuple[Attr, Leaf]] = {}
    for attr in attrs:
        if attr.leaf is not None:
            out[attr.path] = (attr, attr.leaf)
        for leaf in attr.subs.values():
            out[leaf.path] = (attr, leaf)
    return out


_VALUE_LEAVES = _index_leaves()
_VALUE_ATTRS = {attr.path: attr for attr, _ in _VALUE_LEAVES.values()}


@lru_cache(maxsize=4096)
def _alias(table: Table, name: str) -> Any:
    return table.alias(name)


_SHORT = {"scim_user_values": "uv", "scim_group_members": "gm", "scim_groups": "g"}


class _Aliases:
    """Numbered aliases for one statement: the n-th use gets alias ``{prefix}{n}``. Aliases
    are built once per process (building one costs ~0.1 ms) and their names are stable, so
    SQLAlchemy's compiled-statement cache keeps hitting."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.n = prefix, 0

    def __call__(self, table: Table) -> Any:
        self.n += 1
        return _alias(table, f"{self.prefix}_{_SHORT[table.name]}{self.n}")


def _value_col(rows: Any, leaf: Leaf) -> Col:
    expr = rows.c.value_num if leaf.kind == NUM else rows.c.value_ci
    return Col(expr, leaf.kind, leaf.case_exact, nullable=False, native=False)


@dataclass(frozen=True, slots=True)
class _Membership:
    """``scim_group_members`` seen from one side (fresh aliases for every use)."""

    from_: Any
    owner: Any  # the column holding the id of the resource being filtered
    workspace: Any
    cols: dict[str, Col]  # sub-attribute name -> column


def _user_groups(alias: _Aliases) -> _Membership:
    """A user's ``groups`` (RFC 7643 §4.1.2): direct memberships, ``type`` "direct"."""
    m, g = alias(members), alias(groups)
    cols = {
        "value": Col(m.c.group_id, STR, True),
        "display": Col(g.c.display_name_ci, STR, False),
        "type": Col(literal_column("'direct'", Text), STR, False),
    }
    return _Membership(m.join(g, g.c.id == m.c.group_id), m.c.member_id, m.c.workspace_id, cols)


def _group_members(alias: _Aliases) -> _Membership:
    m = alias(members)
    cols = {"value": Col(m.c.member_id, STR, True), "type": Col(func.lower(m.c.member_type), STR, False)}
    return _Membership(m, m.c.group_id, m.c.workspace_id, cols)


@dataclass(frozen=True, slots=True)
class _Resource:
    probe: ScimFilter[Any]  # a filter bound to the model: resolves attribute paths
    table: Table
    columns: dict[str, Col]  # storage path -> column of the resource table
    membership_attr: str
    membership: Callable[[_Aliases], _Membership]
    indexed: bool  # other attributes are in scim_user_values


def _meta_columns(table: Table, resource_type: str) -> dict[str, Col]:
    return {
        "id": Col(table.c.id, STR, True),
        "externalid": Col(table.c.external_id, STR, True, nullable=True),
        "meta.created": Col(table.c.created, DATETIME, False),
        "meta.lastmodified": Col(table.c.last_modified, DATETIME, False),
        # one constant per table; caseExact as scim2-models declares it
        "meta.resourcetype": Col(literal_column(f"'{resource_type}'", Text), STR, True),
    }


USERS = _Resource(
    ScimFilter[USER_MODEL]("id pr"),
    users,
    _meta_columns(users, "User")
    | {"username": Col(users.c.user_name_ci, STR, False), "active": Col(users.c.active, BOOL, False)},
    "groups",
    _user_groups,
    True,
)
GROUPS = _Resource(
    ScimFilter[Group]("id pr"),
    groups,
    _meta_columns(groups, "Group") | {"displayname": Col(groups.c.display_name_ci, STR, False)},
    "members",
    _group_members,
    False,
)


@lru_cache(maxsize=256)
def _adapter(annotated_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotated_type)


def _operand(binding: AttributeBinding, node: Comparison) -> Any:
    """The comparison operand typed as its attribute: scim2-models' ``coerce_value`` and
    operator check (RFC 7644 §3.4.2.2: no ordering or substring on booleans and binary),
    with the pydantic adapters cached (building one per request costs a millisecond)."""
    kind = kind_of(binding.target_type)
    if kind in (BOOL, BINARY) and (node.op in ORDERING_OPERATORS or node.op in STRING_OPERATORS):
        raise _invalid(f"'{node.op.value}' cannot be applied to the {kind} attribute '{binding.urn}'.")
    value, target = node.value, binding.target_type
    annotated = binding.sub_field_type if binding.sub_field_name else binding.field_type
    if value is None or annotated is None or node.op in STRING_OPERATORS or not isclass(target):
        return value
    if issubclass(target, PydanticModel) or (isinstance(value, target) and not issubclass(target, bytes)):
        return value
    try:
        return _adapter(annotated).validate_python(value)
    except (ValidationError, TypeError):
        raise _invalid(f"{value!r} is not a valid value for '{binding.urn}'.") from None


def _column_compare(col: Col, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    if value is None:  # only "eq null" can match: a missing value
        return col.expr.is_(None) if op == _EQ and col.nullable else false()
    return compare_column(col, op.value, value)


def _inner_name(node: Comparison | Present) -> str:
    """The sub-attribute an expression inside ``attr[...]`` names (no URN, no dot)."""
    path = node.attr_path
    if path.uri or path.sub_attr:
        raise _invalid(f"'{path}' cannot be used inside a value path.")
    return path.attr.lower()


class _Scope(FilterVisitor[ColumnElement[bool]]):
    """Logic shared by every scope; ``ne`` is ``not eq`` (as ``ScimFilter.match``)."""

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        parts = [self.visit(term) for term in node.terms]
        return and_(*parts) if node.op == LogicalOperator.and_ else or_(*parts)

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        if node.op == _NE:
            return not_(self.compare(replace(node, op=_EQ)))
        return self.compare(node)

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        raise NotImplementedError

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        raise _invalid("A value path cannot be nested in another.")


class _InnerScope(_Scope):
    """Inside ``attr[...]``: names are sub-attributes of ``outer``."""

    def __init__(self, probe: ScimFilter[Any], outer: AttrPath, alias: _Aliases) -> None:
        self.probe, self.outer, self.alias = probe, outer, alias

    def operand(self, node: Comparison) -> Any:
        path = AttrPath(self.outer.attr, node.attr_path.attr, self.outer.uri)
        binding = self.probe.resolve_comparison(path)
        assert binding is not None  # the probe is bound to one model: None only for unbound filters
        return _operand(binding, node)


class _RowScope(_InnerScope):
    """Inside ``groups[...]``/``members[...]``: one membership row, all columns."""

    def __init__(
        self, probe: ScimFilter[Any], outer: AttrPath, alias: _Aliases, cols: dict[str, Col]
    ) -> None:
        super().__init__(probe, outer, alias)
        self.cols = cols

    def _col(self, node: Comparison | Present) -> Col:
        name = _inner_name(node)
        if name not in self.cols:
            raise _invalid(f"Filtering on '{self.outer}.{node.attr_path.attr}' is not supported.")
        return self.cols[name]

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        col = self._col(node)
        return _column_compare(col, node.op, self.operand(node))

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        return present_column(self._col(node))


class _ElementScope(_InnerScope):
    """Inside ``emails[...]``: rows of the element of row alias ``e`` (same user and elem)."""

    def __init__(self, probe: ScimFilter[Any], outer: AttrPath, alias: _Aliases, attr: Attr, e: Any) -> None:
        super().__init__(probe, outer, alias)
        self.attr, self.e = attr, e

    def leaf(self, node: Comparison | Present) -> Leaf:
        leaf = self.attr.subs.get(_inner_name(node))
        if leaf is None:
            raise _invalid(f"'{self.outer}' has no sub-attribute '{node.attr_path.attr}'.")
        return leaf

    def _same_element(self, leaf: Leaf, cond: Callable[[Any], Any] | None = None) -> ColumnElement[bool]:
        v = self.alias(user_values)
        where = [v.c.user_id == self.e.c.user_id, v.c.elem == self.e.c.elem, v.c.path == leaf.path]
        return exists(select(literal(1)).select_from(v).where(*where, *([cond(v)] if cond else [])))

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        leaf, value = self.leaf(node), self.operand(node)
        if value is None:
            return not_(self._same_element(leaf)) if node.op == _EQ else false()
        return self._same_element(leaf, lambda v: compare_column(_value_col(v, leaf), node.op.value, value))

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        return self._same_element(self.leaf(node), lambda v: v.c.value != "")

    def can_drive(self, node: FilterNode) -> bool:
        """Whether ``node`` can be tested on the element row itself (positive, non-null)."""
        if isinstance(node, Present):
            return True
        return isinstance(node, Comparison) and node.op != _NE and node.value is not None

    def on_row(self, node: Comparison | Present) -> list[ColumnElement[bool]]:
        leaf = self.leaf(node)
        if isinstance(node, Present):
            return [self.e.c.path == leaf.path, self.e.c.value != ""]
        value = self.operand(node)
        return [self.e.c.path == leaf.path, compare_column(_value_col(self.e, leaf), node.op.value, value)]


class _ResourceScope(_Scope):
    """The top level of a filter on users or groups, for one workspace (or any, if None)."""

    def __init__(self, res: _Resource, workspace_id: int | None) -> None:
        self.res, self.ws, self.alias = res, workspace_id, _Aliases("f")

    def _owned(self, owner: Any, workspace: Any, from_: Any, conds: list[Any]) -> ColumnElement[bool]:
        """The resource owns a row of ``from_`` meeting ``conds``: an IN semi-join that the
        (workspace_id, path, value_ci) index drives, or a correlated EXISTS without a workspace."""
        table_id = self.res.table.c.id
        if self.ws is None:
            return exists(select(literal(1)).select_from(from_).where(owner == table_id, *conds))
        return table_id.in_(select(owner).select_from(from_).where(workspace == self.ws, *conds))

    def _owned_values(self, *conds: Any) -> ColumnElement[bool]:
        v = self.alias(user_values)
        return self._owned(v.c.user_id, v.c.workspace_id, v, [cond(v) for cond in conds])

    def _leaf(self, spath: str) -> tuple[Attr, Leaf]:
        found = _VALUE_LEAVES.get(spath) if self.res.indexed else None
        if found is None:
            raise _invalid(f"Filtering on '{spath}' is not supported.")
        return found

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        binding = self.res.probe.resolve_comparison(node.attr_path)
        assert binding is not None
        spath = storage_path(binding.urn)
        value = _operand(binding, node)
        if spath in self.res.columns:
            return _column_compare(self.res.columns[spath], node.op, value)
        head, _, sub = spath.partition(".")
        if head == self.res.membership_attr:
            ms = self.res.membership(self.alias)
            cond = _RowScope(self.res.probe, node.attr_path, self.alias, ms.cols).compare(
                replace(node, attr_path=AttrPath(sub or "value"))
            )
            if value is None:  # every membership column is NOT NULL: "eq null" means no row
                return not_(self._owned(ms.owner, ms.workspace, ms.from_, []))
            return self._owned(ms.owner, ms.workspace, ms.from_, [cond])
        attr, leaf = self._leaf(spath)
        if value is None:
            return self._missing(node, attr, leaf) if node.op == _EQ else false()
        op = node.op.value
        return self._owned_values(
            lambda v: v.c.path == leaf.path, lambda v: compare_column(_value_col(v, leaf), op, value)
        )

    def _missing(self, node: Comparison, attr: Attr, leaf: Leaf) -> ColumnElement[bool]:
        """``attr eq null``: no value; on a multi-valued attribute, no element, or an element
        without the sub-attribute (as ``ScimFilter.match`` reads each element)."""
        if attr.leaf is not None or not attr.multi:
            return not_(self._owned_values(lambda v: v.c.path == leaf.path))
        paths = [sub.path for sub in attr.subs.values()]
        no_element = not_(self._owned_values(lambda v: v.c.path.in_(paths)))
        outer = AttrPath(node.attr_path.attr, None, node.attr_path.uri)
        inner = Comparison(AttrPath(leaf.path.rpartition(".")[2]), _EQ, None)
        return or_(no_element, self._elements(attr, outer, inner))

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        binding = self.res.probe.resolve(node.attr_path)
        assert binding is not None
        spath = storage_path(binding.urn)
        if spath in self.res.columns:
            return present_column(self.res.columns[spath])
        if spath == "meta":
            return true()
        head, _, sub = spath.partition(".")
        if head == self.res.membership_attr:
            ms = self.res.membership(self.alias)
            row = _RowScope(self.res.probe, node.attr_path, self.alias, ms.cols)
            conds = [row.visit(Present(AttrPath(sub)))] if sub else []
            return self._owned(ms.owner, ms.workspace, ms.from_, conds)
        attr = _VALUE_ATTRS.get(spath) if self.res.indexed else None
        if attr is not None and attr.leaf is None:  # complex: any sub-attribute present
            paths = [sub.path for sub in attr.subs.values()]
            return self._owned_values(lambda v: v.c.path.in_(paths), lambda v: v.c.value != "")
        _, leaf = self._leaf(spath)
        return self._owned_values(lambda v: v.c.path == leaf.path, lambda v: v.c.value != "")

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        binding = self.res.probe.resolve(node.attr_path)
        assert binding is not None
        spath = storage_path(binding.urn)
        if node.sub_attr is not None or not binding.is_multivalued:
            raise _invalid(f"'{node.attr_path}' is not a multi-valued attribute with values to select.")
        if spath == self.res.membership_attr:
            ms = self.res.membership(self.alias)
            cond = _RowScope(self.res.probe, node.attr_path, self.alias, ms.cols).visit(node.val_filter)
            return self._owned(ms.owner, ms.workspace, ms.from_, [cond])
        attr = _VALUE_ATTRS.get(spath) if self.res.indexed else None
        if attr is None or attr.leaf is not None:
            raise _invalid(f"Value paths on '{node.attr_path}' are not supported.")
        return self._elements(attr, node.attr_path, node.val_filter)

    def _elements(self, attr: Attr, outer: AttrPath, inner: FilterNode) -> ColumnElement[bool]:
        """One element of ``attr`` meets ``inner``. The element rows are driven by a positive
        conjunct when there is one (``type eq "work"``), else by any sub-attribute row."""
        e = self.alias(user_values)
        scope = _ElementScope(self.res.probe, outer, self.alias, attr, e)
        conjunction = isinstance(inner, LogicalExpr) and inner.op == LogicalOperator.and_
        terms = list(inner.terms) if conjunction else [inner]  # type: ignore[attr-defined]
        candidates = [t for t in terms if scope.can_drive(t)]
        driver = min(candidates, key=_selectivity) if candidates else None
        if driver is None:
            conds = [e.c.path.in_([sub.path for sub in attr.subs.values()])]
        else:
            conds = scope.on_row(driver)  # type: ignore[arg-type]
            terms.remove(driver)
        conds += [scope.visit(term) for term in terms]
        return self._owned(e.c.user_id, e.c.workspace_id, e, conds)


def _selectivity(node: FilterNode) -> int:
    """Lower is more selective: ``value eq "x"`` narrows rows more than ``type eq "work"``,
    which narrows more than ``pr`` (drives the element sub-select from the fewest rows)."""
    if not isinstance(node, Comparison):
        return 4
    common = node.attr_path.attr.lower() in ("type", "primary")
    return (0 if node.op == _EQ else 2) + (1 if common else 0)


# ------------------------------------------------------------------------------------ plans


@dataclass(frozen=True, slots=True)
class FilterPlan:
    """A parsed filter, checked against its resource type; ``where`` gives its SQL."""

    text: str
    ast: FilterNode
    resource: _Resource

    def where(self, workspace_id: int | None = None) -> ColumnElement[bool]:
        """The WHERE clause for the resource table (``scim_users``/``scim_groups``).

        Pass the workspace id: the sub-selects then start from the value index. Without
        it they are correlated EXISTS (correct, slower); the caller still filters the
        resource table on its workspace.
        """
        try:
            return _ResourceScope(self.resource, workspace_id).visit(self.ast)
        except RecursionError:
            raise _invalid("The filter is nested too deeply.") from None


def _plan(resource: _Resource, text: str) -> FilterPlan:
    if not isinstance(text, str):
        raise _invalid("The filter is missing.")
    check_filter(text, CEILING)  # callers check their own, lower limits first (query.parse_list_query)
    try:
        ast = ScimFilter(text).ast  # syntax only: _operand and the scopes check the semantics
    except InvalidFilterException:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        raise _invalid(f"The filter cannot be read: {exc}") from None
    plan = FilterPlan(text, ast, resource)
    plan.where(0)  # resolves every attribute now: an unknown or unsupported one fails here
    return plan


@lru_cache(maxsize=1024)
def user_filter(text: str) -> FilterPlan:
    """The plan of a filter on Users (``User`` + enterprise extension); InvalidFilterException
    when it is malformed, names an unknown attribute or uses an operator its type refuses."""
    return _plan(USERS, text)


@lru_cache(maxsize=1024)
def group_filter(text: str) -> FilterPlan:
    """The plan of a filter on Groups (``id``, ``displayName``, ``externalId``, ``meta``,
    ``members.value``/``members.type``)."""
    return _plan(GROUPS, text)


@lru_cache(maxsize=256)
def user_where(text: str, workspace_id: int | None = None) -> ColumnElement[bool]:
    """WHERE clause on ``scim_users`` for a SCIM filter (see ``FilterPlan.where``). Cached: the
    IdPs repeat their filters, and building the clause of a filter with many comparisons costs
    milliseconds; a clause is never changed once built, so it is shared."""
    return user_filter(text).where(workspace_id)


@lru_cache(maxsize=256)
def group_where(text: str, workspace_id: int | None = None) -> ColumnElement[bool]:
    """WHERE clause on ``scim_groups`` for a SCIM filter (see ``FilterPlan.where``; cached as
    ``user_where``)."""
    return group_filter(text).where(workspace_id)


# ------------------------------------------------------------------------------------ sorting


def _sort_path(res: _Resource, sort_by: str) -> tuple[str, Any]:
    """The storage path and binding ``sortBy`` names; InvalidValueException otherwise."""
    try:
        node = ScimFilter(f"{sort_by} pr").ast
        if not isinstance(node, Present):
            raise InvalidFilterException()
        binding = res.probe.resolve_comparison(node.attr_path)  # "emails" sorts as "emails.value"
    except InvalidFilterException:
        detail = f"sortBy {sort_by!r} is not an attribute of this resource."
        raise InvalidValueException(detail=detail) from None
    assert binding is not None
    return storage_path(binding.urn), binding


def _value_sort_key(attr: Attr, leaf: Leaf, alias: _Aliases) -> Any:
    """A user's value of ``leaf``; for a multi-valued attribute the primary element's, else
    the first element's (RFC 7644 §3.4.2.3)."""
    v = alias(user_values)
    value = v.c.value_num if leaf.kind == NUM else v.c.value_ci
    query = select(value).where(v.c.user_id == users.c.id, v.c.path == leaf.path)
    primary = attr.subs.get("primary")
    if attr.multi and primary is not None:
        p = alias(user_values)
        is_primary = exists(
            select(literal(1))
            .select_from(p)
            .where(p.c.user_id == v.c.user_id, p.c.elem == v.c.elem)
            .where(p.c.path == primary.path, p.c.value == "true")
        )
        query = query.order_by(case((is_primary, 0), else_=1), v.c.elem)
    elif attr.multi:
        query = query.order_by(v.c.elem)
    key = query.limit(1).scalar_subquery()
    return key if leaf.kind == NUM else codepoint(key)


def _sort_key(res: _Resource, sort_by: str) -> Any | None:
    spath, binding = _sort_path(res, sort_by)
    col = res.columns.get(spath)
    if col is not None:
        if spath == "meta.resourcetype":
            return None  # one value for every resource: the id alone orders
        return codepoint(col.expr) if col.kind == STR else col.expr
    found = _VALUE_LEAVES.get(spath) if res.indexed else None
    if found is None or kind_of(binding.target_type) == BINARY:
        raise InvalidValueException(detail=f"Sorting by {sort_by!r} is not supported.")
    return _value_sort_key(*found, _Aliases("s"))


def _order_by(res: _Resource, sort_by: str | None, sort_order: str | None) -> list[Any]:
    order = (sort_order or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise InvalidValueException(detail="sortOrder must be 'ascending' or 'descending'.")
    table = res.table
    if not sort_by:
        return [table.c.created, table.c.id]
    key = _sort_key(res, sort_by)
    if key is None:
        return [table.c.id]
    # Resources without a value come last ascending, first descending (RFC 7644 §3.4.2.3).
    ordered = key.desc().nulls_first() if order == "descending" else key.asc().nulls_last()
    return [ordered, table.c.id]


def user_order_by(sort_by: str | None, sort_order: str | None) -> list[Any]:
    """ORDER BY clauses for ``scim_users``: the sortBy key (code-point order of the
    comparison key for strings), then ``id``, a total order that index paging needs.
    Without sortBy: creation order. InvalidValueException for an unknown sortBy/sortOrder."""
    return _order_by(USERS, sort_by, sort_order)


def group_order_by(sort_by: str | None, sort_order: str | None) -> list[Any]:
    """ORDER BY clauses for ``scim_groups`` (``displayName``, ``externalId``, ``id``, ``meta``)."""
    return _order_by(GROUPS, sort_by, sort_order)
