"""What Okta and Microsoft Entra ID really send in a PATCH, brought back to RFC 7644 §3.5.2.

Pure functions, no I/O. Each one names the deviation it absorbs and the public document that
shows the IdP sending it. The sources, quoted below by short name:

- **Okta SCIM 2.0 reference**: https://developer.okta.com/docs/reference/scim/scim-20/
  ("Update a specific User (PATCH)", "Update a specific Group name", "Update specific Group
  membership").
- **Okta SPEC/CRUD test**: https://developer.okta.com/docs/guides/build-provisioning-integration/test-scim-app/
  (the Runscope CRUD suite deactivates then reactivates the user through the PATCH above).
- **Entra tutorial**: "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
  Entra ID", https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
- **Entra known issues**: "Known issues and resolutions with SCIM 2.0 protocol compliance",
  https://learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility

What scim2-models already tolerates is left to it (attribute names compared case-insensitively,
dotted and URN-qualified keys in a path-less value, string booleans on its model path, filtered
paths that create their entry, a remove whose value selects entries).
"""

from __future__ import annotations

from typing import Any

from scim2_models import InvalidSyntaxException, InvalidValueException, NoTargetException

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KNOWN_SCHEMAS = tuple(s.lower() for s in (CORE_USER, CORE_GROUP, ENTERPRISE))
ENTERPRISE_LOWER = ENTERPRISE.lower()
MANAGER_PATH = f"{ENTERPRISE_LOWER}:manager"

OPS = frozenset({"add", "remove", "replace"})
# Read-only attributes a client echoes back in a value (RFC 7643 §3.1 id/meta; §4.1.2 groups).
READONLY_KEYS = frozenset({"id", "meta", "groups"})
_TRUE, _FALSE = "true", "false"


def operations_of(body: Any) -> list[Any]:
    """The ``Operations`` of a PatchOp request body (RFC 7644 §3.5.2).

    ``schemas`` must list the PatchOp URN; other URNs beside it are tolerated. The member names
    are matched case-insensitively (RFC 7643 §2.1), so ``operations`` is read as ``Operations``.

    :raises InvalidSyntaxException: the body is not an object, does not name the PatchOp schema,
        or has no non-empty ``Operations`` list.
    """
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="A PATCH body must be a JSON object.")
    members = {str(k).lower(): v for k, v in body.items()}
    schemas = members.get("schemas")
    if isinstance(schemas, str):
        schemas = [schemas]
    if not isinstance(schemas, list) or PATCH_OP.lower() not in {str(s).lower() for s in schemas}:
        raise InvalidSyntaxException(detail=f"'schemas' must list {PATCH_OP}.")
    operations = members.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntaxException(detail="'Operations' must be a non-empty list of operations.")
    return operations


def op_members(raw: Any) -> dict[str, Any]:
    """One operation object with its member names lowercased (``Op``/``Path``/``Value``)."""
    if not isinstance(raw, dict):
        raise InvalidSyntaxException(detail="Each PATCH operation must be a JSON object.")
    return {str(k).lower(): v for k, v in raw.items()}


def op_name(raw: Any) -> str:
    """The operation name in lowercase.

    Entra emits ``Add``, ``Replace`` and ``Remove`` (Entra tutorial, "General": "Don't require
    a case-sensitive match on structural elements in SCIM, in particular PATCH op operation
    values"; Entra known issues, "Requests made to disable users").

    :raises InvalidValueException: anything but add/remove/replace (the scimType scim2-models
        gives an unknown op, RFC 7644 §3.12 defines none more precise).
    """
    name = raw.lower() if isinstance(raw, str) else None  # a list/object op must not reach the set lookup
    if name not in OPS:
        raise InvalidValueException(detail=f"{raw!r} is not a PATCH operation: add, remove or replace.")
    return str(name)


def require_remove_path(op: str, path: str | None) -> None:
    """RFC 7644 §3.5.2.2: a remove without a path fails with ``noTarget``."""
    if op == "remove" and path is None:
        raise NoTargetException(detail="A remove operation needs a 'path'.")


def is_foreign_urn(name: str) -> bool:
    """Whether an attribute name or path is qualified by a schema URN this server does not know.

    Entra's tutorial sends a custom extension (``urn:ietf:params:scim:schemas:extension:
    CustomExtensionName:2.0:User``); Entra's group creation adds
    ``http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group``. Such
    attributes are tolerated and dropped rather than refused (RFC 7644 §3.5.2 leaves the
    service provider free to ignore what it does not support).
    """
    lowered = name.lower()
    if not lowered.startswith(("urn:", "http://", "https://")):
        return False
    return not any(lowered == s or lowered.startswith(s + ":") for s in KNOWN_SCHEMAS)


def clean_value(value: dict[str, Any]) -> dict[str, Any]:
    """A path-less value without the keys that carry nothing to write.

    Dropped: read-only ``id``/``meta``/``groups`` (Okta's group rename sends
    ``{"op":"replace","value":{"id":..., "displayName":...}}``, Okta SCIM 2.0 reference,
    "Update a specific Group name"), ``schemas``, and attributes of unknown schema URNs.
    """
    return {
        key: item
        for key, item in value.items()
        if isinstance(key, str)
        and key.lower() not in READONLY_KEYS
        and key.lower() != "schemas"
        and not is_foreign_urn(key)
    }


def as_bool(value: Any) -> bool | None:
    """A boolean from a JSON boolean or Entra's ``"True"``/``"False"`` strings, else None.

    Entra known issues, "Requests made to disable users": without the ``aadOptscim062020``
    flag Entra sends ``{"op":"Replace","path":"active","value":"False"}``. Only the two words,
    in any case, are read here; anything else is left to the model's validation.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == _TRUE:
            return True
        if lowered == _FALSE:
            return False
    return None


def manager_value(value: Any) -> Any:
    """The enterprise ``manager`` complex value (RFC 7643 §4.3) from what Entra sends.

    Entra's tutorial shows ``"manager": "123456"``, a bare id, and Entra PATCHes
    ``{"op":"Add","path":"urn:...:enterprise:2.0:User:manager","value":"<id>"}``. The
    ``$ref`` scim2-models requires is derived from the id as the stored documents hold it
    (``displayName`` is read-only, RFC 7643 §4.3, and never stored). An empty id means no
    manager: None is returned, which unassigns the attribute.
    Entra's tutorial (Example 5) also sends ``"path": "manager"`` (no schema URN) with a
    one-element list of ``{"$ref", "value"}``. Any other shape is returned unchanged for the
    model to judge.
    """
    if isinstance(value, list) and len(value) == 1:  # Entra tutorial Example 5: a one-element list
        value = value[0]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return {"value": value, "$ref": f"../Users/{value}"}
    if isinstance(value, dict):
        members = {str(k).lower(): k for k in value}
        ident = value.get(members.get("value", "value"))
        if ident is None or (isinstance(ident, str) and not ident.strip()):
            return None
        if "$ref" not in members and isinstance(ident, str):
            return {**value, "$ref": f"../Users/{ident}"}
    return value


def manager_in(value: dict[str, Any]) -> dict[str, Any]:
    """An enterprise-extension object whose ``manager`` key, if any, is normalised."""
    return {
        key: manager_value(item) if isinstance(key, str) and key.lower() == "manager" else item
        for key, item in value.items()
    }


def member_ids(value: Any) -> list[str]:
    """Group member ids from a ``members`` value (RFC 7643 §4.2): ``[{"value": id}, ...]``.

    A single object is read as a list of one. Entra sends ``"$ref": null`` beside ``value``
    (Entra tutorial, "Update Group [Add Members]"); Okta sends ``display`` (Okta SCIM 2.0
    reference, "Update specific Group membership"). Only ``value`` matters here.

    :raises InvalidValueException: an entry is not an object with a non-empty string ``value``.
    """
    if value is None:
        return []
    entries = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for entry in entries:
        ident = None
        if isinstance(entry, dict):
            ident = entry.get("value")  # the usual spelling; any other casing is looked for
            if ident is None:
                ident = next((v for k, v in entry.items() if str(k).lower() == "value"), None)
        if not isinstance(ident, str) or not ident:
            raise InvalidValueException(detail="Each member must be an object with a string 'value'.")
        ids.append(ident)
    return ids
