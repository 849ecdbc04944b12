"""Tokens with an expiry: ``token create --expires-in`` / ``--expires``, shown by ``token list``,
refused (401) by the authenticator from that instant, cached or not; revocation still works."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from scim_server.cli import parse_expiry
from scim_server.store import tenancy
from tests.auth.test_revocation import bridge, wait_until
from tests.serve_process import EXE, cli, cli_env


def test_parse_expiry() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_expiry("30d", None, now) == now + timedelta(days=30)
    assert parse_expiry(" 12h", None, now) == now + timedelta(hours=12)
    assert parse_expiry(None, "2027-01-01T00:00Z", now) == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_expiry(None, "2027-01-01T01:00+01:00", now) == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_expiry(None, "2027-01-01", now) == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_expiry(None, None, now) is None
    for bad in (("0d", None), ("30x", None), ("d", None), (None, "tomorrow"), (None, "2020-01-01T00:00Z")):
        with pytest.raises(ValueError):
            parse_expiry(*bad, now=now)


def test_token_create_with_expiry_and_list_shows_it(db_url: str) -> None:
    env = cli_env(db_url)
    cli(env, "migrate")
    out = cli(env, "token", "create", "--workspace", "acme", "--expires", "2027-01-01T00:00Z", "--label", "ci")
    assert "expires 2027-01-01T00:00:00Z" in out
    cli(env, "token", "create", "--workspace", "acme", "--expires-in", "30d")
    cli(env, "token", "create", "--workspace", "acme")
    rows = [line.split("\t") for line in cli(env, "token", "list", "--workspace", "acme").splitlines()]
    assert rows[0][5] == "2027-01-01T00:00Z" and rows[0][6] == "ci"
    in_30d = datetime.now(UTC) + timedelta(days=30)
    assert rows[1][5] in {f"{in_30d - timedelta(minutes=m):%Y-%m-%dT%H:%MZ}" for m in range(3)}
    assert rows[2][5] == "never" and all(r[3] == "active" for r in rows)
    for bad in (["--expires", "2020-01-01T00:00Z"], ["--expires-in", "soon"]):
        done = subprocess.run([*EXE, "token", "create", *bad], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    both = subprocess.run([*EXE, "token", "create", "--expires", "2027-01-01", "--expires-in", "1d"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_an_expired_token_is_refused_and_listed_as_expired(db_url: str) -> None:
    with bridge(db_url) as server:
        past = datetime.now(UTC) - timedelta(seconds=1)
        _, expired = server.db.write_sync(lambda conn: tenancy.create_token(conn, "acme", "scim", None, past))
        _, valid = server.db.write_sync(
            lambda conn: tenancy.create_token(conn, "acme", "scim", None, datetime.now(UTC) + timedelta(days=1))
        )
        assert server.status(expired) == 401
        assert server.status(valid) == 200
        assert server.db.read_sync(lambda conn: tenancy.lookup_token(conn, expired)) is None
        listed = cli(cli_env(db_url), "token", "list", "--workspace", "acme")
        assert sorted(line.split("\t")[3] for line in listed.splitlines()) == ["active", "expired"]


def test_a_cached_token_is_refused_once_it_expires(db_url: str) -> None:
    """The servers cache verified tokens for a minute: the entry must carry the token's expiry."""
    with bridge(db_url) as server:
        soon = datetime.now(UTC) + timedelta(seconds=2)
        _, token = server.db.write_sync(lambda conn: tenancy.create_token(conn, "acme", "scim", None, soon))
        _, other = server.token()
        assert server.status(token) == 200  # now cached
        wait_until(lambda: server.status(token) == 401, seconds=10)
        assert datetime.now(UTC) >= soon
        assert server.status(other) == 200
        other_id = server.db.read_sync(lambda conn: [t.id for t in tenancy.list_tokens(conn, "acme")
                                                     if t.expires is None])[0]  # fmt: skip
        assert server.revoke_here(other_id)
        assert server.status(other) == 401  # the revocation epoch still takes effect at once
