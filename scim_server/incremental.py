"""Incremental reconciliation in the service: a SCIM change re-plans only the slice of each app it
can affect (issue 13), through the one ``mapping.reconcile``.

``catch_up`` is what an app's outbox ``reconcile`` job runs: it reads the change feed
(``store/feed.py``) after the app's cursor, and

- reconciles the slice ``mapping.incremental.closure`` reaches from the changed users (seeded with
  the app's unsettled users and disputed members), loading it with indexed queries
  (``StoreSource``): users by id or address, members by id, link or address;
- reconciles the whole app instead when the change is one a slice cannot hold: a write naming
  nothing, more than ``MAX_USERS`` users, a slice past ``MAX_SLICE`` records, or username
  matching;
- does nothing but move the cursor when no change can touch the app.

A group write needs no more: the feed holds the users who joined or left it (``store/groups.py``
records them), and a rule reads a user's groups only through that user; of those, only the
moves in groups the app's rules name reach the slice (``feed.Changes.reaching``). A group's own
row on the feed (its name or other attributes written) reaches nobody.

An admin action on one member (match, re-assign, exempt, unexempt) reconciles the slice of that
member and the users it was and is linked to (``reconcile_members``), with the same fallbacks.
The whole app is still reconciled by a check for updates and rule changes, and daily by the
scheduler's check (the safety net). Addresses are looked up by their stored
comparison form (lower case, plus ``mailto:`` and trailing-dot variants); an address stored with
surrounding blanks or one whose case folding differs from lower case (``ß``) is found by the
whole-app reconciliations only.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, union_all

from mapping import (
    Actual,
    AppMember,
    Directory,
    DirectoryUser,
    closure,
)
from scim_server import reconcile
from scim_server.store import fastsql, feed
from scim_server.store import members as member_store
from scim_server.store import reports as report_store
from scim_server.store.app_models import MEMBERS_ACTIVE, MEMBERS_UNSURE
from scim_server.store.apps import AppRecord

MAX_USERS = 1000
MAX_SLICE = 5000
CHUNK = 500
app_members = member_store.app_members
users_t, values_t, group_members_t = reconcile.users_t, reconcile.values_t, reconcile.group_members_t
# Both read through their partial index (migration 0019): the condition is the index's, verbatim.
UNSURE = fastsql.Statement(text(f"SELECT id FROM app_members WHERE app_id = :app AND {MEMBERS_UNSURE}"))
ACTIVE = fastsql.Statement(text(f"SELECT count(*) FROM app_members WHERE app_id = :app AND {MEMBERS_ACTIVE}"))


def _forms(keys: Iterable[str]) -> list[str]:
    """The stored comparison forms an email key can come from (``normalize_email`` undone)."""
    forms: set[str] = set()
    for key in keys:
        forms.update((key, key + ".", "mailto:" + key, "mailto:" + key + "."))
    return sorted(forms)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(set(values))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _in(name: str) -> Any:
    return bindparam(name, expanding=True)


# ``StoreSource``'s statements, built once (each slice runs a dozen of them, for each app): SQLAlchemy
# then only binds them, instead of building and hashing a new construct each time.
_WS: Any = bindparam("ws")
_APP: Any = bindparam("app")
_BY_ADDRESS = union_all(
    select(values_t.c.user_id).where(values_t.c.workspace_id == _WS, values_t.c.path == "emails.value",
                                     values_t.c.value_ci.in_(_in("forms"))),
    select(users_t.c.id).where(users_t.c.workspace_id == _WS, users_t.c.user_name_ci.in_(_in("forms"))),
)  # fmt: skip
_USERS = reconcile.USERS.where(users_t.c.workspace_id == _WS, users_t.c.id.in_(_in("ids")))
_EMAILS = select(values_t.c.user_id, values_t.c.elem, values_t.c.value).where(
    values_t.c.user_id.in_(_in("ids")), values_t.c.path == "emails.value")  # fmt: skip
_LINKED = select(app_members.c.user_id, app_members.c.email).where(
    app_members.c.workspace_id == _WS, app_members.c.user_id.in_(_in("ids")), app_members.c.app_id == _APP,
    member_store.OPEN)  # fmt: skip
_OPEN_MEMBERS = select(app_members).where(app_members.c.app_id == _APP, member_store.OPEN)
_MEMBERS_BY = (
    _OPEN_MEMBERS.where(app_members.c.id.in_(_in("values"))),
    _OPEN_MEMBERS.where(app_members.c.user_id.in_(_in("values")), app_members.c.workspace_id == _WS),
    _OPEN_MEMBERS.where(app_members.c.email_ci.in_(_in("values"))),
)


class StoreSource:
    """``mapping.incremental.SliceSource`` over the store: what ``closure`` asks, by index."""

    def __init__(self, conn: Connection, ws: int, app_id: str) -> None:
        self.conn, self.ws, self.app_id = conn, ws, app_id
        self.rows: dict[str, Any] = {}

    def users(self, ids: frozenset[str], keys: frozenset[str]) -> list[DirectoryUser]:
        conn, ws = self.conn, self.ws
        wanted = set(ids)
        for forms in _chunks(_forms(k[2:] for k in keys if k.startswith("e:"))):
            wanted.update(conn.execute(_BY_ADDRESS, {"ws": ws, "forms": forms}).scalars())
        rows: list[Any] = []
        emails: dict[str, list[str]] = {}
        for chunk in _chunks(wanted):
            rows += conn.execute(_USERS, {"ws": ws, "ids": chunk}).all()
            emails |= reconcile.emails_of(conn, _EMAILS.params(ids=chunk))
        found = [reconcile.user_of(row, emails) for row in rows]
        missing = set(ids) - {u.id for u in found}
        linked: dict[str, set[str]] = defaultdict(set)
        for chunk in _chunks(missing):
            for user_id, email in conn.execute(_LINKED, {"ws": ws, "ids": chunk, "app": self.app_id}):
                linked[user_id].update([email] if email else [])
        return found + reconcile.tombstones(linked, missing)

    def members(self, ids: frozenset[str], user_ids: frozenset[str],
                keys: frozenset[str]) -> list[tuple[AppMember, tuple[str, ...]]]:  # fmt: skip
        conn = self.conn
        forms = _forms(k[2:] for k in keys if k.startswith("e:"))
        rows: list[Any] = []
        for query, values in zip(_MEMBERS_BY, (ids, user_ids, forms), strict=True):
            for chunk in _chunks(values):
                found = conn.execute(query, {"app": self.app_id, "ws": self.ws, "values": chunk})
                rows += [r for r in found if r.id not in self.rows]
        fresh = {r.id: r for r in rows}
        self.rows |= fresh
        perms = member_store.permissions_of(conn, self.app_id, [r.remote_id for r in fresh.values()])
        return [(reconcile.member_of(r, perms), (r.user_id,) if r.user_id else ()) for r in fresh.values()]


def load_slice(conn: Connection, ws: int, app: AppRecord, user_ids: frozenset[str],
               unsettled: frozenset[str], rules: Any, member_ids: frozenset[str] = frozenset()) -> reconcile.Loaded | None:  # fmt: skip
    """The slice of ``app`` the changed users (and members) reach, reconciled; ``None`` when it
    is too big."""
    # Disputed members (``mapping.incremental.unsettled``): an exempted one is stored as exempted,
    # with no user: those are seeded too (a few; the unmatched exempted among them cost little).
    disputed = [mid for (mid,) in fastsql.fetchall(conn, UNSURE, {"app": app.id})]
    source = StoreSource(conn, ws, app.id)
    found = closure(source, user_ids | unsettled, {*disputed, *member_ids}, limit=MAX_SLICE)
    if found is None:
        return None
    rows = [source.rows[mid] for mid in found.members]
    group_ids = sorted({r.group_id for r in rules})
    groups: dict[str, set[str]] = defaultdict(set)
    if group_ids:
        for chunk in _chunks(found.users):
            query = select(group_members_t.c.member_id, group_members_t.c.group_id).where(
                group_members_t.c.workspace_id == ws, group_members_t.c.member_id.in_(chunk),
                group_members_t.c.group_id.in_(group_ids))  # fmt: skip
            for member_id, group_id in conn.execute(query):
                groups[member_id].add(group_id)
    directory = Directory(tuple(found.users.values()), {uid: frozenset(g) for uid, g in groups.items()})
    reported = report_store.reported(conn, app.id, found.members)
    actual = Actual(tuple(found.members.values()), reported, {r.id: r.managed_user_id for r in rows if r.managed_user_id})
    return reconcile.planned(conn, ws, app, rows, directory, reconcile.governance_of(rules, rows), actual,
                             found.reached, population=lambda: population(conn, app.id))  # fmt: skip


def population(conn: Connection, app_id: str) -> int:
    """The app's active members (open, not pending), what the mass-removal guard weighs a slice's
    removals against: an index-only count (``ix_app_members_active``), read only when a plan's
    removals could trip the guard (``reconcile.planned``)."""
    row = fastsql.fetchone(conn, ACTIVE, {"app": app_id})
    return int(row[0]) if row else 0


def catch_up(conn: Connection, ws: int, app: AppRecord, upto: int | None, actor: str) -> dict[str, Any]:
    """Reconcile what the feed's changes after the app's cursor can affect (module docstring), and
    move the cursor to ``upto`` (PostgreSQL: ``feed.horizon`` read in its own transaction first;
    SQLite: ``None``, read here)."""
    current = feed.state(conn, app.id)
    upto = feed.horizon(conn) if upto is None else upto
    if upto is None:  # SQLite has no feed lock: never here
        return {"jobs": [], "reconciled": "later"}
    changes = feed.changes(conn, ws, current.cursor, upto)
    rules = reconcile.load_rules(conn, app.id)
    users = changes.reaching(r.group_id for r in rules)
    whole = changes.unknown or len(users) > MAX_USERS or reconcile.policy_of(app).match_usernames
    if not whole and not users:
        feed.save(conn, ws, app.id, current, upto, current.unsettled)
        return {"jobs": [], "reconciled": "nothing"}
    loaded = None if whole else load_slice(conn, ws, app, users, current.unsettled, rules)
    how = "slice" if loaded is not None else "app"
    if loaded is None:
        loaded = reconcile.load(conn, ws, app)
    loaded = dataclasses.replace(loaded, cursor=upto)
    return reconcile.persist(conn, ws, loaded, actor) | {"reconciled": how, "members": len(loaded.rows)}


def reconcile_members(conn: Connection, ws: int, app: AppRecord, member_ids: Iterable[str],
                      user_ids: Iterable[str], actor: str) -> dict[str, Any]:  # fmt: skip
    """Reconcile what an admin action on members can affect: the slice of ``member_ids`` and
    ``user_ids`` (the users they were and are linked to), seeded like ``catch_up``'s with the
    app's unsettled users and disputed members, or the whole app where a slice cannot hold it
    (username matching, a slice past ``MAX_SLICE``). The feed cursor does not move: the
    directory changes not read yet stay for the app's reconcile job."""
    users = frozenset(u for u in user_ids if u)
    loaded = None
    if len(users) <= MAX_USERS and not reconcile.policy_of(app).match_usernames:
        rules = reconcile.load_rules(conn, app.id)
        loaded = load_slice(conn, ws, app, users, feed.state(conn, app.id).unsettled, rules, frozenset(member_ids))
    how = "slice" if loaded is not None else "app"
    if loaded is None:
        loaded = reconcile.load(conn, ws, app)
    return reconcile.persist(conn, ws, loaded, actor) | {"reconciled": how, "members": len(loaded.rows)}
