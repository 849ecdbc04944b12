"""The ``scim-bridge`` command: serve, migrate, token, worker, sandbox.

Only ``serve`` and ``migrate`` create or upgrade the database. Every other command that needs it
(``token``, ``worker``) refuses, with a message and exit status 2, a database that does not exist
or is not at the latest schema: a typo in ``SCIM_BRIDGE_DATABASE_URL``, or running outside the
project folder, must not leave a new empty ``./scim-bridge.db`` behind.

``serve`` mints and prints tokens only when it creates its workspace (a new database, or a new
``--workspace``): a restart prints none, and tokens from before stay as they are.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from scim_server.audit.cli import register as register_audit
from scim_server.runtime import freeze_startup_heap
from scim_server.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Connection

DEFAULT_WORKSPACE = "default"
EXIT_NO_DATABASE = 2  # the database is missing or not migrated: nothing was done
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DatabaseNotReady(Exception):
    """The database a command needs does not exist or is not migrated (the message says what to do)."""


def require_database(settings: Settings) -> None:
    """Raise ``DatabaseNotReady`` unless the database exists and is at the latest schema.

    Creates nothing: a SQLite file's existence is checked before anything opens it, and the
    schema revision is read through SQLAlchemy (never by touching SQLite's files)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from scim_server.store import migrate

    url = make_url(settings.database_url)
    hint = "run `scim-bridge migrate` (or `scim-bridge serve`) first, or set SCIM_BRIDGE_DATABASE_URL"
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path in ("", ":memory:") or path.startswith("file:"):
            raise DatabaseNotReady(f"{settings.database_url} is not a database file; {hint}.")
        if not Path(path).is_file():
            raise DatabaseNotReady(f"no database at {Path(path).resolve()}; {hint}.")
    heads = set(ScriptDirectory.from_config(migrate.alembic_config(settings.database_url)).get_heads())
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        where = url.render_as_string(hide_password=True)
        raise DatabaseNotReady(f"cannot open the database {where} ({type(exc).__name__}); {hint}.") from None
    finally:
        engine.dispose()
    if not current:
        raise DatabaseNotReady(f"the database {url.render_as_string(hide_password=True)} has no scim-bridge "
                               f"schema; {hint}.")  # fmt: skip
    if current != heads:
        raise DatabaseNotReady(f"the database schema is at {', '.join(sorted(current))}, this scim-bridge needs "
                               f"{', '.join(sorted(heads))}: run `scim-bridge migrate`.")  # fmt: skip


def parse_expiry(expires_in: str | None, expires: str | None, now: datetime | None = None) -> datetime | None:
    """The expiry of ``--expires-in 30d`` (s, m, h, d, w) or ``--expires 2027-01-01T00:00Z`` (ISO
    8601; a time without an offset is UTC); None for neither. ``ValueError`` for anything else,
    or an instant that is not in the future."""
    now = now or datetime.now(UTC)
    if expires_in is not None:
        found = _DURATION.match(expires_in)
        if found is None or int(found[1]) == 0:
            raise ValueError(f"--expires-in takes a positive duration such as 30d, 12h or 90m, not {expires_in!r}")
        at = now + timedelta(**{_UNITS[found[2]]: int(found[1])})
    elif expires is not None:
        text = expires.strip()
        text = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"--expires takes an ISO 8601 instant such as 2027-01-01T00:00Z, not {expires!r}") from None
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    else:
        return None
    if at <= now:
        raise ValueError(f"the expiry {at:%Y-%m-%d %H:%M}Z is not in the future")
    return at


def _db(settings: Settings):  # type: ignore[no-untyped-def]
    from scim_server.store.db import Database

    return Database(settings)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.store import migrate

    migrate.upgrade(settings.database_url)
    if args.check:
        migrate.check(settings.database_url)
    print("database is at the latest schema")
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.store import tenancy

    expires = None
    if args.token_command == "create":
        try:
            expires = parse_expiry(args.expires_in, args.expires)
        except ValueError as exc:
            print(f"scim-bridge token create: {exc}", file=sys.stderr)
            return EXIT_NO_DATABASE
    require_database(settings)
    db = _db(settings)
    try:
        if args.token_command == "create":
            token_id, token = db.write_sync(
                lambda conn: tenancy.create_token(conn, args.workspace, args.scope, args.label, expires)
            )
            until = f", expires {expires:%Y-%m-%dT%H:%M:%SZ}" if expires is not None else ""
            print(f"token {token_id} for workspace {args.workspace!r}, scope {args.scope}{until} (shown once):")
            print(token)
        elif args.token_command == "list":
            # id, workspace, scope, state, created, expires, label (tab-separated, times in UTC)
            for rec in db.read_sync(lambda conn: tenancy.list_tokens(conn, args.workspace)):
                state = "revoked" if rec.revoked else "expired" if rec.expired() else "active"
                until = f"{rec.expires:%Y-%m-%dT%H:%MZ}" if rec.expires is not None else "never"
                print(f"{rec.id}\t{rec.workspace}\t{rec.scope}\t{state}\t{rec.created:%Y-%m-%d %H:%M}\t{until}\t"
                      f"{rec.label or ''}")  # fmt: skip
        elif args.token_command == "revoke":
            if not db.write_sync(lambda conn: tenancy.revoke_token(conn, args.token_id)):
                print(f"no active token {args.token_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.token_id}")
    finally:
        db.close()
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.app import create_app
    from scim_server.lifecycle import DrainingServer, server_config
    from scim_server.observability import configure_logging
    from scim_server.store import migrate, tenancy

    settings = settings.model_copy(update={"host": args.host or settings.host, "port": args.port or settings.port})
    configure_logging(settings.log_level)
    migrate.upgrade(settings.database_url)
    db = _db(settings)

    def first_start(conn: Connection) -> list[tuple[str, str, str]]:
        """(scope, token id, token) minted with the workspace, in the transaction that creates it."""
        if tenancy.create_workspace_if_absent(conn, args.workspace) is None:
            return []
        scopes = ("scim", "admin") if args.demo else ("scim",)
        return [(scope, *tenancy.create_token(conn, args.workspace, scope, f"created by serve ({scope})"))
                for scope in scopes]  # fmt: skip

    minted = db.write_sync(first_start)
    base = (settings.public_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    state = "created" if minted else "exists"
    print(f"scim-bridge: workspace {args.workspace!r} ({state})", flush=True)
    for scope, token_id, token in minted:
        label = "SCIM token" if scope == "scim" else "Admin API token"
        print(f"{label} ({token_id}): {token}", flush=True)
    if not minted:
        print(f"Tokens are not printed again; make one with: scim-bridge token create --workspace {args.workspace}"
              " --scope scim|admin", flush=True)  # fmt: skip
    print(f"Console: {base}/console  (sign in with an admin token)", flush=True)
    extra = []
    if args.demo:
        from starlette.routing import Mount

        from connectors.sandbox import create_sandbox_app

        extra.append(Mount("/sandbox", create_sandbox_app("demo")))
        print(f"Admin API: {base}/api/v1", flush=True)
        _print_demo(base)
    print(f"SCIM base URL: {base}/scim/v2", flush=True)
    app = create_app(settings, database=db, extra_routes=extra)
    freeze_startup_heap()
    DrainingServer(server_config(app, settings), app.state.readiness, settings.shutdown_drain_seconds).run()
    return 0


def _print_demo(base: str) -> None:
    """Every kind's demo business id and the automation accounts the mounted sandbox accepts,
    one JSON object per line (the README's demo table holds the same values)."""
    from connectors.sandbox.demo_credentials import demo_apps

    print(f"Sandbox apps (demo data): api_base_url {base}/sandbox/<kind>; connect with:", flush=True)
    for app in demo_apps():
        for name, account in app.accounts:
            line = {"kind": app.kind, "business_id": app.business_id, "automation_account": account,
                    "api_base_url": f"{base}/sandbox/{app.kind}"}  # fmt: skip
            print(f"demo {app.kind} ({name}): {json.dumps(line)}", flush=True)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Workers alone, for scale-out: any number share the database (jobs are leased)."""
    import asyncio
    import signal

    from scim_server.app import build_services, start_background
    from scim_server.observability import configure_logging

    require_database(settings)
    configure_logging(settings.log_level)
    concurrency = {"worker_concurrency": args.concurrency} if args.concurrency else {}
    services = build_services(settings.model_copy(update=concurrency))
    freeze_startup_heap()

    async def run() -> None:
        services.db.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.gather(*start_background(services, stop, scheduler=not args.no_scheduler))
        services.db.close()

    asyncio.run(run())
    return 0


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.sandbox.cli import serve

    serve(args.host, args.port, args.scenario)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scim-bridge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the SCIM server (migrates the database first)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workspace", default=DEFAULT_WORKSPACE)
    serve.add_argument("--demo", action="store_true", help="also serve the sandbox apps with demo data")
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("--check", action="store_true", help="also fail if models and migrations differ")
    mig.set_defaults(func=cmd_migrate)

    token = sub.add_parser("token", help="manage API tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create")
    create.add_argument("--workspace", default=DEFAULT_WORKSPACE)
    create.add_argument("--scope", choices=["scim", "admin", "audit"], default="scim")
    create.add_argument("--label")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", metavar="DURATION", help="valid for this long: 30d, 12h, 90m, 2w, 3600s")
    expiry.add_argument("--expires", metavar="INSTANT", help="valid until this ISO 8601 instant (UTC unless it says)")
    lst = tsub.add_parser("list")
    lst.add_argument("--workspace")
    revoke = tsub.add_parser("revoke")
    revoke.add_argument("token_id")
    token.set_defaults(func=cmd_token)

    worker = sub.add_parser("worker", help="run job workers (and the scheduler) without the HTTP face")
    worker.add_argument("--no-scheduler", action="store_true", help="leave scheduling to other processes")
    worker.add_argument("--concurrency", type=int, help="jobs in flight in this process (default 8)")
    worker.set_defaults(func=cmd_worker)

    register_audit(sub)

    sandbox = sub.add_parser("sandbox", help="serve the fake vendor APIs alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8081)
    sandbox.add_argument("--scenario", default="empty", choices=["empty", "demo"])
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, Settings()))
    except DatabaseNotReady as exc:
        print(f"scim-bridge {args.command}: {exc}", file=sys.stderr)
        return EXIT_NO_DATABASE


if __name__ == "__main__":
    raise SystemExit(main())
