"""The catalog: app kind -> ``ConnectorSpec`` (display name, factory, metadata, role vocabulary).

Each kind package registers itself when imported (``register(ConnectorSpec(...))`` in
``connectors/<kind>/__init__.py``). The catalog imports the packages listed in ``KIND_PACKAGES``
lazily, on first use; a listed package that does not exist yet is skipped, so adding a kind means
creating its package (the line below is already there for the eight planned kinds).

Capabilities are never declared: ``capabilities()`` derives them from the protocols in
``connectors.base.CAPABILITIES`` that the connector class implements.

Two different things are said about sign-in, and they must not be confused:

- the **login method** (``login_methods``, ``default_login_method``) is how the app's *members*
  sign in: ``sso`` (through the IdP; members keep no password of their own in the app) or
  ``password`` (members keep credentials in the app). Every kind offers both unless the vendor truly
  forbids one, and then ``unavailable_login_methods`` says why;
- the **automation account** (``account_fields``, ``credential_sets``) is the app-side admin the
  connectors act as; its fields are the kind's own (an API token, an API key triple, or TikTok's
  username and password for its App Authorization flow).

The helpers ``login_methods``, ``default_login_method``, ``check_login_method``,
``validate_credentials`` and ``describe`` are pure (no I/O, no database): the service layer calls
them to validate a connect or configure request before it talks to the app.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from connectors.base import CAPABILITIES, AutomationAccount, Connector, Role, Secret
from connectors.errors import AuthError, InvalidRequest
from connectors.http import HTTPSettings

__all__ = [
    "CATALOG",
    "KIND_PACKAGES",
    "LOGIN_METHODS",
    "CatalogError",
    "ConnectorFactory",
    "ConnectorSpec",
    "CredentialSet",
    "InvalidCredentials",
    "InvalidLoginMethod",
    "LoginMethod",
    "UnknownKind",
    "capabilities",
    "check_login_method",
    "create_connector",
    "default_login_method",
    "describe",
    "get_spec",
    "login_methods",
    "register",
    "required_business_id",
    "required_token",
    "validate_credentials",
]

# One line per kind: the package whose __init__ calls register(). Missing packages are skipped.
KIND_PACKAGES: tuple[str, ...] = (
    "connectors.tiktok_business",
    "connectors.meta_business",
    "connectors.github",
    "connectors.slack",
    "connectors.atlassian",
    "connectors.asana",
    "connectors.calendly",
    "connectors.apple",
)

LoginMethod = Literal["sso", "password"]
LOGIN_METHODS: tuple[LoginMethod, ...] = get_args(LoginMethod)
"""How an app's members sign in: ``sso`` through the IdP, or ``password`` kept in the app."""


@dataclass(frozen=True, slots=True)
class CredentialSet:
    """One complete way to give the automation account: every ``required`` field, any ``optional``.

    A kind lists the sets it accepts, preferred first (TikTok: an ``api_token`` obtained before, or
    ``username`` + ``password`` + the developer app's ``app_id`` / ``app_secret`` for its App
    Authorization flow, ``phone`` when the login asks for it).
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    description: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


class ConnectorFactory(Protocol):
    """Builds a ready connector. ``base_url`` is production's or the sandbox's ``.../<kind>``."""

    def __call__(
        self,
        *,
        base_url: str,
        account: AutomationAccount,
        business_id: str | None,
        settings: HTTPSettings,
    ) -> Connector: ...


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """Everything the catalog says about one kind.

    :param kind: catalog key (``"github"``); also the sandbox mount ``/<kind>``.
    :param name: display name.
    :param cls: the connector class (its capabilities are derived from it).
    :param factory: see ``ConnectorFactory``.
    :param base_url: production base URL.
    :param needs_business_id: whether an app of this kind needs a business/org id.
    :param business_id_label: how the UI names that id ("Organization", "Business Center ID").
    :param login_methods: how the app's *members* may sign in (``"sso"`` and/or ``"password"``);
        both unless the vendor forbids one (then name it, with the reason, in
        ``unavailable_login_methods``).
    :param default_login_method: the method assumed when a connect request does not say.
    :param login_method_notes: per method, what it means for this vendor (shown in the catalog).
    :param unavailable_login_methods: ``(method, reason)`` for a method the vendor does not allow.
    :param account_fields: ``AutomationAccount`` fields the automation account may carry (a vendor
        API token is always ``"api_token"``).
    :param credential_sets: the complete combinations of ``account_fields`` accepted, preferred
        first; by default one set requiring every account field.
    :param roles: the app-role vocabulary; ``owner_level`` marks roles that can share access.
    """

    kind: str
    name: str
    cls: type
    factory: ConnectorFactory
    base_url: str
    needs_business_id: bool = True
    business_id_label: str = "Business ID"
    login_methods: tuple[LoginMethod, ...] = LOGIN_METHODS
    default_login_method: LoginMethod = "sso"
    login_method_notes: tuple[tuple[LoginMethod, str], ...] = ()
    unavailable_login_methods: tuple[tuple[LoginMethod, str], ...] = ()
    account_fields: tuple[str, ...] = ("api_token",)
    credential_sets: tuple[CredentialSet, ...] = ()
    roles: tuple[Role, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        unknown = set(self.account_fields) - set(AutomationAccount.field_names())
        if unknown:
            raise ValueError(f"{self.kind}: unknown account fields {sorted(unknown)}")
        if not self.credential_sets:
            object.__setattr__(self, "credential_sets", (CredentialSet("account", self.account_fields),))
        for credential_set in self.credential_sets:
            stray = set(credential_set.fields) - set(self.account_fields)
            if stray:
                raise ValueError(f"{self.kind}: credential set {credential_set.name!r} uses {sorted(stray)}, "
                                 "which are not account fields")
        if not self.login_methods or set(self.login_methods) - set(LOGIN_METHODS):
            raise ValueError(f"{self.kind}: login methods must be among {LOGIN_METHODS}")
        if self.default_login_method not in self.login_methods:
            raise ValueError(f"{self.kind}: the default login method is not one it offers")
        missing = set(LOGIN_METHODS) - set(self.login_methods) - {m for m, _ in self.unavailable_login_methods}
        if missing:
            raise ValueError(f"{self.kind}: say why members cannot use {sorted(missing)} (unavailable_login_methods)")

    @property
    def capabilities(self) -> tuple[str, ...]:
        return capabilities(self.cls)

    @property
    def owner_roles(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.roles if r.owner_level)


class UnknownKind(KeyError):
    """No kind of that name is registered."""


_lock = threading.RLock()
_specs: dict[str, ConnectorSpec] = {}
_loaded = False


def register(spec: ConnectorSpec) -> ConnectorSpec:
    """Add ``spec`` to the catalog (called by ``connectors/<kind>/__init__.py``). Idempotent."""
    with _lock:
        existing = _specs.get(spec.kind)
        if existing is not None and existing.cls is not spec.cls:
            raise ValueError(f"kind {spec.kind!r} is already registered by {existing.cls!r}")
        _specs[spec.kind] = spec
    return spec


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for package in KIND_PACKAGES:
            try:
                importlib.import_module(package)
            except ModuleNotFoundError as exc:
                if exc.name != package:  # the package exists but something it imports is missing
                    raise
        _loaded = True


class _Catalog(Mapping[str, ConnectorSpec]):
    """``CATALOG[kind]``: a read-only mapping that imports the kind packages on first use."""

    def __getitem__(self, kind: str) -> ConnectorSpec:
        _load()
        try:
            return _specs[kind]
        except KeyError:
            raise UnknownKind(kind) from None

    def __iter__(self) -> Iterator[str]:
        _load()
        return iter(sorted(_specs, key=_order))

    def __len__(self) -> int:
        _load()
        return len(_specs)


def _order(kind: str) -> int:
    names = [p.rsplit(".", 1)[-1] for p in KIND_PACKAGES]
    return names.index(kind) if kind in names else len(names)


CATALOG: Mapping[str, ConnectorSpec] = _Catalog()


def get_spec(kind: str) -> ConnectorSpec:
    """The spec of ``kind``; raises ``UnknownKind``."""
    return CATALOG[kind]


def capabilities(target: str | type | object) -> tuple[str, ...]:
    """Names of the capability protocols ``target`` implements, in ``CAPABILITIES`` order.

    ``target`` is a kind, a connector class or a connector instance (baton ``GetCapabilities``).
    """
    if isinstance(target, str):
        target = get_spec(target).cls
    if isinstance(target, type):
        return tuple(p.__name__ for p in CAPABILITIES if issubclass(target, p))
    return tuple(p.__name__ for p in CAPABILITIES if isinstance(target, p))


def create_connector(
    kind: str,
    *,
    account: AutomationAccount,
    base_url: str | None = None,
    business_id: str | None = None,
    settings: HTTPSettings | None = None,
) -> Connector:
    """Build a connector of ``kind``; ``base_url`` defaults to production."""
    spec = get_spec(kind)
    return spec.factory(
        base_url=base_url or spec.base_url,
        account=account,
        business_id=business_id,
        settings=settings or HTTPSettings(),
    )


def required_token(kind: str, account: AutomationAccount) -> Secret:
    """The account's ``api_token``; a factory without one cannot connect (``AuthError``)."""
    if account.api_token is None:
        raise AuthError(kind, "connect", "the automation account has no api_token")
    return account.api_token


def required_business_id(kind: str, business_id: str | None, what: str) -> str:
    """The business/organization id a factory needs; ``what`` names it in the error."""
    if not business_id:
        raise InvalidRequest(kind, "connect", f"{what} is required")
    return business_id


# -- login methods and credentials: pure checks for the service layer -------------------------------


class CatalogError(ValueError):
    """A request does not fit what the catalog says about a kind; ``field`` names what is wrong
    (``"login_method"``, ``"automation_account.api_token"``), for the caller's error body."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field
        self.message = message


class InvalidLoginMethod(CatalogError):
    """The kind's members cannot sign in that way (the message says why)."""


class InvalidCredentials(CatalogError):
    """The automation account's fields are unknown to the kind, missing, or malformed."""


def login_methods(kind: str) -> tuple[LoginMethod, ...]:
    """How members of an app of ``kind`` may sign in. Raises ``UnknownKind``."""
    return get_spec(kind).login_methods


def default_login_method(kind: str) -> LoginMethod:
    """The login method of a connect request that does not name one. Raises ``UnknownKind``."""
    return get_spec(kind).default_login_method


def check_login_method(kind: str, method: object | None) -> LoginMethod:
    """``method`` (the kind's default when ``None``) if members of ``kind`` may sign in that way;
    else ``InvalidLoginMethod`` with the vendor's reason when there is one."""
    spec = get_spec(kind)
    if method is None:
        return spec.default_login_method
    for offered in spec.login_methods:
        if method == offered:
            return offered
    reason = {str(m): r for m, r in spec.unavailable_login_methods}.get(method) if isinstance(method, str) else None
    allowed = " or ".join(spec.login_methods)
    text = f"{spec.name} members sign in with {allowed}"
    raise InvalidLoginMethod(kind, "login_method", f"{text}: {reason}" if reason else f"{text}.")


def validate_credentials(kind: str, fields: Mapping[str, object]) -> dict[str, str]:
    """The automation account ``fields`` checked against ``kind``'s credential sets.

    Returns the non-empty fields as strings (what the vault seals). Raises ``InvalidCredentials``
    naming the first bad field: one the kind does not take, a value that is not a string or holds
    a control character (it could not travel in an HTTP header), or a field missing from every
    accepted set (the one missing from the preferred set that the request comes closest to).
    Never echoes a value: the message names fields only.
    """
    spec = get_spec(kind)
    given: dict[str, str] = {}
    for name, value in fields.items():
        where = f"automation_account.{name}"
        if name not in spec.account_fields:
            raise InvalidCredentials(kind, where, f"{spec.name} takes no automation account field {name!r}; "
                                     f"its fields: {', '.join(spec.account_fields)}.")
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise InvalidCredentials(kind, where, f"{name} must be a string.")
        if any(ord(c) < 32 and c not in "\n\r\t" or ord(c) == 127 for c in value):
            raise InvalidCredentials(kind, where, f"{name} holds control characters.")
        if name != "private_key" and (not value.isascii() or any(c in value for c in "\n\r")):
            raise InvalidCredentials(kind, where, f"{name} must be printable ASCII on one line.")
        given[name] = value
    best: tuple[int, int, int, CredentialSet] | None = None
    for rank, candidate in enumerate(spec.credential_sets):
        missing = [f for f in candidate.required if f not in given]
        if not missing:
            return given
        score = (-sum(f in given for f in candidate.fields), len(missing), rank)  # most overlap, fewest gaps
        if best is None or score < best[:3]:
            best = (*score, candidate)
    assert best is not None  # __post_init__ guarantees at least one set
    closest = best[3]
    missing = [f for f in closest.required if f not in given]
    ways = "; or ".join(" + ".join(s.required) for s in spec.credential_sets)
    raise InvalidCredentials(kind, f"automation_account.{missing[0]}",
                             f"{spec.name} needs {', '.join(missing)} in the automation account (accepted: {ways}).")


def describe(kind: str) -> dict[str, Any]:
    """The catalog entry of ``kind`` as the admin API and the console show it (JSON-ready)."""
    spec = get_spec(kind)
    return {
        "kind": spec.kind,
        "name": spec.name,
        "capabilities": list(spec.capabilities),
        "needs_business_id": spec.needs_business_id,
        "business_id_label": spec.business_id_label,
        "login_methods": list(spec.login_methods),
        "default_login_method": spec.default_login_method,
        "login_method_notes": dict(spec.login_method_notes),
        "unavailable_login_methods": [{"method": m, "reason": r} for m, r in spec.unavailable_login_methods],
        "account_fields": list(spec.account_fields),
        "credential_sets": [
            {"name": c.name, "required": list(c.required), "optional": list(c.optional), "description": c.description}
            for c in spec.credential_sets
        ],
        "roles": [{"key": r.key, "name": r.name, "owner_level": r.owner_level} for r in spec.roles],
    }
