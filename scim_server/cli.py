"""The ``scim-bridge`` command: serve, migrate, token, sandbox."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scim_server.audit.cli import register as register_audit
from scim_server.runtime import freeze_startup_heap
from scim_server.settings import Settings

DEFAULT_WORKSPACE = "default"


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
    from scim_server.store import migrate, tenancy

    migrate.upgrade(settings.database_url)
    db = _db(settings)
    try:
        if args.token_command == "create":
            token_id, token = db.write_sync(
                lambda conn: tenancy.create_token(conn, args.workspace, args.scope, args.label)
            )
            print(f"token {token_id} for workspace {args.workspace!r}, scope {args.scope} (shown once):")
            print(token)
        elif args.token_command == "list":
            for rec in db.read_sync(lambda conn: tenancy.list_tokens(conn, args.workspace)):
                state = "revoked" if rec.revoked else "active"
                print(f"{rec.id}\t{rec.workspace}\t{rec.scope}\t{state}\t{rec.created:%Y-%m-%d %H:%M}\t{rec.label or ''}")
        elif args.token_command == "revoke":
            if not db.write_sync(lambda conn: tenancy.revoke_token(conn, args.token_id)):
                print(f"no active token {args.token_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.token_id}")
    finally:
        db.close()
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from scim_server.app import create_app
    from scim_server.lifecycle import DrainingServer
    from scim_server.observability import configure_logging
    from scim_server.store import migrate, tenancy

    settings = settings.model_copy(update={"host": args.host or settings.host, "port": args.port or settings.port})
    configure_logging(settings.log_level)
    migrate.upgrade(settings.database_url)
    db = _db(settings)
    token_id, token = db.write_sync(
        lambda conn: tenancy.create_token(conn, args.workspace, "scim", "created by serve")
    )
    base = (settings.public_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    print(f"scim-bridge: workspace {args.workspace!r}", flush=True)
    print(f"SCIM base URL: {base}/scim/v2", flush=True)
    print(f"SCIM token ({token_id}): {token}", flush=True)
    print(f"Console: {base}/console  (sign in with an admin token)", flush=True)
    extra = []
    if args.demo:
        from starlette.routing import Mount

        from connectors.sandbox import create_sandbox_app

        admin_id, admin = db.write_sync(lambda conn: tenancy.create_token(conn, args.workspace, "admin", "demo"))
        extra.append(Mount("/sandbox", create_sandbox_app("demo")))
        print(f"Admin API: {base}/api/v1  token ({admin_id}): {admin}", flush=True)
        print(f"Sandbox apps (demo data): {base}/sandbox/<kind>  e.g. api_base_url {base}/sandbox/github", flush=True)
    app = create_app(settings, database=db, extra_routes=extra)
    freeze_startup_heap()
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                            loop="auto", http="auto",
                            timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds))  # fmt: skip
    DrainingServer(config, app.state.readiness, settings.shutdown_drain_seconds).run()
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Workers alone, for scale-out: any number share the database (jobs are leased)."""
    import asyncio
    import signal

    from scim_server.app import build_services, start_background
    from scim_server.observability import configure_logging

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
    return int(args.func(args, Settings()))


if __name__ == "__main__":
    raise SystemExit(main())
