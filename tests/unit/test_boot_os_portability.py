"""The boot scripts on the three systems they run on (issue 23): Ubuntu 24.04 (the default image), Ubuntu 22.04 and
Debian 12 (neo4j:amiId). What differs for them: the Python the backup tooling's venv takes (Debian 12: 3.11,
Ubuntu 24.04: 3.12 and no python3.11 package, Ubuntu 22.04: 3.10 and python3.11 beside it) and the AWS CLI (the
archive's awscli on Ubuntu 22.04 and Debian 12; none in Ubuntu 24.04's archive, so AWS's snap). Each runs here in
bash with stand-ins for what the system answers."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from components.aws.user_data import aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.shell import sandbox, shell_function

# python3's version on each system, and the packages the venv needs there.
PYTHONS = {"ubuntu-24.04": ("3.12", ["python3.12", "python3.12-venv"]),
           "debian-12": ("3.11", ["python3.11", "python3.11-venv"]),
           "ubuntu-22.04": ("3.10", ["python3.11", "python3.11-venv"])}


def artifacts() -> dict[str, dict[str, str]]:
    settings = make_settings()  # a cluster with HAProxy and monitoring: every kind of machine
    return aws_artifacts(settings, plan_topology(settings))


@pytest.mark.parametrize("system", PYTHONS)
def test_the_backup_tooling_takes_a_python_of_3_11_or_newer_that_the_system_has(tmp_path, system):
    version, packages = PYTHONS[system]
    function = shell_function(artifacts()["core-1"]["setup-neo4j.sh"], "install_backup_tooling")
    function = function.replace("/etc/neo4j-cluster/backup-tooling.env", f"{tmp_path}/backup-tooling.env")
    box = sandbox(tmp_path)
    # python3 answers as the system's would: its version check, then its "major.minor".
    major, minor = (int(part) for part in version.split("."))
    box.stand_in("python3", f'if [[ "$2" == *exit* ]]; then exit {int((major, minor) < (3, 11))}; fi; '
                            f'echo "{version}"')
    box.stand_in(packages[0])  # the venv's python
    prelude = (f'retry() {{ echo "retry $*" >>"{box.log}"; }}\n'
               f'apt_install() {{ echo "apt_install $*" >>"{box.log}"; }}\n'
               'instance_tag() { echo backups-test; }\n')
    result = box.run(function, [], "install_backup_tooling\n", prelude=prelude + function)
    assert result.returncode == 0, result.stderr
    calls = box.calls()
    assert f"apt_install {' '.join(packages)}" in calls, calls
    assert f"{packages[0]} -m venv /opt/neo4j-cluster/venv" in calls, calls
    assert (tmp_path / "backup-tooling.env").read_text() == "TOOLING_BUCKET=backups-test\n"


AWS_CLI_LINE = ('command -v aws >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q awscli || '
                '{ snap install aws-cli --classic && ln -sfn /snap/bin/aws /usr/local/bin/aws; }')


def test_no_machines_package_list_names_awscli_and_each_installs_the_cli_before_anything_calls_it():
    # A package the archive lacks fails cloud-init's whole install (curl, jq, xfsprogs, ... with it): Ubuntu 24.04
    # has no awscli, so it leaves the list and comes first in runcmd, where a missing package falls back.
    machines = {name: files["cloud-init.yaml"] for name, files in artifacts().items() if "cloud-init.yaml" in files}
    assert {"core-1", "replica-1", "haproxy-1", "haproxy-2", "monitoring"} <= set(machines)
    for name, text in machines.items():
        data = yaml.safe_load(text)
        assert "awscli" not in data["packages"], name
        first = data["runcmd"][0]
        assert first == ["sh", "-c", AWS_CLI_LINE], (name, first)
        assert not [step for step in data["runcmd"][1:] if "aws " in " ".join(map(str, step))
                    and "install" in " ".join(map(str, step)) and "awscli" in " ".join(map(str, step))], name


@pytest.mark.parametrize(("system", "apt_has_awscli", "expected"), [
    ("ubuntu-22.04", True, ["apt-get install -y -q awscli"]),
    ("debian-12", True, ["apt-get install -y -q awscli"]),
    ("ubuntu-24.04", False, ["apt-get install -y -q awscli", "snap install aws-cli --classic",
                             "ln -sfn /snap/bin/aws {bin}/aws"]),
])
def test_the_aws_cli_comes_from_the_archive_where_it_has_one_else_from_the_snap(tmp_path, system, apt_has_awscli,
                                                                                 expected):
    box = sandbox(tmp_path)
    box.stand_in("apt-get", "exit 0" if apt_has_awscli else 'echo "E: Package \'awscli\' has no installation '
                                                            'candidate" >&2; exit 100')
    box.stand_in("snap")
    box.stand_in("ln")
    line = AWS_CLI_LINE.replace("/usr/local/bin/aws", f"{box.bin}/aws")
    env = {"PATH": f"{box.bin}:/usr/bin:/bin"}
    result = subprocess.run(["sh", "-c", line], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert box.calls() == [call.format(bin=box.bin) for call in expected]
    # Once the CLI is there (a reboot, or an image that carries it), nothing is installed.
    box.log.unlink()
    box.stand_in("aws")
    result = subprocess.run(["sh", "-c", line], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and box.calls() == []
