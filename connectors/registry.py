"""The catalog: app kind -> ``ConnectorSpec`` (display name, factory, metadata, role vocabulary).

Each kind package registers itself when imported (``register(ConnectorSpec(...))`` in
``connectors/<kind>/__init__.py``). The catalog imports the packages listed in ``KIND_PACKAGES``
lazily, on first use; a listed package that does not exist yet is skipped, so adding a kind means
creating its package (the line below is already there for the eight planned kinds).

Capabilities are never declared: ``capabilities()`` derives them from the protocols in
``connectors.base.CAPABILITIES`` that the connector class implements.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from connectors.base import CAPABILITIES, AutomationAccount, Connector, Role, Secret
from connectors.errors import AuthError, InvalidRequest
from connectors.http import HTTPSettings

__all__ = [
    "CATALOG",
    "KIND_PACKAGES",
    "ConnectorFactory",
    "ConnectorSpec",
    "LoginMethod",
    "UnknownKind",
    "capabilities",
    "create_connector",
    "get_spec",
    "register",
    "required_business_id",
    "required_token",
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
    :param login_methods: ``"sso"`` and/or ``"password"`` for the automation account.
    :param account_fields: ``AutomationAccount`` fields the kind needs (a vendor API token is
        always ``"api_token"``).
    :param roles: the app-role vocabulary; ``owner_level`` marks roles that can share access.
    """

    kind: str
    name: str
    cls: type
    factory: ConnectorFactory
    base_url: str
    needs_business_id: bool = True
    business_id_label: str = "Business ID"
    login_methods: tuple[LoginMethod, ...] = ("sso", "password")
    account_fields: tuple[str, ...] = ("api_token",)
    roles: tuple[Role, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        unknown = set(self.account_fields) - set(AutomationAccount.field_names())
        if unknown:
            raise ValueError(f"{self.kind}: unknown account fields {sorted(unknown)}")

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
