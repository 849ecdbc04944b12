"""The SCIM models this server validates with: scim2-models', with one deviation.

RFC 7643 §4.1.2 types ``emails.value`` as a plain string; scim2-models uses pydantic's
``EmailStr``, which rejects addresses Okta really sends (``user@okta.local``) and rewrites
the domain's case, while Entra's tutorial asks that "values sent should be stored in the
same format they were sent". So emails stay strings here.
"""

from __future__ import annotations

from scim2_models import AnyExtension, EnterpriseUser, User
from scim2_models import Email as _Email


class Email(_Email):
    value: str | None = None


class BridgeUser(User[AnyExtension]):
    # list is invariant, so narrowing the element type is an incompatible override to mypy;
    # pydantic validates with this field's own annotation, which is the point.
    emails: list[Email] | None = None  # type: ignore[assignment]


UserModel = BridgeUser[EnterpriseUser]
