"""Meta asset permissions: Graph ``tasks`` sets <-> the named permissions the bridge exchanges.

Graph grants a person a *set* of tasks on an asset (``POST /{asset}/assigned_users`` ``tasks``;
vendor-apis.md section 2, "Role vocabulary"). Ad-account tasks are ``MANAGE``, ``ADVERTISE``,
``ANALYZE``, ``DRAFT``, ``AA_ANALYZE``; Page tasks are ``MANAGE``, ``CREATE_CONTENT``, ``MODERATE``,
``MESSAGING``, ``ADVERTISE``, ``ANALYZE``. Business Manager's UI bundles them into the classic roles
(admin / advertiser / analyst for ad accounts; admin / editor / moderator / advertiser / analyst for
Pages), and those names are the ``Permission.permission`` values. A task set matching no bundle is
reported as its sorted, comma-joined tasks (``"ANALYZE,DRAFT"``), which ``tasks_for`` accepts back.

The asset type comes from the Graph id: ad-account node ids are always ``act_<account id>``
(Marketing API), every other asset here is a Page.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.errors import InvalidRequest

__all__ = ["AD_ACCOUNT", "BUNDLES", "PAGE", "TASKS", "asset_type_of", "permission_for", "tasks_for"]

AD_ACCOUNT = "ad_account"
PAGE = "page"

TASKS: Mapping[str, frozenset[str]] = {
    AD_ACCOUNT: frozenset({"MANAGE", "ADVERTISE", "ANALYZE", "DRAFT", "AA_ANALYZE"}),
    PAGE: frozenset({"MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"}),
}

BUNDLES: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    AD_ACCOUNT: {
        "admin": ("MANAGE", "ADVERTISE", "ANALYZE"),
        "advertiser": ("ADVERTISE", "ANALYZE"),
        "analyst": ("ANALYZE",),
    },
    PAGE: {
        "admin": ("MANAGE", "CREATE_CONTENT", "MODERATE", "ADVERTISE", "ANALYZE"),
        "editor": ("CREATE_CONTENT", "MODERATE", "ADVERTISE", "ANALYZE"),
        "moderator": ("MODERATE", "ADVERTISE", "ANALYZE"),
        "advertiser": ("ADVERTISE", "ANALYZE"),
        "analyst": ("ANALYZE",),
    },
}


def asset_type_of(asset_id: str) -> str:
    """``ad_account`` for ``act_<n>`` ids, else ``page``."""
    return AD_ACCOUNT if asset_id.startswith("act_") else PAGE


def permission_for(asset_type: str, tasks: tuple[str, ...] | list[str]) -> str:
    """The bundle name of ``tasks`` on an asset of ``asset_type``, else the sorted tasks joined by ``,``."""
    wanted = frozenset(tasks)
    for name, bundle in BUNDLES.get(asset_type, {}).items():
        if frozenset(bundle) == wanted:
            return name
    return ",".join(sorted(wanted))


def tasks_for(asset_id: str, permission: str, operation: str = "grant") -> tuple[str, ...]:
    """The Graph task list for ``permission`` on ``asset_id``; ``InvalidRequest`` if unknown."""
    asset_type = asset_type_of(asset_id)
    bundle = BUNDLES[asset_type].get(permission)
    if bundle is not None:
        return bundle
    tasks = tuple(t.strip() for t in permission.split(",") if t.strip())
    if not tasks or not set(tasks) <= TASKS[asset_type]:
        known = ", ".join(BUNDLES[asset_type])
        raise InvalidRequest("meta_business", operation,
                             f"unknown {asset_type} permission {permission!r} (use {known} or Graph tasks)")
    return tasks
