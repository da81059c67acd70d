"""What surrounds a rehearsed machine, prepared on the host before it boots: the rehearsal CA and the certificates
it signs, the values of the stack's secrets, the S3 objects, the apt repository, the PyPI wheels, the machine's
/etc/hosts entries
(the VPC's DNS) and the stand-ins to start in its network namespace. Nothing of it changes the boot scripts.
"""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from tests.support.rehearsal import apt_standin, aws_standin, pypi_standin
from tests.support.rehearsal.rehearsal_ca import RehearsalCA
from tests.support.rehearsal.user_data import RenderedMachine

# Where the machine's trust store takes a local CA (Debian's and Ubuntu's update-ca-certificates).
TRUSTED_CA_PATH = "/usr/local/share/ca-certificates/neo4j-cluster-rehearsal-ca.crt"
AWS_STANDIN_NAME = "AWS API stand-in"
APT_SOURCE = re.compile(r'\] (https?://\S+) (\S+) (\S+)" >"\$APT_SOURCE"')  # setup-neo4j.sh's sources.list line


@dataclass(frozen=True)
class Standin:
    name: str              # how logs and errors call it
    module: str            # python -m <module>, in the machine's network namespace
    args: tuple[str, ...]


@dataclass(frozen=True)
class Surroundings:
    ca: RehearsalCA
    ca_file: Path
    hosts: tuple[tuple[str, str], ...]  # (name, address) for the machine's /etc/hosts
    standins: tuple[Standin, ...]
    secret_values: dict[str, str]       # what the AWS stand-in holds, name → value (tests compare with them)
    apt_repository: Path | None

    @property
    def admin_password(self) -> str:
        return next(value for name, value in self.secret_values.items() if name.endswith("/admin-password"))


def _secret_value(ca: RehearsalCA, kind: str, dns_names: tuple[str, ...]) -> str:
    if kind == "admin-password":
        # Beginning with "-", always: neo4j-admin (picocli) took such a password in setup-neo4j.sh's argument file
        # for an option and refused it until the file ended the options with a "--" line (a cold rehearsal stopped
        # at set_initial_password with a random one); every boot rehearses that line now.
        return "-" + secrets.token_urlsafe(18)
    if kind == "tls-ca":
        return ca.cert_pem
    if kind == "tls-server":
        return ca.server_material(dns_names)
    if kind == "tls-entry":
        return ca.issue(dns_names).crt_file()
    raise RuntimeError(f"rehearsal: no value for a secret of kind {kind}")


def apt_component(user_data: str) -> str | None:
    """The component of Neo4j's repository the rendered setup-neo4j.sh adds (None: it adds none). Its repository
    must be the mirror stand-in's (neo4j:aptRepositoryUrl, apt_standin.STACK_CONFIG): no other is served here."""
    found = APT_SOURCE.search(user_data)
    if found and found.group(1) != apt_standin.REPOSITORY_URL:
        raise RuntimeError(f"rehearsal: the rendered setup-neo4j.sh installs Neo4j from {found.group(1)}; the "
                           f"rehearsal serves only {apt_standin.REPOSITORY_URL} (set the stack's "
                           f"{', '.join(apt_standin.STACK_CONFIG)})")
    return found.group(3) if found else None


def prepare(rendered: RenderedMachine, work: Path) -> Surroundings:
    work.mkdir(parents=True, exist_ok=True)
    ca = RehearsalCA.create()
    ca_file = work / "rehearsal-ca.crt"
    ca_file.write_text(ca.cert_pem)

    def served(name: str, names: tuple[str, ...]) -> tuple[str, str]:
        issued = ca.issue(names)
        cert, key = work / f"{name}.crt", work / f"{name}.key"
        cert.write_text(issued.cert_pem)
        key.write_text(issued.key_pem)
        key.chmod(0o600)
        return str(cert), str(key)

    values = {s.name: _secret_value(ca, s.kind, s.dns_names) for s in rendered.secrets}
    objects = []
    for index, entry in enumerate(rendered.objects):
        path = work / f"object-{index}"
        path.write_bytes(entry.content)
        objects.append({"bucket": entry.bucket, "key": entry.key, "file": str(path)})
    seed = work / "aws-seed.json"
    arns = [{"arn": planned.arn, "kind": planned.kind, "name": planned.name} for planned in rendered.planned_arns]
    seed.write_text(json.dumps({"region": rendered.region, "secrets": values, "objects": objects, "arns": arns}))
    cert, key = served("aws-endpoints", aws_standin.certificate_names(rendered.region))
    standins = [Standin(AWS_STANDIN_NAME, "tests.support.rehearsal.aws_standin",
                        ("--cert", cert, "--key", key, "--ca", str(ca_file), "--seed", str(seed)))]
    hosts = [(name, aws_standin.ADDRESS)
             for name in aws_standin.endpoint_names(rendered.region, tuple(o.bucket for o in rendered.objects))]

    repository = None
    component = apt_component(rendered.user_data)
    if component is not None:
        repository = apt_standin.build_repository(rendered.neo4j_version, component)
        cert, key = served("apt", (apt_standin.HOSTNAME,))
        site = apt_standin.mirror_site(repository, work)
        standins.append(Standin("apt repository stand-in", "tests.support.rehearsal.static_https",
                                ("--label", "apt-standin", "--directory", str(site),
                                 "--address", apt_standin.ADDRESS, "--cert", cert, "--key", key)))
        hosts.append((apt_standin.HOSTNAME, apt_standin.ADDRESS))

    requirements = pypi_standin.requirements_of(rendered.user_data)
    if requirements:
        index = pypi_standin.build_index(requirements)
        cert, key = served("pypi", pypi_standin.HOSTNAMES)
        standins.append(Standin("PyPI stand-in", "tests.support.rehearsal.static_https",
                                ("--label", "pypi-standin", "--directory", str(index),
                                 "--address", pypi_standin.ADDRESS, "--cert", cert, "--key", key)))
        hosts.extend((name, pypi_standin.ADDRESS) for name in pypi_standin.HOSTNAMES)
    return Surroundings(ca, ca_file, tuple(hosts), tuple(standins), values, repository)
