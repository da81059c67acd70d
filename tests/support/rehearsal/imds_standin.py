"""IMDSv2 STAND-IN: the part of EC2's instance metadata service our boot scripts read, served at the metadata
address itself (169.254.169.254:80) inside one machine's network namespace, never the host's.

It answers as IMDSv2 does (EC2 User Guide, "Use the Instance Metadata Service to access instance metadata"):
PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds gives a token; every GET must carry it in
X-aws-ec2-metadata-token (else 401); instance-id, placement/region, placement/availability-zone,
tags/instance (the list of keys, and each key's value), and the instance role's temporary credentials
(iam/security-credentials/ names the role, iam/security-credentials/<role> gives them, as the AWS CLI and SDKs
read them: "Retrieve security credentials from instance metadata", EC2 User Guide) under /latest/meta-data/.
The credentials are the role's own in the AWS stand-in (aws_standin.py assumes the instance role, which holds the
plan's role policies, and writes them to a file this stand-in serves): moto authorizes each call as that role.

Run inside the namespace (machine.py starts it with `nsenter --net=/proc/<pid>/ns/net`):
    python -m tests.support.rehearsal.imds_standin --metadata FILE.json
where FILE.json is {"instance-id": …, "region": …, "availability-zone": …, "tags": {…}, "role": …,
"credentials": the file the AWS stand-in writes the role's credentials to}.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADDRESS = "169.254.169.254"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
# How long a request for the role's credentials waits for the AWS stand-in to write them (it seeds first).
CREDENTIALS_WAIT_SECONDS = 60


@dataclass(frozen=True)
class InstanceMetadata:
    instance_id: str
    region: str
    availability_zone: str
    tags: dict[str, str] = field(default_factory=dict)
    role: str = ""  # the instance profile's role; "": no profile, no credentials (as EC2)
    credentials: str = ""  # the file holding the role's credentials (IMDS's shape), written by the AWS stand-in

    def paths(self) -> dict[str, str]:
        """meta-data path → body, as IMDS lists them (the role's credentials: `credentials_path`)."""
        served = {"instance-id": self.instance_id, "placement/region": self.region,
                  "placement/availability-zone": self.availability_zone,
                  "tags/instance": "\n".join(sorted(self.tags))}
        served.update({f"tags/instance/{key}": value for key, value in self.tags.items()})
        if self.role:
            served["iam/security-credentials"] = self.role
        return served

    @property
    def credentials_path(self) -> str | None:
        return f"iam/security-credentials/{self.role}" if self.role else None

    def role_credentials(self, wait: float = CREDENTIALS_WAIT_SECONDS) -> str | None:
        """The role's credentials as the AWS stand-in wrote them (waiting for it to have seeded), None if none."""
        deadline = time.monotonic() + wait
        while True:
            try:
                with open(self.credentials) as handle:
                    return handle.read()
            except FileNotFoundError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.2)

    def to_json(self) -> str:
        return json.dumps({"instance-id": self.instance_id, "region": self.region,
                           "availability-zone": self.availability_zone, "tags": self.tags, "role": self.role,
                           "credentials": self.credentials})

    @classmethod
    def from_json(cls, text: str) -> InstanceMetadata:
        data = json.loads(text)
        return cls(data["instance-id"], data["region"], data["availability-zone"], dict(data["tags"]),
                   data.get("role", ""), data.get("credentials", ""))


def handler_for(metadata: InstanceMetadata) -> type[BaseHTTPRequestHandler]:
    paths = metadata.paths()
    tokens: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: str = "") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != "/latest/api/token" or not self.headers.get(TOKEN_TTL_HEADER):
                self._answer(400)
                return
            token = secrets.token_urlsafe(32)
            tokens.add(token)
            self._answer(200, token)

        def do_GET(self) -> None:  # noqa: N802
            if self.headers.get(TOKEN_HEADER) not in tokens:
                self._answer(401)  # IMDSv2 only: no token, no answer
                return
            path = self.path.removeprefix("/latest/meta-data/").rstrip("/")
            body = (metadata.role_credentials() if path == metadata.credentials_path and metadata.credentials
                    else paths.get(path))
            self._answer(404) if body is None else self._answer(200, body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            sys.stderr.write(f"imds-standin: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")
            sys.stderr.flush()

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="IMDSv2 stand-in, run inside a machine's network namespace.")
    parser.add_argument("--metadata", required=True, help="JSON file: instance-id, region, availability-zone, tags")
    parser.add_argument("--address", default=ADDRESS)
    parser.add_argument("--port", type=int, default=80)
    args = parser.parse_args(argv)
    with open(args.metadata) as handle:
        metadata = InstanceMetadata.from_json(handle.read())
    server = ThreadingHTTPServer((args.address, args.port), handler_for(metadata))
    print(f"imds-standin: serving {args.address}:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
