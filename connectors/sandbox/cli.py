"""``scim-bridge sandbox`` / ``python -m connectors.sandbox``: serve every fake alone with uvicorn."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "build_parser", "main", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081


def build_parser(prog: str = "scim-bridge sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Serve the fake vendor APIs.")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--scenario", default="empty", choices=("empty", "demo"))
    return parser


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, scenario: str = "empty") -> None:
    """Serve the sandbox until interrupted; prints each kind's base URL (and demo tokens)."""
    import uvicorn

    from connectors.sandbox.app import create_sandbox_app
    from connectors.sandbox.scenarios import describe_demo

    app = create_sandbox_app(scenario)
    sandbox = app.state.sandbox
    for kind in sandbox.kinds:
        print(f"{kind:18} http://{host}:{port}/{kind}")
    if scenario == "demo":
        for kind, org, token in describe_demo(sandbox):
            print(f"demo {kind:13} org={org} token={token}")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    serve(args.host, args.port, args.scenario)
    return 0
