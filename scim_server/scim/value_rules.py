"""What a written value may hold: checked before anything is written, alike on every database.

- **Lengths the storage can hold.** ``userName``, ``displayName`` and ``externalId`` of a User,
  ``displayName`` and ``externalId`` of a Group are ``VARCHAR(512)`` columns
  (``store/models.py``), and so are the case-folded keys beside them (``user_name_ci``,
  ``display_name_ci``): at most :data:`MAX_NAME_CHARS` characters, the value and its comparison
  key alike. Every other value of a User is a row of the value index, whose
  ``(workspace_id, path, value_ci)`` b-tree entry PostgreSQL caps at 2704 bytes: at most
  :data:`MAX_VALUE_BYTES` bytes of UTF-8. PostgreSQL refused longer values with a 500 and
  SQLite stored them; both now answer 400 ``invalidValue``. RFC 7643 has no attribute for a
  maximum length, so these are told in the README, openapi/openapi.yaml and the attribute
  descriptions of ``/Schemas``.
- **Names people read.** ``userName`` and ``displayName`` (users and groups) may not hold control
  characters (Unicode category Cc), bidirectional embeddings, overrides or isolates (U+202A to
  U+202E, U+2066 to U+2069: they make a name display as another, CVE-2021-42574 "Trojan
  Source"), and may not be blank: whitespace or invisible format characters only (an empty
  ``displayName`` of a User stays allowed, as before; an empty ``userName`` or Group
  ``displayName`` is refused as missing elsewhere).

A PATCH is checked on the attributes it changes only, so a value stored before these rules
never blocks an unrelated change (deactivating a user must always work).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from scim2_models import InvalidValueException

from scim_server.store.values import comparison_key, user_value_rows

__all__ = ["MAX_NAME_CHARS", "MAX_VALUE_BYTES", "check_group", "check_user"]

MAX_NAME_CHARS = 512
MAX_VALUE_BYTES = 2048
_USER_COLUMNS = ("userName", "displayName", "externalId")
_GROUP_COLUMNS = ("displayName", "externalId")
_NAMES = ("userName", "displayName")
_CONTROL_OR_BIDI = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def check_user(doc: Mapping[str, Any], before: Mapping[str, Any] | None = None) -> None:
    """Refuse a User document (the stored form) that breaks a rule above.

    ``before``: the stored document a PATCH started from; only what differs from it is checked.

    :raises InvalidValueException: the first rule broken, naming the attribute (never its value).
    """
    changed = _changed(doc, before)
    _check_strings(doc, changed, _USER_COLUMNS)
    for row in user_value_rows("", 0, {key: doc[key] for key in changed}):
        for text in (row["value"], row["value_ci"]):
            # at most 4 bytes a character: only a long text needs encoding
            if text is not None and len(text) * 4 > MAX_VALUE_BYTES and len(text.encode()) > MAX_VALUE_BYTES:
                raise InvalidValueException(
                    detail=f"'{row['path']}' is longer than {MAX_VALUE_BYTES} bytes (UTF-8)."
                )


def check_group(doc: Mapping[str, Any], before: Mapping[str, Any] | None = None) -> None:
    """As :func:`check_user`, for a Group document (without its members)."""
    _check_strings(doc, _changed(doc, before), _GROUP_COLUMNS)


def _changed(doc: Mapping[str, Any], before: Mapping[str, Any] | None) -> list[str]:
    if before is None:
        return list(doc)
    return [key for key, value in doc.items() if before.get(key) != value]


def _check_strings(doc: Mapping[str, Any], changed: Iterable[str], columns: tuple[str, ...]) -> None:
    for name in changed:
        value = doc[name]
        if not isinstance(value, str):
            continue
        if name in columns:
            _check_length(name, value)
        if name in _NAMES:
            _check_name(name, value)


def _check_length(name: str, value: str) -> None:
    if len(value) > MAX_NAME_CHARS or len(comparison_key(value)) > MAX_NAME_CHARS:
        raise InvalidValueException(detail=f"'{name}' is longer than {MAX_NAME_CHARS} characters.")


def _check_name(name: str, value: str) -> None:
    if _CONTROL_OR_BIDI.search(value):
        raise InvalidValueException(
            detail=f"'{name}' may not contain control characters or bidirectional overrides "
            "(U+202A to U+202E, U+2066 to U+2069)."
        )
    if value and all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in value):
        raise InvalidValueException(detail=f"'{name}' may not be blank.")
