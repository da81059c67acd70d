"""AWS API STAND-IN: moto in server mode inside one machine's network namespace, over TLS on 443, holding what the
Pulumi program creates in AWS for the machine's stack (its Secrets Manager secrets and the S3 objects it uploads).

Reached the way a machine in a VPC with private endpoints reaches AWS: the regional names the AWS CLI uses
(secretsmanager.<region>.amazonaws.com, s3.<region>.amazonaws.com and the bucket's virtual-host name) resolve to
a private address (here: an address of the namespace's loopback, by the machine's /etc/hosts, standing in for the
VPC's private DNS of interface endpoints), and the certificate served for them is trusted by the machine's own
trust store (the rehearsal CA, rehearsal_ca.py). So the boot scripts run unchanged: no --endpoint-url, no
AWS_CA_BUNDLE, no --no-verify-ssl. (The other way, the scripts' own endpoint settings, such as
neo4j:backupS3Endpoint, would rehearse a different configuration from the one users deploy.)

The machine's AWS CLI signs with its instance role's credentials from the IMDS stand-in; moto takes any
credentials and checks no IAM policy (the role's policy is not rehearsed).

Run inside the namespace (machine.py starts it with `nsenter --net=/proc/<pid>/ns/net`):
    python -m tests.support.rehearsal.aws_standin --address A --cert C --key K --ca CA --seed SEED.json
where SEED.json is {"region": …, "secrets": {name: value}, "objects": [{"bucket", "key", "file"}]}.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from pathlib import Path

ADDRESS = "127.100.0.1"  # the "interface endpoints'" private address, on the namespace's lo
PORT = 443
ACCOUNT_ID = "123456789012"  # moto's default account


def endpoint_names(region: str, buckets: tuple[str, ...]) -> tuple[str, ...]:
    """The names the AWS CLI of the machine asks for, which the machine's /etc/hosts sends here."""
    return (f"secretsmanager.{region}.amazonaws.com", f"s3.{region}.amazonaws.com",
            *(f"{bucket}.s3.{region}.amazonaws.com" for bucket in sorted(set(buckets))))


def certificate_names(region: str) -> tuple[str, ...]:
    # A wildcard for the virtual-host names of buckets (one label: bucket names without dots, as ours), and the
    # address itself for the seeding client below.
    return (f"secretsmanager.{region}.amazonaws.com", f"s3.{region}.amazonaws.com", f"*.s3.{region}.amazonaws.com",
            ADDRESS)


def _seed(address: str, ca: str, seed: dict) -> None:
    """Creates the secrets, buckets and objects through the stand-in's own API, as a deploy would."""
    import boto3
    from botocore.config import Config

    region = seed["region"]
    session = boto3.session.Session(aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal",
                                    region_name=region)
    options = {"endpoint_url": f"https://{address}:{PORT}", "verify": ca}
    secrets = session.client("secretsmanager", **options)
    for name, value in seed["secrets"].items():
        secrets.create_secret(Name=name, SecretString=value)
    s3 = session.client("s3", config=Config(s3={"addressing_style": "path"}), **options)
    for bucket in sorted({entry["bucket"] for entry in seed["objects"]}):
        # As components/aws/backup_store.py makes the bucket: versioned, object lock on.
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True,
                         CreateBucketConfiguration={"LocationConstraint": region})
    for entry in seed["objects"]:
        s3.put_object(Bucket=entry["bucket"], Key=entry["key"], Body=Path(entry["file"]).read_bytes())


def _logged(app):
    """Each request on stderr: method, host and path, the API action (X-Amz-Target), the status."""
    def wrapper(environ, start_response):
        def start(status, headers, exc_info=None):
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            sys.stderr.write(f"aws-standin: {environ['REQUEST_METHOD']} {environ.get('HTTP_HOST', '')}"
                             f"{environ.get('PATH_INFO', '')}{' ' + target if target else ''} -> {status.split()[0]}\n")
            sys.stderr.flush()
            return start_response(status, headers, exc_info)
        return app(environ, start)
    return wrapper


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="AWS API stand-in (moto over TLS), run in a machine's namespace.")
    parser.add_argument("--address", default=ADDRESS)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True, help="the CA that signed --cert (the seeding client verifies it)")
    parser.add_argument("--seed", required=True)
    args = parser.parse_args(argv)
    # This process has the namespace's metadata address at hand: no SDK of it may look for credentials there.
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its lines name no host nor API: _logged's do
    app = _logged(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.address, PORT, app, threaded=True, ssl_context=(args.cert, args.key))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(args.seed) as handle:
        seed = json.load(handle)
    _seed(args.address, args.ca, seed)
    print(f"aws-standin: serving {args.address}:{PORT}: {len(seed['secrets'])} secrets, "
          f"{len(seed['objects'])} objects", file=sys.stderr, flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
