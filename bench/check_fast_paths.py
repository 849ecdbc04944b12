#!/usr/bin/env python3
"""Check that the fast paths answer exactly as the general ones (not a timed test).

1. ``scim.query.simple_eq`` (the ``attr eq "value"`` recogniser) against scim2-models' filter
   parser on random filters: whenever it matches, the parser yields the same attribute/value.
2. ``find_users_eq``/``find_groups_eq`` (precompiled statements) against the SQL that
   ``scim.filters`` builds, on awkward names (case, NFC, ß, tabs, null externalId), with paging.

    .venv/bin/python bench/check_fast_paths.py [DATABASE_URL]

Prints the number of cases and any mismatch; exits 1 on a mismatch. Worth turning into a
hypothesis test in tests/scim_filters (owned elsewhere).
"""
import random
import sys
import tempfile
from pathlib import Path

from scim_server.scim import filters
from scim_server.scim.query import simple_eq
from scim_server.scim.resources import parse_group, parse_user
from scim_server.settings import Settings
from scim_server.store import directory, migrate, tenancy
from scim_server.store import groups as gstore
from scim_server.store.db import Database

url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{Path(tempfile.mkdtemp())/'e.db'}"
migrate.upgrade(url)
db = Database(Settings(database_url=url))
ws = db.write_sync(lambda c: tenancy.ensure_workspace(c, "w"))
names = ["Ada@X.com", "bob", "Ça@é.fr", "Cafe\u0301", "ÉCOLE", "straße", "ZED", "x y", "nbsp\u00a0name"]  # a tab is refused in a userName (scim/value_rules.py)
ids = {}
def mk(c):
    for i, n in enumerate(names):
        f = parse_user({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": n, "externalId": ["E1", "e1", "E1", None][i % 4]})
        ids[n] = directory.create_user(c, ws, f).id
    for i, n in enumerate(["Admins", "admins", "ÉQUIPE", "Team"]):
        gf, m = parse_group({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": n, "externalId": "G" if i < 2 else None})
        ids["g:" + n] = gstore.create_group(c, ws, gf, m).id
db.write_sync(mk)
vals = names + [n.lower() for n in names] + [n.upper() for n in names] + ["E1", "e1", "G", "g", "", "admins", "ADMINS", "équipe", "Café", "strasse"] + list(ids.values()) + [v.upper() for v in ids.values()]
bad = 0; n = 0
for attr, res in (("userName", "u"), ("username", "u"), ("externalId", "u"), ("id", "u"), ("ID", "u"), ("displayName", "g"), ("externalId", "g"), ("id", "g")):
    for v in vals:
        text = f'{attr} eq "{v}"'
        eq = simple_eq(text)
        if eq is None: continue
        for offset, limit in ((0, 100), (0, 1), (1, 100), (0, 0), (2, 1)):
            def both(c, res=res, eq=eq, text=text, offset=offset, limit=limit):
                if res == "u":
                    fast = directory.find_users_eq(c, ws, eq[0], eq[1], offset, limit)
                    where = filters.user_where(text, ws)
                    slow = (directory.count_users(c, ws, where), directory.list_users(c, ws, where, None, offset, limit) if limit else [])
                else:
                    fast = gstore.find_groups_eq(c, ws, eq[0], eq[1], offset, limit)
                    where = filters.group_where(text, ws)
                    slow = (gstore.count_groups(c, ws, where), gstore.list_groups(c, ws, where, None, offset, limit) if limit else [])
                return (fast[0], [r.id for r in fast[1]]), (slow[0], [r.id for r in slow[1]])
            f, s = db.read_sync(both)
            n += 1
            if f != s:
                bad += 1; print("MISMATCH", text, offset, limit, f, s)
print("store fast paths: checked", n, "mismatches", bad)
db.close()


def _recogniser_cases(count: int = 20000) -> int:
    import string

    from scim2_models import ScimFilter
    from scim2_models.path import Comparison

    rng = random.Random(7)
    alphabet = string.printable + "éß\u0301\u00a0\u2028漢\x00\x01\x1f\"\\"
    attrs = ["userName", "USERNAME", "externalId", "id", "displayName", "emails.value",
             "urn:ietf:params:scim:schemas:core:2.0:User:userName", "user-name"]  # fmt: skip
    mismatches = 0
    for _ in range(count):
        space = lambda: rng.choice([" ", "  ", "\t", "\n", "", " \r "])
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        op = rng.choice(["eq", "EQ", "Eq", "ne", "co"])
        text = f'{space()}{rng.choice(attrs)}{space() or " "}{op}{space() or " "}"{value}"{space()}'
        fast = simple_eq(text)
        if fast is None:
            continue
        ast = ScimFilter(text).ast
        ok = isinstance(ast, Comparison) and ast.op.value == "eq" and not ast.attr_path.uri
        if not ok or fast != (ast.attr_path.attr.lower(), ast.value) or ast.attr_path.sub_attr:
            mismatches += 1
            print("MISMATCH", repr(text), fast, ast)
    print("recogniser: checked", count, "random filters, mismatches", mismatches)
    return mismatches


sys.exit(1 if bad or _recogniser_cases() else 0)
