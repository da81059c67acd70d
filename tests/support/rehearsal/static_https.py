"""A static HTTPS server for the rehearsal's file stand-ins (Neo4j's apt repository, PyPI), run inside one
machine's network namespace with a certificate of the rehearsal CA; each request is logged with its status.

    python -m tests.support.rehearsal.static_https --label NAME --directory DIR --address A --cert C --key K
"""
from __future__ import annotations

import argparse
import functools
import ssl
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

PORT = 443


def handler(label: str) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            sys.stderr.write(f"{label}: {self.command} {self.headers.get('Host', '')}{self.path} -> "
                             f"{args[1] if len(args) > 1 else ''}\n")
            sys.stderr.flush()

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Static HTTPS stand-in, run in a machine's namespace.")
    parser.add_argument("--label", required=True)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.address, PORT), functools.partial(handler(args.label),
                                                                         directory=args.directory))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"{args.label}: serving {args.address}:{PORT} from {args.directory}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
