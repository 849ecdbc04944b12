"""Import 50,000 members (with assets) from the sandbox through every connector that lists members.

For each kind in the catalog whose connector implements ``ListsMembers`` and that has a sandbox fake:
seed an in-process sandbox, serve it with uvicorn on 127.0.0.1, stream ``list_members()`` (and
``list_assets()`` / ``list_permissions()`` when the kind has them) the way a check for updates does,
and print members/s and the peak RSS. Each kind runs in its own subprocess so the peak RSS is that
kind's (it includes the sandbox's 50k-member state, which lives in the same process).

Goal (issue 4): 50,000 members in under 60 s and under 300 MB for every kind.

    .venv/bin/python bench/connectors_import.py [--members 50000] [--kind github]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

from connectors.base import AutomationAccount, ListsAssets
from connectors.http import HTTPSettings
from connectors.registry import CATALOG, capabilities, create_connector
from connectors.sandbox import SeedAsset, SeedMember, SeedSpec, create_sandbox_app
from connectors.sandbox.app import fake_classes

TOKEN = "bench-token"


def _account(kind: str) -> AutomationAccount:
    """Apple signs a JWT with a team key instead of presenting a token: the sandbox derives the
    team's key pair from the seeded token (``team_credentials``)."""
    if kind == "apple":
        from connectors.sandbox.apple import team_credentials

        return team_credentials(TOKEN)
    return AutomationAccount(api_token=TOKEN)
ASSETS, GRANTS_PER_ASSET = 20, 250


def bench_kinds() -> list[str]:
    fakes = fake_classes()
    return [k for k in CATALOG if "ListsMembers" in capabilities(k) and k in fakes]


def seed_spec(kind: str, fake: object, members: int) -> SeedSpec:
    owner, plain = fake.owner_role, fake.member_role
    people = tuple(
        SeedMember(f"user{n}@bench.example.com", f"User {n}", owner if n % 50 == 0 else plain,
                   "pending" if n % 40 == 0 else "active")
        for n in range(members)
    )
    permission, asset_type = fake.asset_permission, fake.asset_type
    step = max(1, members // GRANTS_PER_ASSET)
    assets = tuple(
        SeedAsset(f"asset-{a}", f"Asset {a}", asset_type,
                  tuple((f"user{n}@bench.example.com", permission)
                        for n in range(a + 1, members, step) if n % 40))  # active members only
        for a in range(ASSETS)
    )
    return SeedSpec(fake.demo_org, TOKEN, people, assets)


def serve(app: object) -> tuple[uvicorn.Server, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                                           lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, port


async def import_all(kind: str, base_url: str, org: str) -> tuple[int, int, int]:
    connector = create_connector(kind, account=_account(kind), base_url=base_url,
                                 business_id=org, settings=HTTPSettings())
    members = assets = grants = 0
    try:
        async for _ in connector.list_members():  # type: ignore[attr-defined]
            members += 1
        if isinstance(connector, ListsAssets):
            async for asset in connector.list_assets():
                assets += 1
                async for _ in connector.list_permissions(asset):
                    grants += 1
    finally:
        await connector.aclose()
    return members, assets, grants


def run_one(kind: str, count: int) -> None:
    app = create_sandbox_app("empty", kinds=[kind])
    sandbox = app.state.sandbox
    fake = sandbox.fake(kind)
    spec = seed_spec(kind, fake, count)
    started = time.perf_counter()
    sandbox.seed(kind, spec)
    del spec
    seeded = time.perf_counter() - started
    server, port = serve(app)
    started = time.perf_counter()
    members, assets, grants = asyncio.run(import_all(kind, f"http://127.0.0.1:{port}/{kind}", fake.demo_org))
    elapsed = time.perf_counter() - started
    server.should_exit = True
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{kind:16} members={members:6d} assets={assets:3d} grants={grants:5d} "
          f"time={elapsed:6.2f}s rate={members / elapsed:8.0f} members/s peak_rss={rss_mb:6.1f} MB "
          f"(seed {seeded:.1f}s)", flush=True)
    if members != count:
        raise SystemExit(f"{kind}: imported {members} members, expected {count}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--kind", help="run one kind in this process (default: each in a subprocess)")
    args = parser.parse_args(argv)
    if args.kind:
        run_one(args.kind, args.members)
        return 0
    failed = 0
    for kind in bench_kinds():
        result = subprocess.run([sys.executable, __file__, "--kind", kind, "--members", str(args.members)], check=False)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
