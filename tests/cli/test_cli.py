"""The scim-bridge command, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.serve_process import cli, cli_env, serve

EXE = [sys.executable, "-m", "scim_server.cli"]


def _env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {"SCIM_BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def test_token_create_prints_token_alone_on_last_line(tmp_path: Path) -> None:
    subprocess.run(EXE + ["migrate"], env=_env(tmp_path), capture_output=True, check=True)
    out = subprocess.run(EXE + ["token", "create", "--workspace", "acme", "--scope", "admin"],
                         env=_env(tmp_path), capture_output=True, text=True, check=True)  # fmt: skip
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("sbt_") and " " not in token
    listed = subprocess.run(EXE + ["token", "list"], env=_env(tmp_path), capture_output=True, text=True, check=True)
    assert "acme\tadmin\tactive" in listed.stdout and token not in listed.stdout
    assert listed.stdout.rstrip("\n").split("\t")[5] == "never"
    token_id = listed.stdout.split("\t")[0]
    subprocess.run(EXE + ["token", "revoke", token_id], env=_env(tmp_path), check=True, capture_output=True)
    listed = subprocess.run(EXE + ["token", "list"], env=_env(tmp_path), capture_output=True, text=True, check=True)
    assert "revoked" in listed.stdout


def test_serve_prints_base_url_and_a_working_token(tmp_path: Path) -> None:
    with serve(cli_env(f"sqlite:///{tmp_path / 'serve.db'}"), tmp_path) as running:
        assert running.token.startswith("sbt_")
        response = httpx.get(running.scim + "/Users", headers={"Authorization": f"Bearer {running.token}"})
        assert response.status_code == 200 and response.json()["totalResults"] == 0


def test_other_commands_refuse_to_create_a_sqlite_database(tmp_path: Path) -> None:
    env = _env(tmp_path)
    for args in (["token", "list"], ["token", "create", "--scope", "admin"], ["token", "revoke", "tok_x"],
                 ["worker", "--no-scheduler"]):  # fmt: skip
        done = subprocess.run(EXE + args, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "no database at" in done.stderr and "scim-bridge migrate" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "cli.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_other_commands_refuse_an_unmigrated_database(db_url: str, tmp_path: Path) -> None:
    """PostgreSQL: a database that exists but holds no schema; SQLite: an empty file."""
    if db_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute("CREATE TABLE unrelated (x INTEGER)")
    env = cli_env(db_url)
    done = subprocess.run(EXE + ["token", "list"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "no scim-bridge schema" in done.stderr, done.stderr
    cli(env, "migrate")
    assert cli(env, "token", "list") == ""


def test_a_missing_postgres_database_is_a_clear_exit_2(tmp_path: Path) -> None:
    from tests.db import POSTGRES_ADMIN_URL

    env = cli_env(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/sb_no_such_database_here")
    done = subprocess.run(EXE + ["token", "list"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "cannot open the database" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_serve_mints_tokens_only_when_it_creates_the_workspace(db_url: str, tmp_path: Path) -> None:
    env = cli_env(db_url)
    with serve(env, tmp_path, "first") as first:
        token = first.token
        assert token.startswith("sbt_")
    with serve(env, tmp_path, "second") as second:
        assert second.token == ""  # a restart prints no token
        response = httpx.get(second.scim + "/Users", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200  # the first start's token still works
    listed = cli(env, "token", "list").splitlines()
    assert len(listed) == 1 and "\tdefault\tscim\tactive\t" in listed[0]
