"""AWS API STAND-IN: moto in server mode inside one machine's network namespace, over TLS on 443, holding what the
Pulumi program creates in AWS for the machine's stack (its Secrets Manager secrets and the S3 objects it uploads).

Reached the way a machine in a VPC with private endpoints reaches AWS: the regional names the AWS CLI uses
(secretsmanager.<region>.amazonaws.com, s3.<region>.amazonaws.com and the bucket's virtual-host name) resolve to
a private address (here: an address of the namespace's loopback, by the machine's /etc/hosts, standing in for the
VPC's private DNS of interface endpoints), and the certificate served for them is trusted by the machine's own
trust store (the rehearsal CA, rehearsal_ca.py). So the boot scripts run unchanged: no --endpoint-url, no
AWS_CA_BUNDLE, no --no-verify-ssl. (The other way, the scripts' own endpoint settings, such as
neo4j:backupS3Endpoint, would rehearse a different configuration from the one users deploy.)

THE INSTANCE ROLE IS ENFORCED. The stand-in holds the machine's instance role (its name and trust policy) with
exactly the role policies the plan renders for it (user_data.py RolePolicy; the ARNs of the plan's mocks,
arn:aws:mock:::<resource>, become the ARNs of what the stand-in holds: the secrets' own ARNs, the bucket's, the KMS
keys' and the session log group's), assumes it for the instance (session name: the instance id, as EC2 does) and
writes those temporary credentials for the IMDS stand-in to serve. Once seeded, moto checks every request's
signature and the caller's policies (moto's IAM enforcement, otherwise off: INITIAL_NO_AUTH_ACTION_COUNT), so a
call the role's policy does not allow is refused with AccessDenied, as on EC2. Where moto 5.2.5 authorizes a
request differently from AWS, `iam_enforced` corrects that one request kind, each with its evidence:
- HeadBucket: moto asks for s3:HeadBucket, which IAM does not have; AWS asks for s3:ListBucket (S3 API
  Reference, HeadBucket, "Permissions": "To use this operation, you must have permissions to perform the
  s3:ListBucket action").
- Secrets Manager: moto authorizes every action against the resource "*" (its SecretsManagerResponse names no
  resource), so a statement naming secret ARNs, as ours do, never matches and every read is refused; AWS
  authorizes GetSecretValue and the other secret actions against the secret's ARN (Service Authorization
  Reference, AWS Secrets Manager: resource type "Secret"). Here a request naming a secret (SecretId) is
  authorized against that secret's ARN.
What moto does not evaluate stays unrehearsed: a statement's Condition (moto refuses the action when the request
carries none of its keys: the role's kms statements, which the machine never calls directly), KMS key policies
and bucket policies.

Run inside the namespace (machine.py starts it with `nsenter --net=/proc/<pid>/ns/net`):
    python -m tests.support.rehearsal.aws_standin --address A --cert C --key K --ca CA --seed SEED.json \
        --role ROLE.json --credentials OUT.json
where SEED.json is {"region": …, "secrets": {name: value}, "objects": [{"bucket", "key", "file"}],
"arns": [{"arn", "kind", "name"}]} (the plan's mock ARNs and what each names), ROLE.json {"name",
"assume_role_policy", "policies": [{"name", "document"}], "session"} and OUT.json is where the role's
credentials are written, in IMDS's shape.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ADDRESS = "127.100.0.1"  # the "interface endpoints'" private address, on the namespace's lo
PORT = 443
ACCOUNT_ID = "123456789012"  # moto's default account
# An ARN of the plan's mocks (components/program/recording.py): arn:aws:mock:::<resource name>, then what a policy
# appends (/prefix/*, :log-stream:*).
MOCK_ARN = re.compile(r"arn:aws:mock:::([A-Za-z0-9._-]+)")
# How long the role's credentials last (EC2 renews them before they expire; a rehearsal is shorter).
CREDENTIALS_SECONDS = 6 * 3600


def endpoint_names(region: str, buckets: tuple[str, ...]) -> tuple[str, ...]:
    """The names the AWS CLI of the machine asks for, which the machine's /etc/hosts sends here."""
    return (f"secretsmanager.{region}.amazonaws.com", f"s3.{region}.amazonaws.com",
            *(f"{bucket}.s3.{region}.amazonaws.com" for bucket in sorted(set(buckets))))


def certificate_names(region: str) -> tuple[str, ...]:
    # A wildcard for the virtual-host names of buckets (one label: bucket names without dots, as ours), and the
    # address itself for the seeding client below.
    return (f"secretsmanager.{region}.amazonaws.com", f"s3.{region}.amazonaws.com", f"*.s3.{region}.amazonaws.com",
            ADDRESS)


def stand_in_policy(document: str, arns: dict[str, str]) -> str:
    """A role policy of the plan with each mock ARN replaced by the ARN of what it names in the stand-in (`arns`:
    resource name → ARN); nothing else of the document changes. A mock ARN naming something the stand-in does
    not hold is refused, not left in."""
    unknown = sorted({name for name in MOCK_ARN.findall(document) if name not in arns})
    if unknown:
        raise RuntimeError(f"rehearsal: the role policy names resources the AWS stand-in does not hold: {unknown}")
    return MOCK_ARN.sub(lambda found: arns[found.group(1)], document)


def seed_resources(endpoint: str, verify: str | bool, seed: dict) -> dict[str, str]:
    """Creates the secrets, buckets and objects through the stand-in's own API, as a deploy would (moto's IAM
    enforcement still off). Returns the plan's resource name → its ARN here, for every ARN seed["arns"] lists."""
    import boto3
    from botocore.config import Config

    region = seed["region"]
    session = boto3.session.Session(aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal",
                                    region_name=region)
    options = {"endpoint_url": endpoint, "verify": verify}
    secrets = session.client("secretsmanager", **options)
    secret_arns = {name: secrets.create_secret(Name=name, SecretString=value)["ARN"]
                   for name, value in seed["secrets"].items()}
    s3 = session.client("s3", config=Config(s3={"addressing_style": "path"}), **options)
    for bucket in sorted({entry["bucket"] for entry in seed["objects"]}):
        # As components/aws/backup_store.py makes the bucket: versioned, object lock on.
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True,
                         CreateBucketConfiguration={"LocationConstraint": region})
    for entry in seed["objects"]:
        s3.put_object(Bucket=entry["bucket"], Key=entry["key"], Body=Path(entry["file"]).read_bytes())
    arns: dict[str, str] = {}
    for planned in seed.get("arns", []):
        resource, kind, name = planned["arn"].removeprefix("arn:aws:mock:::"), planned["kind"], planned["name"]
        if kind == "secret":
            arns[resource] = secret_arns[name]
        elif kind == "bucket":
            arns[resource] = f"arn:aws:s3:::{name}"
        elif kind == "kms-key":
            arns[resource] = session.client("kms", **options).create_key(Description=name)["KeyMetadata"]["Arn"]
        elif kind == "log-group":
            session.client("logs", **options).create_log_group(logGroupName=name)
            arns[resource] = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{name}"  # a LogGroup's arn output
        else:
            raise RuntimeError(f"rehearsal: no ARN in the AWS stand-in for a {kind} ({planned['arn']})")
    return arns


def instance_role_credentials(endpoint: str, verify: str | bool, role: dict, arns: dict[str, str]) -> dict:
    """The instance role as the plan makes it (its trust policy, each of its role policies with the stand-in's
    ARNs), assumed for the instance as EC2 does for an instance profile: its temporary credentials in IMDS's shape
    (Code, LastUpdated, Type AWS-HMAC, AccessKeyId, SecretAccessKey, Token, Expiration)."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal",
                                    region_name="us-east-1")
    iam = session.client("iam", endpoint_url=endpoint, verify=verify)
    role_arn = iam.create_role(RoleName=role["name"],
                               AssumeRolePolicyDocument=role["assume_role_policy"])["Role"]["Arn"]
    for policy in role["policies"]:
        iam.put_role_policy(RoleName=role["name"], PolicyName=policy["name"],
                            PolicyDocument=stand_in_policy(policy["document"], arns))
    sts = session.client("sts", endpoint_url=endpoint, verify=verify)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=role["session"],
                                  DurationSeconds=CREDENTIALS_SECONDS)["Credentials"]
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return {"Code": "Success", "LastUpdated": datetime.datetime.now(datetime.UTC).strftime(stamp),
            "Type": "AWS-HMAC", "AccessKeyId": credentials["AccessKeyId"],
            "SecretAccessKey": credentials["SecretAccessKey"], "Token": credentials["SessionToken"],
            "Expiration": credentials["Expiration"].astimezone(datetime.UTC).strftime(stamp)}


def _secret_arn(response) -> str:
    """The resource AWS authorizes a Secrets Manager request naming a secret against: that secret's ARN (one not
    held: the ARN its name would have, which no statement of ours matches); "*" for a request naming none."""
    secret_id = response._get_param("SecretId")
    if not secret_id:
        return "*"
    if secret_id.startswith("arn:"):
        return secret_id
    secret = response.backend.secrets.get(secret_id)
    return secret.arn if secret is not None else (
        f"arn:aws:secretsmanager:{response.region}:{response.current_account}:secret:{secret_id}")


@contextlib.contextmanager
def iam_enforced() -> Iterator[None]:
    """moto's IAM enforcement on for every request of this process from here on (moto's
    enable_iam_authentication), with the two corrections of the module's docstring; all undone when the block
    ends (the stand-in never ends it)."""
    from moto.core.authorization import enable_iam_authentication
    from moto.s3.responses import ACTION_MAP
    from moto.secretsmanager.responses import SecretsManagerResponse

    if hasattr(SecretsManagerResponse, "_determine_resource"):  # a moto that names the resource itself
        raise RuntimeError("rehearsal: this moto's Secrets Manager names its resources; drop _secret_arn")
    head = ACTION_MAP["BUCKET"]["HEAD"]
    if head["DEFAULT"] != "HeadBucket":
        raise RuntimeError(f"rehearsal: this moto authorizes HeadBucket as {head['DEFAULT']}; revisit iam_enforced")
    head["DEFAULT"] = "ListBucket"
    SecretsManagerResponse._determine_resource = _secret_arn
    try:
        with enable_iam_authentication():
            yield
    finally:
        head["DEFAULT"] = "HeadBucket"
        del SecretsManagerResponse._determine_resource


SIGNED_BY = re.compile(r"Credential=([A-Z0-9]+)/")


def _logged(app):
    """Each request on stderr: method, host and path, the API action (X-Amz-Target), the access key that signed it
    (key=…; none for an unsigned request), the status."""
    def wrapper(environ, start_response):
        def start(status, headers, exc_info=None):
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            signed = SIGNED_BY.search(environ.get("HTTP_AUTHORIZATION", ""))
            sys.stderr.write(f"aws-standin: {environ['REQUEST_METHOD']} {environ.get('HTTP_HOST', '')}"
                             f"{environ.get('PATH_INFO', '')}{' ' + target if target else ''}"
                             f"{' key=' + signed.group(1) if signed else ''} -> {status.split()[0]}\n")
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
    parser.add_argument("--role", help="ROLE.json: the instance role to hold and assume (none: no role)")
    parser.add_argument("--credentials", help="where to write the role's credentials for the IMDS stand-in")
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
    endpoint = f"https://{args.address}:{PORT}"
    arns = seed_resources(endpoint, args.ca, seed)
    role = "no instance role"
    if args.role:
        with open(args.role) as handle:
            spec = json.load(handle)
        credentials = instance_role_credentials(endpoint, args.ca, spec, arns)
        written = Path(f"{args.credentials}.new")
        written.write_text(json.dumps(credentials))
        written.replace(args.credentials)  # the IMDS stand-in never reads half a file
        role = f"role {spec['name']} ({len(spec['policies'])} policies) enforced"
    with iam_enforced():
        print(f"aws-standin: serving {args.address}:{PORT}: {len(seed['secrets'])} secrets, "
              f"{len(seed['objects'])} objects, {role}", file=sys.stderr, flush=True)
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
