"""``python -m connectors.sandbox [--host H] [--port P] [--scenario demo]``."""

import sys

from connectors.sandbox.cli import build_parser, serve

if __name__ == "__main__":
    args = build_parser("python -m connectors.sandbox").parse_args(sys.argv[1:])
    serve(args.host, args.port, args.scenario)
