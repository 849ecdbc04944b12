"""SCIM PATCH (RFC 7644 §3.5.2) on stored documents, as pure functions (no I/O).

A stored document is the dict scim2-models dumps in the creation-request context: camelCase
names, the enterprise extension under its URN, no ``id``/``meta``, and, for a Group, no
``members`` (they live in their own table, so a PATCH never loads them).

Two ways to apply operations, with the same results (``tests/scim_patch`` proves it):

- a fast path, for the operations IdPs send most (``active``, names, plain strings of the core
  and enterprise schemas), that edits the dict directly;
- the model path, for everything else: the document is validated as ``User[EnterpriseUser]``
  (or ``Group``), ``PatchOp.patch`` applies the operations under a policy with Entra's
  tolerances, and the model is dumped back, so a value of the wrong type is an error.

Errors are scim2-models exceptions (``InvalidValueException``, ``InvalidPathException``,
``NoTargetException``, ``InvalidSyntaxException``, ``MutabilityException``,
``InvalidFilterException``); no input is ever mutated, so a failed PATCH changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    Group,
    InvalidFilterException,
    InvalidPathException,
    InvalidValueException,
    PatchOp,
    SCIMException,
    ScimPolicy,
)
from scim2_models import Path as ScimPath
from scim2_models.path import CompareOperator, Comparison, FilterNode, LogicalExpr, LogicalOperator

from scim_server.scim import attributes, quirks, value_rules
from scim_server.scim.filter_limits import DEFAULT_FILTER_LIMITS, violation
from scim_server.scim.models import UserModel

__all__ = ["GroupPatchResult", "Operation", "apply_group_patch", "apply_user_patch", "normalize_patch"]

_USER_PATCH = PatchOp[UserModel]
_GROUP_PATCH = PatchOp[Group]
# Unknown attributes that reach the model (``strict``) are refused (RFC 7644 §3.5.2:
# invalidPath); a remove may select by its value and a filtered path creates the entry it
# describes, as Entra expects (quirks.py).
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.forbid,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


@dataclass(frozen=True, slots=True)
class Operation:
    """One normalised PATCH operation.

    ``op`` is ``"add"``, ``"remove"`` or ``"replace"``; ``path`` is None for a path-less add or
    replace, whose ``value`` is then an object; ``value`` None on a replace unassigns the target.
    """

    op: str
    path: str | None
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        """The operation as RFC 7644 writes it, for ``PatchOp.model_validate``."""
        out: dict[str, Any] = {"op": self.op}
        if self.path is not None:
            out["path"] = self.path
        if self.op != "remove" or self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True, slots=True)
class GroupPatchResult:
    """A Group PATCH: the new document, and what to do to the member rows.

    The member lists are the net effect of the operations in order, and are meant to be applied
    in this order: if ``remove_all_members`` or ``replace_members`` is not None, delete every
    member; insert ``replace_members``; delete ``remove_members``; insert ``add_members``.
    ``add_members`` and ``remove_members`` never share an id.
    """

    doc: dict[str, Any]
    add_members: list[str]
    remove_members: list[str]
    replace_members: list[str] | None
    remove_all_members: bool


def normalize_patch(body: Any) -> list[Operation]:
    """Parse a PatchOp request body into operations, absorbing what IdPs really send.

    Ops are read case-insensitively (Entra ``Replace``); read-only ``id``/``meta``/``groups`` and
    attributes of unknown schema URNs are dropped from path-less values; an operation whose path
    is under an unknown schema URN is dropped; an ``add`` of null adds nothing and is dropped.
    Resource-specific quirks (Entra's bare-string manager, string booleans) are applied by
    :func:`apply_user_patch` and :func:`apply_group_patch`.

    :raises InvalidSyntaxException: not a PatchOp body, or no ``Operations``.
    :raises InvalidValueException: unknown op, add/replace without a value, path-less value
        that is not an object.
    :raises InvalidPathException: a path that is not a string or does not parse.
    :raises NoTargetException: a remove without a path.
    """
    operations = (_operation(raw) for raw in quirks.operations_of(body))
    return [op for op in operations if op is not None]


def _operation(raw: Any) -> Operation | None:
    members = quirks.op_members(raw)
    op = quirks.op_name(members.get("op"))
    path = _path(members.get("path"))
    quirks.require_remove_path(op, path)
    if path is not None and quirks.is_foreign_urn(path):
        return None
    if op == "remove":
        return Operation(op, path, members.get("value"))
    if "value" not in members:
        raise InvalidValueException(detail=f"An {op} operation needs a 'value'.")
    value = members["value"]
    if path is None:
        if not isinstance(value, dict):
            raise InvalidValueException(detail=f"A path-less {op} needs an object as its value.")
        value = quirks.clean_value(value)
        return Operation(op, None, value) if value else None
    if value is None and op == "add":
        return None
    return Operation(op, path, value)


def _path(raw: Any) -> str | None:
    """The path, checked against the RFC 7644 §3.5.2 grammar; an empty path is no path."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidPathException(detail="'path' must be a string.")
    path = raw.strip()
    if not path:
        return None
    reason = violation(path, DEFAULT_FILTER_LIMITS, "path")  # before the parser, as for filters
    if reason is not None:
        raise InvalidPathException(detail=reason)
    ScimPath(path)  # raises InvalidPathException on a syntax error
    return path


def apply_user_patch(
    doc: dict[str, Any], ops: Sequence[Operation], *, fast: bool = True, strict: bool = False
) -> dict[str, Any]:
    """Apply operations to a stored User document and return the new document.

    The input is never mutated; the result may share untouched nested values with it, so treat
    both as immutable. If an operation sets ``password``, the result holds it in clear under
    ``"password"``: the caller must hash and remove it before storing. ``fast=False`` forces the
    model path (the tests use it to prove both paths agree). Attribute names are read
    case-insensitively; operations on attributes no schema defines are dropped and logged
    unless ``strict`` (``attributes``). The values it changes are held to ``value_rules``.

    :raises SCIMException: a scim2-models exception with the RFC 7644 §3.12 scimType of the
        first problem; nothing is applied then.
    """
    user_ops = _known([_user_op(op) for op in ops], attributes.USER, quirks.CORE_USER, strict)
    new = _fast_patch(doc, user_ops, _USER_LEAVES) if fast else None
    if new is None:
        new = _model_patch(UserModel, _USER_PATCH, doc, user_ops) if user_ops else dict(doc)
    _require_string(new, "userName")
    value_rules.check_user(new, before=doc)
    return new


def apply_group_patch(
    doc: dict[str, Any], ops: Sequence[Operation], *, fast: bool = True, strict: bool = False
) -> GroupPatchResult:
    """Apply operations to a stored Group document (without members) and separate member changes.

    Member operations never need the current member list: ``add``/``replace``/``remove`` of
    ``members`` with a list of ``{"value": id}``, ``remove`` of ``members`` without a value (all
    members), ``remove`` of ``members[value eq "id"]`` (``or`` of such comparisons allowed),
    Entra's ``remove`` of ``members`` with a value (only the listed members, Entra known issues,
    "Requests made to remove a group member"), and ``members`` in a path-less value. Everything
    else (``displayName``, ``externalId``) is applied to the document.

    Names and unknown attributes are handled as in :func:`apply_user_patch`.

    :raises SCIMException: as :func:`apply_user_patch`; a member filter other than ``value eq``
        raises ``InvalidFilterException`` (RFC 7644 §3.12 lists it for PATCH path filters).
    """
    changes = _MemberChanges()
    known = _known(ops, attributes.GROUP, quirks.CORE_GROUP, strict)
    doc_ops = [kept for op in known if (kept := _take_members(op, changes)) is not None]
    new = _apply_doc(doc, doc_ops, fast)
    _require_string(new, "displayName")
    value_rules.check_group(new, before=doc)
    return GroupPatchResult(
        doc=new,
        add_members=list(changes.add),
        remove_members=list(changes.remove),
        replace_members=None if changes.replace is None else list(changes.replace),
        remove_all_members=changes.remove_all,
    )


def _apply_doc(doc: dict[str, Any], ops: list[Operation], fast: bool) -> dict[str, Any]:
    if not ops:
        return dict(doc)
    new = _fast_patch(doc, ops, _GROUP_LEAVES) if fast else None
    if new is None:
        new = _model_patch(Group, _GROUP_PATCH, doc, ops)
        new.pop("members", None)
    return new


def _known(
    ops: Sequence[Operation], names: Mapping[str, attributes.Attribute], core: str, strict: bool
) -> list[Operation]:
    """The operations with their attribute names canonical; those writing an attribute no
    schema defines are dropped, and named in one log line, unless ``strict``."""
    ignored: list[str] = []
    kept = [known for op in ops if (known := _known_op(op, names, core, strict, ignored)) is not None]
    attributes.log_ignored(ignored)
    return kept


def _known_op(
    op: Operation, names: Mapping[str, attributes.Attribute], core: str, strict: bool, ignored: list[str]
) -> Operation | None:
    if op.path is None:
        value = _known_value(op.value, names, core, strict, ignored)
        return replace(op, value=value) if value else None
    attribute = attributes.resolve(op.path, names, core)
    if attribute is None:
        if strict:
            return op
        parsed = ScimPath(op.path)  # named without its value filter: a filter holds values
        ignored.append(":".join(filter(None, (parsed.schema, ".".join(parsed.parts)))))
        return None
    if op.value is None:
        return op
    return replace(op, value=attributes.nested(op.value, attribute, ignored, strict=strict))


def _known_value(
    value: dict[str, Any], names: Mapping[str, attributes.Attribute], core: str, strict: bool, ignored: list[str]
) -> dict[str, Any]:
    """A path-less value: each key is a path (``title``, ``name.givenName``, a URN-qualified
    name); a bare name is spelled canonically, the others are left to the model's matching.

    :raises InvalidPathException: a key over the path limits (it is never parsed).
    """
    out: dict[str, Any] = {}
    for key, item in value.items():
        reason = violation(key, DEFAULT_FILTER_LIMITS, "path")
        if reason is not None:
            raise InvalidPathException(detail=reason)
        try:
            attribute = attributes.resolve(key, names, core)
        except InvalidPathException:
            attribute = None
        if attribute is None:
            if strict:
                out[key] = item
            else:
                ignored.append(key)
            continue
        bare = key.lower() == attribute.name.lower()
        out[attribute.name if bare else key] = attributes.nested(item, attribute, ignored, strict=strict)
    return out


def _user_op(op: Operation) -> Operation:
    """Entra's manager shapes (quirks.manager_value) wherever a User operation can carry them."""
    if op.path is None:
        return replace(op, value=_user_value(op.value))
    lowered = op.path.lower()
    if lowered in ("manager", quirks.MANAGER_PATH, quirks.MANAGER_PATH + ".value"):
        value = quirks.manager_value(op.value) if op.op != "remove" else None
        return Operation("remove" if value is None else op.op, f"{quirks.ENTERPRISE}:manager", value)
    if lowered == quirks.ENTERPRISE_LOWER and isinstance(op.value, dict):
        return replace(op, value=quirks.manager_in(op.value))
    return op


def _user_value(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        lowered = key.lower()
        if lowered in (quirks.MANAGER_PATH, quirks.MANAGER_PATH + ".value"):
            out[f"{quirks.ENTERPRISE}:manager"] = quirks.manager_value(item)
        elif lowered == quirks.ENTERPRISE_LOWER and isinstance(item, dict):
            out[key] = quirks.manager_in(item)
        else:
            out[key] = item
    return out


def _model_patch(
    model: Any, patch_model: Any, doc: dict[str, Any], ops: Iterable[Operation]
) -> dict[str, Any]:
    """Validate, patch and dump through scim2-models; pydantic errors become SCIM exceptions."""
    body = {"schemas": [quirks.PATCH_OP], "Operations": [op.as_dict() for op in ops]}
    try:
        resource = model.model_validate(doc, scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=POLICY)
        request = patch_model.model_validate(
            body, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=POLICY
        )
        request.patch(resource, scim_policy=POLICY)
        dumped: dict[str, Any] = resource.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    except ValidationError as exc:
        raise _scim_error(exc) from None
    except (TypeError, ValueError, AttributeError) as exc:  # a shape the models cannot hold
        raise InvalidValueException(detail=f"The PATCH value cannot be applied: {exc}") from None
    return dumped


def _scim_error(exc: ValidationError) -> SCIMException:
    """The SCIM exception for the first pydantic error (its scimType, or invalidValue)."""
    return SCIMException.from_error(Error.from_validation_errors(exc)[0])


def _require_string(doc: dict[str, Any], name: str) -> None:
    """RFC 7643 §4.1.1 / §4.2: ``userName`` and ``displayName`` must keep a non-empty value."""
    value = doc.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueException(detail=f"'{name}' must be a non-empty string.")


# --- Fast path: plain attributes edited on the dict -------------------------------------------


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A single-valued, non-complex attribute the fast path may write: a string or ``active``."""

    container: str | None  # None (top level), "name", or the enterprise URN
    name: str
    boolean: bool = False
    required: bool = False


def _leaves(
    core: str, top: Sequence[str], required: str, sub: dict[str | None, Sequence[str]]
) -> dict[str, _Leaf]:
    """Lookup table: every lowercased spelling of a path (bare, core-URN-qualified) -> leaf."""
    table: dict[str, _Leaf] = {}
    for name in top:
        leaf = _Leaf(None, name, boolean=name == "active", required=name == required)
        table[name.lower()] = table[f"{core}:{name}".lower()] = leaf
    for container, names in sub.items():
        for name in names:
            if container == quirks.ENTERPRISE:
                table[f"{quirks.ENTERPRISE_LOWER}:{name.lower()}"] = _Leaf(container, name)
            else:
                key = f"{container}.{name}".lower()
                table[key] = table[f"{core}:{key}".lower()] = _Leaf(container, name)
    return table


_USER_LEAVES = _leaves(
    quirks.CORE_USER,
    (
        "userName",
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "externalId",
        "password",
        "active",
    ),
    "userName",
    {
        "name": ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"),
        quirks.ENTERPRISE: ("employeeNumber", "costCenter", "organization", "division", "department"),
    },
)
_GROUP_LEAVES = _leaves(quirks.CORE_GROUP, ("displayName", "externalId"), "displayName", {})
# Complex values the fast path spreads into leaves: lowercased key -> prefix of its sub-keys.
_CONTAINERS = {
    "name": "name.",
    f"{quirks.CORE_USER}:name".lower(): "name.",
    quirks.ENTERPRISE_LOWER: f"{quirks.ENTERPRISE_LOWER}:",
}


def _fast_patch(
    doc: dict[str, Any], ops: Sequence[Operation], leaves: dict[str, _Leaf]
) -> dict[str, Any] | None:
    """The patched document, or None when an operation is not a plain leaf write.

    Returns what the model path returns for the same input (tests/scim_patch proves it on
    generated documents): the fast path never decides anything the model would decide
    differently, it gives up instead (unknown path, filter, wrong type, required removal).
    """
    writes: list[tuple[_Leaf, Any]] = []
    for op in ops:
        op_writes = _leaf_writes(op, leaves)
        if op_writes is None:
            return None
        writes.extend(op_writes)
    return _write(doc, writes)


def _leaf_writes(op: Operation, leaves: dict[str, _Leaf]) -> list[tuple[_Leaf, Any]] | None:
    if op.op == "remove":
        leaf = leaves.get(op.path.lower()) if op.path is not None and op.value is None else None
        return None if leaf is None or leaf.required else [(leaf, None)]
    items = op.value.items() if op.path is None else ((op.path, op.value),)
    writes: list[tuple[_Leaf, Any]] = []
    for key, item in items:
        lowered = key.lower()
        if isinstance(item, dict) and lowered in _CONTAINERS:
            spread = [(_CONTAINERS[lowered] + str(k).lower(), v) for k, v in item.items()]
        else:
            spread = [(lowered, item)]
        for name, value in spread:
            write = _leaf_write(leaves.get(name), value)
            if write is None:
                return None
            writes.append(write)
    return writes


def _leaf_write(leaf: _Leaf | None, value: Any) -> tuple[_Leaf, Any] | None:
    """A typed write, or None if the value is not plainly valid for the leaf (null unassigns)."""
    if leaf is None:
        return None
    if value is None:
        return None if leaf.required else (leaf, None)
    if leaf.boolean:
        flag = quirks.as_bool(value)
        return None if flag is None else (leaf, flag)
    return (leaf, value) if isinstance(value, str) else None


def _write(doc: dict[str, Any], writes: list[tuple[_Leaf, Any]]) -> dict[str, Any]:
    """Copy-on-write edit: only the top level and the touched containers are copied.

    An emptied container is removed (RFC 7643 §2.5: an empty complex value is unassigned), and
    ``schemas`` lists the enterprise URN exactly when the extension is present (RFC 7643 §3).
    """
    new = dict(doc)
    touched: dict[str, dict[str, Any]] = {}
    for leaf, value in writes:
        target = new
        if leaf.container is not None:
            if leaf.container not in touched:
                existing = new.get(leaf.container)
                touched[leaf.container] = dict(existing) if isinstance(existing, dict) else {}
                new[leaf.container] = touched[leaf.container]
            target = touched[leaf.container]
        if value is None:
            target.pop(leaf.name, None)
        else:
            target[leaf.name] = value
    for container, target in touched.items():
        if not target:
            del new[container]
    if quirks.ENTERPRISE in touched:
        schemas = [s for s in new.get("schemas", []) if s != quirks.ENTERPRISE]
        new["schemas"] = schemas + [quirks.ENTERPRISE] if quirks.ENTERPRISE in new else schemas
    return new


# --- Group members: net changes, never the member list ----------------------------------------


class _MemberChanges:
    """The net effect of member operations applied in order (see GroupPatchResult).

    Ordered dicts serve as ordered sets, so the ids come out in the order they were sent.
    """

    def __init__(self) -> None:
        self.add: dict[str, None] = {}
        self.remove: dict[str, None] = {}
        self.replace: dict[str, None] | None = None
        self.remove_all = False

    def added(self, ids: Iterable[str]) -> None:
        for ident in ids:
            if self.replace is not None:
                self.replace[ident] = None
            else:
                self.remove.pop(ident, None)
                self.add[ident] = None

    def removed(self, ids: Iterable[str]) -> None:
        for ident in ids:
            self.add.pop(ident, None)
            if self.replace is not None:
                self.replace.pop(ident, None)
            elif not self.remove_all:
                self.remove[ident] = None

    def replaced(self, ids: Iterable[str] | None) -> None:
        """``ids`` None removes every member (RFC 7644 §3.5.2.2, remove without filter)."""
        self.add.clear()
        self.remove.clear()
        self.remove_all = ids is None
        self.replace = None if ids is None else dict.fromkeys(ids)


def _is_members(name: str) -> bool:
    return name.lower() in ("members", f"{quirks.CORE_GROUP}:members".lower())


def _take_members(op: Operation, changes: _MemberChanges) -> Operation | None:
    """Record a member operation in ``changes``; return what is left for the document, if any."""
    if op.path is None:
        rest = {k: v for k, v in op.value.items() if not _is_members(k)}
        for key, value in op.value.items():
            if _is_members(key):
                _record(op.op, quirks.member_ids(value), changes)
        return replace(op, value=rest) if rest else None
    if "members" not in op.path.lower():
        return op
    path = ScimPath(op.path)
    if not _is_members(f"{path.schema}:{path.parts[0]}" if path.schema else path.parts[0]):
        return op
    if len(path.parts) > 1:
        raise InvalidPathException(detail="Member sub-attributes cannot be patched; add or remove members.")
    if path.value_filter is not None:
        if op.op != "remove":
            raise InvalidPathException(detail="A members filter only selects members to remove.")
        changes.removed(_filter_ids(path.value_filter))
    elif op.op == "remove" and op.value is None:
        changes.replaced(None)
    else:
        _record(op.op, quirks.member_ids(op.value), changes)
    return None


def _record(op: str, ids: list[str], changes: _MemberChanges) -> None:
    if op == "add":
        changes.added(ids)
    elif op == "remove":  # Entra: the value lists the members to remove
        changes.removed(ids)
    else:
        changes.replaced(ids)


def _filter_ids(node: FilterNode) -> list[str]:
    """Member ids from ``value eq "id"`` comparisons joined by ``or``.

    :raises InvalidFilterException: any other filter; evaluating it would need the member list.
    """
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_:
        return [ident for term in node.terms for ident in _filter_ids(term)]
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and node.attr_path.attr.lower() == "value"
        and node.attr_path.sub_attr is None
        and isinstance(node.value, str)
    ):
        return [node.value]
    raise InvalidFilterException(detail="Members are selected by 'value eq \"id\"' comparisons joined by or.")
