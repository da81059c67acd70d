"""setup-neo4j.sh, the boot script of every Neo4j server on AWS: its functions run for real in bash,
with stand-ins only for what a real machine has (apt-get, systemctl, sudo, the AWS CLI)."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess

import pytest

from components.aws.user_data import aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.shell import sandbox, shell_function

VERSIONS = {"4.4": "4.4.46", "5": "5.26.30", "2025": "2025.10.1"}


def setup_script(server: str = "core-1", **stack) -> str:
    settings = make_settings(**stack)
    return aws_artifacts(settings, plan_topology(settings))[server]["setup-neo4j.sh"]


def places(box) -> str:
    """The script's machine paths, moved into the sandbox."""
    (box.root / "etc").mkdir(exist_ok=True)
    return (f'DATA_DIR="{box.root}/data"\nIMPORT_DIR="{box.root}/import"\nRENDERED_CONF="{box.root}/rendered.conf"\n'
            f'NEO4J_CONF_FILE="{box.root}/etc/neo4j.conf"\nPOLICY_RC="{box.root}/policy-rc.d"\n'
            f'APT_KEYRING="{box.root}/neo4j.gpg"\nAPT_SOURCE="{box.root}/neo4j.list"\n'
            'log() { echo "setup-neo4j: $*"; }\n')


# --- the licence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["5", "2025"])
def test_enterprise_licence_is_answered_with_the_question_of_5_3_and_later(line):
    # Operations Manual 5.x, installation/linux/debian.adoc, "For Neo4j 5.3 and later":
    # echo "neo4j-enterprise neo4j/accept-license select Accept commercial license" | sudo debconf-set-selections
    script = setup_script(version=VERSIONS[line])
    assert 'echo "neo4j-enterprise neo4j/accept-license select Accept commercial license" | debconf-set-selections' \
        in script
    answers = [line for line in script.splitlines() if "debconf-set-selections" in line]
    assert len(answers) == 1, answers


def test_4_4_keeps_the_licence_question_of_5_2_and_earlier():
    # Same page, "For Neo4j 5.2 and earlier"; the 4.4 manual's Debian page gives only this form.
    script = setup_script(version=VERSIONS["4.4"])
    assert 'echo "neo4j-enterprise neo4j/question select I ACCEPT" | debconf-set-selections' in script
    assert 'echo "neo4j-enterprise neo4j/license note" | debconf-set-selections' in script
    assert not [line for line in script.splitlines() if "accept-license" in line and "debconf" in line]


def test_community_answers_no_licence_question():
    assert "debconf-set-selections" not in setup_script(edition="community", coreCount=1, replicaCount=0)


# --- the first start -----------------------------------------------------------------------------


def apt_stand_ins(box, *, starts_service: bool) -> None:
    # apt-get records whether policy-rc.d forbade starts while it ran; a package that starts Neo4j
    # anyway leaves the service active.
    box.stand_in("apt-get", f'if [[ "$1" == install ]]; then test -x "{box.root}/policy-rc.d" && '
                            f'"{box.root}/policy-rc.d" neo4j start; echo "policy-rc.d exit $?" >>"{box.log}"; '
                            + (f'touch "{box.root}/active"; ' if starts_service else "") + "fi; exit 0")
    box.stand_in("apt-mark")
    box.stand_in("dpkg-query", "exit 1")
    box.stand_in("curl")
    box.stand_in("gpg")
    box.stand_in("debconf-set-selections", "cat >/dev/null")
    box.stand_in("install", 'exit 0')
    box.stand_in("systemctl", f'case "$1" in is-active) test -e "{box.root}/active";; '
                              f'stop) rm -f "{box.root}/active";; start|restart) touch "{box.root}/active";; esac')


@pytest.mark.parametrize("starts_service", [False, True])
def test_the_package_never_starts_neo4j_with_its_own_conf(tmp_path, starts_service):
    script = setup_script(version=VERSIONS["5"])
    box = sandbox(tmp_path)
    apt_stand_ins(box, starts_service=starts_service)
    result = box.run(script, ["retry", "apt_install", "install_neo4j"], "install_neo4j\n",
                     prelude=places(box) + "RETRY_ATTEMPTS=1\nAPT_OPTIONS=(-q)\n")
    assert result.returncode == 0, result.stderr
    calls = box.calls()
    assert "policy-rc.d exit 101" in calls, calls  # invoke-rc.d / deb-systemd-invoke: "action forbidden"
    assert not (tmp_path / "policy-rc.d").exists(), "policy-rc.d must not outlive the install"
    assert not (tmp_path / "active").exists(), "Neo4j still runs with the packaged conf"
    if starts_service:
        assert "systemctl stop neo4j" in calls


def test_a_failed_install_removes_policy_rc_d_too(tmp_path):
    script = setup_script(version=VERSIONS["5"])
    box = sandbox(tmp_path)
    apt_stand_ins(box, starts_service=False)
    box.stand_in("apt-get", 'if [[ "$1" == install ]]; then exit 100; fi')
    result = box.run(script, ["retry", "apt_install", "install_neo4j"], "install_neo4j\n",
                     prelude=places(box) + "RETRY_ATTEMPTS=1\nAPT_OPTIONS=(-q)\n")
    assert result.returncode != 0
    assert not (tmp_path / "policy-rc.d").exists()


def run_configuration(box, script: str, conf: str):
    (box.root / "rendered.conf").write_text(conf)
    box.stand_in("install", 'if [[ "$1" == -d ]]; then exit 0; fi; args=("$@"); '
                            'cp "${args[-2]}" "${args[-1]}"')
    box.stand_in("chown")
    box.stand_in("systemctl", f'case "$1" in is-active) test -e "{box.root}/active";; '
                              f'start|restart) touch "{box.root}/active";; esac')
    return box.run(script, ["install_configuration", "start_neo4j"],
                   "CONF_CHANGED=false\ninstall_configuration\nstart_neo4j\n", prelude=places(box))


def test_a_rerun_with_a_changed_conf_restarts_neo4j_and_an_unchanged_one_does_not(tmp_path):
    script = setup_script(version=VERSIONS["5"])
    box = sandbox(tmp_path)
    first = run_configuration(box, script, "a=1\n")
    assert first.returncode == 0, first.stderr
    assert "systemctl start neo4j" in box.calls() and "systemctl restart neo4j" not in box.calls()
    box.log.unlink()
    same = run_configuration(box, script, "a=1\n")
    assert same.returncode == 0, same.stderr
    assert not any(c.startswith(("systemctl start", "systemctl restart")) for c in box.calls()), box.calls()
    box.log.unlink()
    changed = run_configuration(box, script, "a=2\n")
    assert changed.returncode == 0, changed.stderr
    assert "systemctl restart neo4j" in box.calls()
    assert (tmp_path / "etc" / "neo4j.conf").read_text() == "a=2\n"


# --- the admin password --------------------------------------------------------------------------

# Beginning with "-": neo4j-admin would take it for an option without the argument file's "--" line.
NASTY_PASSWORD = '-p@ss w"rd\\ $HOME #1\''


def test_the_admin_password_never_reaches_a_command_line(tmp_path):
    script = setup_script(version=VERSIONS["5"])
    box = sandbox(tmp_path)
    box.stand_in("chown")
    # neo4j-admin's stand-in keeps its argument file, as the real one reads it (tests/integration
    # runs the real neo4j-admin on the same file).
    box.stand_in("neo4j-admin", f'for a in "$@"; do [[ "$a" == @* ]] && cp "${{a#@}}" "{box.root}/seen.args"; '
                                'done; exit 0')
    prelude = places(box) + f"secret() {{ printf '%s' {shell_quote(NASTY_PASSWORD)}; }}\n" \
                            'sudo() { shift 2; "$@"; }\n'
    result = box.run(script, ["set_initial_password"], "set_initial_password\n", prelude=prelude)
    assert result.returncode == 0, result.stderr
    for call in box.calls():
        assert NASTY_PASSWORD not in call and "w\"rd" not in call, call
    admin = [c for c in box.calls() if c.startswith("neo4j-admin")]
    assert admin and re.fullmatch(r"neo4j-admin dbms set-initial-password @\S+/password\.args", admin[0]), admin
    assert (tmp_path / "seen.args").read_text() == '--\n"-p@ss w\\"rd\\\\ $HOME #1\'"\n'
    leftovers = [p for p in (tmp_path.glob("tmp*")) if p.is_dir()]
    assert not leftovers


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_the_argument_file_is_private(tmp_path):
    script = setup_script(version=VERSIONS["5"])
    function = shell_function(script, "set_initial_password")
    assert "umask 077" in function and 'chmod 0700 "$work"' in function
    assert 'rm -rf "$work"' in function


# --- secondaries host the default database -------------------------------------------------------


def server_files(server: str, **stack) -> dict[str, str]:
    settings = make_settings(**stack)
    return aws_artifacts(settings, plan_topology(settings))[server]


def run_join(tmp_path, script: str, cypher_shell: str, password: str = "secret-pass"):
    box = sandbox(tmp_path)
    box.stand_in("cypher-shell", cypher_shell)
    box.stand_in("sleep")
    path = tmp_path / "join-topology.sh"
    path.write_text(script)
    result = subprocess.run(["bash", str(path)], input=password, capture_output=True, text=True, timeout=60,
                            env={"PATH": f"{box.bin}:{os.environ['PATH']}"})
    return result, box.calls()


@pytest.mark.parametrize("line", ["5", "2025"])
def test_a_secondary_asks_for_the_topology_that_includes_every_secondary(tmp_path, line):
    files = server_files("replica-2", version=VERSIONS[line], coreCount=3, replicaCount=2)
    result, calls = run_join(tmp_path, files["join-topology.sh"],
                             'echo "env $NEO4J_USERNAME ${#NEO4J_PASSWORD}" >>"$(dirname "$0")/../calls.log"')
    assert result.returncode == 0, result.stderr
    assert any(c.endswith("ALTER DATABASE neo4j SET TOPOLOGY 3 PRIMARIES 2 SECONDARIES") for c in calls), calls
    assert "env neo4j 11" in calls  # the password reaches cypher-shell in its environment, not argv
    assert not any("secret-pass" in c for c in calls)
    assert "-a neo4j+ssc://localhost:7687 -d system" in calls[0]  # routed to the system leader


def test_a_secondary_that_cannot_reach_the_cluster_fails_visibly_after_its_attempts(tmp_path):
    files = server_files("replica-1", version=VERSIONS["5"], coreCount=3, replicaCount=1)
    result, calls = run_join(tmp_path, files["join-topology.sh"], "exit 1")
    assert result.returncode == 1
    assert "could not set the topology" in result.stderr
    assert len([c for c in calls if c.startswith("cypher-shell")]) == 60


def test_join_topology_refuses_to_run_without_a_password(tmp_path):
    files = server_files("replica-1", version=VERSIONS["5"], replicaCount=1)
    result, calls = run_join(tmp_path, files["join-topology.sh"], "exit 0", password="")
    assert result.returncode == 2 and not calls


def test_the_boot_script_pipes_the_password_into_join_topology(tmp_path):
    files = server_files("replica-1", version=VERSIONS["5"], replicaCount=1)
    box = sandbox(tmp_path)
    box.stand_in("join-topology.sh", f'cat >"{tmp_path}/stdin"')
    script = files["setup-neo4j.sh"].replace("/usr/local/lib/neo4j-cluster/join-topology.sh", "join-topology.sh")
    result = box.run(script, ["join_database_topology"], "join_database_topology\n",
                     prelude=places(box) + "secret() { printf 'secret-pass'; }\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "stdin").read_text() == "secret-pass"
    assert box.calls() == ["join-topology.sh "]


def test_only_enterprise_5_and_2025_secondaries_change_the_topology():
    assert "join-topology.sh" in server_files("replica-1", version=VERSIONS["5"], replicaCount=1)
    assert "join-topology.sh" in server_files("replica-1", version=VERSIONS["2025"], replicaCount=1)
    assert "join-topology.sh" not in server_files("core-1", version=VERSIONS["5"], replicaCount=1)
    assert "join_database_topology" not in server_files("core-1", version=VERSIONS["5"], replicaCount=1)[
        "setup-neo4j.sh"]
    # 4.4 read replicas replicate every database without an allocation.
    assert "join-topology.sh" not in server_files("replica-1", version=VERSIONS["4.4"], replicaCount=1)


def test_the_docker_extension_script_pipes_the_password_file_into_join_topology(tmp_path):
    # What the neo4j image's entrypoint sources (EXTENSION_SCRIPT) on a secondary of the local stack.
    from components.templating import render_template

    (tmp_path / "neo4j-auth").write_text("neo4j/s3cret pass\n")
    join = tmp_path / "join.sh"
    join.write_text(f'#!/usr/bin/env bash\ncat >"{tmp_path}/stdin"\n')
    extension = render_template("docker/neo4j-extension.sh.j2", server_name="replica-1",
                                auth_file=str(tmp_path / "neo4j-auth"), join_script=str(join),
                                log_file=str(tmp_path / "join.log"))
    result = subprocess.run(["bash", "-euc", extension + "\nwait\nsleep 1"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    for _ in range(50):
        if (tmp_path / "stdin").exists() and (tmp_path / "stdin").read_text():
            break
        subprocess.run(["sleep", "0.1"])
    assert (tmp_path / "stdin").read_text() == "s3cret pass\n"


# --- the data volume (the real disk logic runs in tests/integration/test_data_volume_disk.py) --------


def test_the_data_volume_is_found_by_the_nvme_serial_that_carries_its_id(tmp_path):
    script = setup_script(version=VERSIONS["5"])
    box = sandbox(tmp_path)
    result = box.run(script, ["data_volume_device"], "data_volume_device vol-0123456789abcdef0\n",
                     prelude='DISK_BY_ID=/sandbox/by-id\n')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/sandbox/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"


@pytest.mark.parametrize("server", ["core-1", "replica-1"])
def test_every_server_reads_its_data_volume_id_from_its_instance_tags(server):
    # Not only the backup server: instance_tag is defined in every server's script.
    script = setup_script(server, version=VERSIONS["5"])
    assert "instance_tag() {" in script
    assert "volume_id=$(instance_tag DataVolumeId)" in shell_function(script, "mount_data_volume")


def test_a_volume_that_never_attaches_stops_the_boot_before_anything_touches_a_disk(tmp_path):
    script = setup_script(version=VERSIONS["5"])
    box = sandbox(tmp_path)
    for tool in ("sleep", "blkid", "mkfs.xfs", "mount", "xfs_growfs"):
        box.stand_in(tool)
    prelude = (places(box) + f'FSTAB="{tmp_path}/fstab"\nDISK_BY_ID="{tmp_path}/by-id"\nDATA_VOLUME_WAIT_SECONDS=15\n'
               'instance_tag() { echo vol-0123456789abcdef0; }\n')
    result = box.run(script, ["data_volume_device", "mount_data_volume"], "mount_data_volume\n", prelude=prelude)
    assert result.returncode == 1
    assert "not attached after 15s" in result.stdout
    assert box.calls() == ["sleep 5"] * 3  # it waited, and ran no blkid, mkfs or mount
    assert not (tmp_path / "fstab").exists()


def test_the_monitoring_node_mounts_prometheus_data_with_the_same_disk_logic():
    # One implementation (templates/aws/_data_volume.sh.j2): the loop-device tests cover both scripts.
    settings = make_settings(version=VERSIONS["5"])
    artifacts = aws_artifacts(settings, plan_topology(settings))
    mount = artifacts["monitoring"]["mount-prometheus-data.sh"]
    for function in ("instance_tag", "data_volume_device", "mount_data_volume"):
        assert shell_function(mount, function) == shell_function(artifacts["core-1"]["setup-neo4j.sh"], function)
    assert "DATA_DIR=/var/lib/prometheus\n" in mount
    body = mount.split('log() { echo "mount-prometheus-data: $*"; }', 1)[1]
    assert body.index("systemctl stop prometheus") < body.rindex("\nmount_data_volume\n") \
        < body.index('chown prometheus:prometheus "$DATA_DIR"')


# --- the backup tooling follows our releases without a rebuild ----------------------------------------

# A stand-in for the AWS CLI's s3api over a directory: STORE/etag is the object's ETag, STORE/archive.tar.gz
# its body; STORE/unreachable makes every call fail as a network error does.
S3API = r'''
store="$TOOLING_STORE"
[[ -e "$store/unreachable" ]] && { echo "Could not connect to the endpoint URL" >&2; exit 255; }
command="$2"; shift 2
etag="" out=""
while (($#)); do
    case "$1" in
        --if-match) etag="$2"; shift 2 ;;
        --region|--bucket|--key|--query|--output|--endpoint-url) shift 2 ;;
        *) out="$1"; shift ;;
    esac
done
case "$command" in
    head-object) cat "$store/etag"; echo ;;
    get-object)
        [[ "$etag" == "$(cat "$store/etag")" ]] || { echo "PreconditionFailed" >&2; exit 254; }
        cp "$store/archive.tar.gz" "$out" ;;
esac
'''


def tooling_archive_of(files: dict[str, str]) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class ToolingBucket:
    def __init__(self, root):
        self.store = root / "store"
        self.store.mkdir()

    def publish(self, files: dict[str, str], etag: str) -> None:
        (self.store / "archive.tar.gz").write_bytes(tooling_archive_of(files))
        (self.store / "etag").write_text(f'"{etag}"')


def backup_server_files(**stack) -> dict[str, str]:
    settings = make_settings(version=VERSIONS["5"], **stack)
    topology = plan_topology(settings)
    return aws_artifacts(settings, topology)[topology.backup_server.name]


# IMDS: the instance's ToolingSha256 tag, which the deploy sets with the object it publishes (STORE/deployed-sha256
# when a test says what the deploy published; else the sha256 of the object in the store).
IMDS = r'''
case "$*" in
    *api/token*) echo token ;;
    *meta-data/tags/instance/ToolingSha256*)
        if [[ -f "$TOOLING_STORE/deployed-sha256" ]]; then cat "$TOOLING_STORE/deployed-sha256"
        else sha256sum "$TOOLING_STORE/archive.tar.gz" | cut -d " " -f 1; fi ;;
    *) exit 22 ;;
esac
'''


def refresh(tmp_path, bucket: ToolingBucket, *, bucket_name: str = "backups-test"):
    script = backup_server_files()["backup/refresh-backup-tooling.sh"]
    box = sandbox(tmp_path / "box")
    box.stand_in("aws", S3API)
    box.stand_in("curl", IMDS)
    # systemctl only records what it was asked; the machine's /etc/systemd/system and launcher are in the sandbox.
    box.stand_in("systemctl")
    tools = tmp_path / "scripts"
    prelude = (f'REGION=eu-west-1\nKEY=tooling/neo4j-cluster-backup-tools.tar.gz\nTOOLS_DIR="{tools}"\n'
               f'BUCKET="{bucket_name}"\nINSTALLED_ETAG="$TOOLS_DIR/.archive-etag"\nS3_OPTIONS=(--region "$REGION")\n'
               f'UNIT_DIR="{tmp_path}/systemd"\nJOB_SCRIPT="{tmp_path}/lib/neo4j-backup.sh"\n'
               f'TEXTFILE_DIR="{tmp_path}/textfile"\nlog() {{ echo "refresh-backup-tooling: $*"; }}\n')
    result = box.run(script, ["installed", "gauge", "write_textfile", "refused_metric", "deployed_sha256", "place",
                              "install_job", "refresh_tooling"],
                     "refresh_tooling\n",
                     prelude=prelude, env={"TOOLING_STORE": str(bucket.store)})
    return result, tools, box


def test_the_backup_service_refreshes_the_tooling_first_from_the_bucket_setup_names():
    files = backup_server_files()
    service = files["backup/neo4j-backup.service"]
    lines = service.splitlines()
    assert "EnvironmentFile=-/etc/neo4j-cluster/backup-tooling.env" in lines
    pre = lines.index("ExecStartPre=/bin/bash /usr/local/lib/neo4j-cluster/refresh-backup-tooling.sh")
    # The job runs under the backup lock (flock /run/neo4j-backup.lock …/neo4j-backup.sh).
    [start] = [i for i, line in enumerate(lines) if line.startswith("ExecStart=")]
    assert pre < start and lines[start].endswith("/usr/local/lib/neo4j-cluster/neo4j-backup.sh --type full")
    setup = shell_function(files["setup-neo4j.sh"], "install_backup_tooling")
    assert """printf 'TOOLING_BUCKET=%s\\n' "$bucket" >"/etc/neo4j-cluster/backup-tooling.env\"""" in setup
    script = files["backup/refresh-backup-tooling.sh"]
    assert 'KEY="tooling/neo4j-cluster-backup-tools.tar.gz"' in script  # components/tooling.py TOOLING_KEY
    assert 'TOOLS_DIR="/usr/local/lib/neo4j-cluster/scripts"' in script  # where neo4j-backup.sh runs them from


def test_a_new_release_replaces_the_installed_tooling_and_an_unchanged_one_is_not_downloaded(tmp_path):
    bucket = ToolingBucket(tmp_path)
    bucket.publish({"backup.py": "release 1\n", "neo4j_ops/old.py": "gone in release 2\n"}, "etag-1")
    first, tools, box = refresh(tmp_path, bucket)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tools / "backup.py").read_text() == "release 1\n"
    assert "installed the tooling of s3://backups-test/tooling/neo4j-cluster-backup-tools.tar.gz: " \
           'ETag "etag-1", sha256 ' in first.stdout and "(before: none)" in first.stdout

    again, _, box = refresh(tmp_path, bucket)
    assert again.returncode == 0 and again.stdout == ""
    assert [c.split()[2] for c in box.calls()].count("get-object") == 1  # only the first run downloaded

    bucket.publish({"backup.py": "release 2\n"}, "etag-2")
    upgraded, _, _ = refresh(tmp_path, bucket)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert (tools / "backup.py").read_text() == "release 2\n"
    assert not (tools / "neo4j_ops" / "old.py").exists()  # the new tree, not one laid over the old
    assert '(before: "etag-1")' in upgraded.stdout
    assert not (tmp_path / "scripts.new").exists() and not (tmp_path / "scripts.old").exists()


def test_the_real_tooling_archive_installs_where_the_backup_job_runs_it(tmp_path):
    from components.tooling import tooling_archive

    bucket = ToolingBucket(tmp_path)
    (bucket.store / "archive.tar.gz").write_bytes(tooling_archive())
    (bucket.store / "etag").write_text('"e1"')
    result, tools, _ = refresh(tmp_path, bucket)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tools / "backup.py").is_file() and (tools / "restore.py").is_file()
    assert (tools / "neo4j_ops" / "shared" / "versions.py").is_file()


def test_when_s3_cannot_be_read_the_installed_tooling_stays_and_none_installed_is_an_error(tmp_path):
    bucket = ToolingBucket(tmp_path)
    (bucket.store / "unreachable").touch()
    missing, tools, _ = refresh(tmp_path, bucket)
    assert missing.returncode == 1
    assert "cannot read s3://backups-test/tooling/neo4j-cluster-backup-tools.tar.gz and no tooling is installed" \
        in missing.stdout
    tools.mkdir()
    (tools / "backup.py").write_text("installed at boot\n")
    kept, _, _ = refresh(tmp_path, bucket)
    assert kept.returncode == 0 and "the installed tooling stays" in kept.stdout
    assert (tools / "backup.py").read_text() == "installed at boot\n"


def test_an_archive_whose_sha256_is_not_the_deploys_tag_is_refused_unpacked_and_the_installed_tooling_stays(
        tmp_path):
    """Issue 26, item 4: whoever can write the bucket cannot make root run their archive. The deploy published
    release 1 (its sha256 is the instance's ToolingSha256 tag); someone then overwrites the object."""
    bucket = ToolingBucket(tmp_path)
    bucket.publish({"backup.py": "release 1\n", "job/neo4j-backup.sh": "#!/bin/bash\n"}, "etag-1")
    installed, tools, box = refresh(tmp_path, bucket)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    box.log.unlink()
    deployed = hashlib.sha256((bucket.store / "archive.tar.gz").read_bytes()).hexdigest()
    (bucket.store / "deployed-sha256").write_text(deployed)
    bucket.publish({"backup.py": "import os; os.system('evil')\n", "job/neo4j-backup.sh": "#!/bin/bash\nevil\n"},
                   "etag-evil")
    refused, _, box = refresh(tmp_path, bucket)
    assert refused.returncode == 0  # the backup still runs, with the installed (the deploy's) tooling
    assert (tools / "backup.py").read_text() == "release 1\n"
    assert (tmp_path / "lib" / "neo4j-backup.sh").read_text() == "#!/bin/bash\n"
    assert f"REFUSED s3://backups-test/tooling/neo4j-cluster-backup-tools.tar.gz (ETag \"etag-evil\"): sha256 " \
           f"{hashlib.sha256((bucket.store / 'archive.tar.gz').read_bytes()).hexdigest()}, the deploy's " \
           f"ToolingSha256 tag says {deployed}" in refused.stderr
    assert not (tmp_path / "scripts.new").exists() and (tools / ".archive-etag").read_text() == '"etag-1"'
    assert not [c for c in box.calls() if c.startswith("systemctl")]
    # And says so to node exporter (Neo4jPinnedObjectRefused), until an archive the deploy published installs.
    metric = tmp_path / "textfile" / "neo4j_cluster_pinned_object_refused.prom"
    assert 'neo4j_cluster_pinned_object_refused{object="backup-tooling"} 1' in metric.read_text().splitlines()
    assert [f.name for f in metric.parent.iterdir()] == [metric.name]  # written whole, then renamed
    bucket.publish({"backup.py": "release 2\n"}, "etag-2")  # the deploy publishes again, with its tag
    (bucket.store / "deployed-sha256").write_text(
        hashlib.sha256((bucket.store / "archive.tar.gz").read_bytes()).hexdigest())
    redeployed, _, _ = refresh(tmp_path, bucket)
    assert redeployed.returncode == 0, redeployed.stdout + redeployed.stderr
    assert 'neo4j_cluster_pinned_object_refused{object="backup-tooling"} 0' in metric.read_text().splitlines()
    (bucket.store / "deployed-sha256").write_text(deployed)  # the evil one again below, as before the redeploy
    bucket.publish({"backup.py": "import os; os.system('evil')\n", "job/neo4j-backup.sh": "#!/bin/bash\nevil\n"},
                   "etag-evil")
    # Without any installed tooling (a new instance), a refused archive is an error: the boot retries.
    (tools / "backup.py").unlink()
    first_boot, _, _ = refresh(tmp_path, bucket)
    assert first_boot.returncode != 0 and not (tools / "backup.py").exists()


def test_a_broken_archive_leaves_the_installed_tooling_as_it_was(tmp_path):
    bucket = ToolingBucket(tmp_path)
    tools = tmp_path / "scripts"
    tools.mkdir()
    (tools / "backup.py").write_text("installed at boot\n")
    (bucket.store / "archive.tar.gz").write_bytes(b"not a gzip archive")
    (bucket.store / "etag").write_text('"broken"')
    result, _, _ = refresh(tmp_path, bucket)
    assert result.returncode != 0
    assert (tools / "backup.py").read_text() == "installed at boot\n"
    assert not (tools / ".archive-etag").exists()


def test_a_new_archive_installs_its_backup_job_and_enables_its_timers_and_an_unchanged_one_leaves_them(tmp_path):
    from components.aws.user_data import backup_job_archive_files

    job = backup_job_archive_files({path: text for path, text in backup_server_files().items()
                                    if path.startswith("backup/")})
    assert "job/neo4j-backup.sh" in job and "job/refresh-backup-tooling.sh" not in job  # that one fetches the rest
    bucket = ToolingBucket(tmp_path)
    bucket.publish({"backup.py": "release 1\n", **job}, "etag-1")
    first, _, box = refresh(tmp_path, bucket)
    assert first.returncode == 0, first.stdout + first.stderr
    units = tmp_path / "systemd"
    installed = {path.name: path.read_text() for path in units.iterdir()}
    assert installed == {name.removeprefix("job/"): text for name, text in job.items() if not name.endswith(".sh")}
    launcher = tmp_path / "lib" / "neo4j-backup.sh"
    assert launcher.read_text() == job["job/neo4j-backup.sh"] and os.access(launcher, os.X_OK)
    assert not [path for path in units.iterdir() if path.name.startswith(".")]  # no temporary left
    timers = sorted(name for name in installed if name.endswith(".timer"))
    calls = [c for c in box.calls() if c.startswith("systemctl")]
    assert calls == ["systemctl daemon-reload", f"systemctl enable --now {' '.join(timers)}"]
    assert "neo4j-backup-diff.timer" in timers  # dev's Enterprise 5.26: the differentials too

    again, _, box = refresh(tmp_path, bucket)
    assert again.returncode == 0 and not [c for c in box.calls() if c.startswith("systemctl")][len(calls):]

    # The next release drops the differentials: their timer is stopped, disabled and removed.
    box.log.unlink()
    release_2 = {name: text for name, text in job.items() if "backup-diff" not in name}
    bucket.publish({"backup.py": "release 2\n", **release_2, "job/neo4j-backup.sh": "#!/bin/bash\necho 2\n"}, "etag-2")
    upgraded, _, box = refresh(tmp_path, bucket)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert launcher.read_text() == "#!/bin/bash\necho 2\n"
    assert not (units / "neo4j-backup-diff.timer").exists() and not (units / "neo4j-backup-diff.service").exists()
    calls = box.calls()
    assert "systemctl disable --now neo4j-backup-diff.timer" in calls
    assert calls.index("systemctl daemon-reload") < calls.index(
        f"systemctl enable --now {' '.join(t for t in timers if 'diff' not in t)}")


def test_the_backup_servers_certificate_renewal_comes_with_the_archive_and_is_installed_and_enabled(tmp_path):
    # Its user data holds the archive's fetcher and leaves no room for renew-certificates.sh under EC2's 16 KB: the
    # archive carries it (BACKUP_SERVER_ARCHIVED), the refresh installs it beside the launcher and enables its timer.
    import gzip

    from components.aws.user_data import SERVER_FILE_PLACES, backup_tooling_files

    settings = make_settings(version=VERSIONS["5"], tls="required")
    topology = plan_topology(settings)
    artifacts = aws_artifacts(settings, topology)
    job = backup_tooling_files(artifacts, topology)
    backup, other = artifacts[topology.backup_server.name], artifacts[topology.primaries[1].name]
    assert job["job/renew-certificates.sh"] == backup["renew-certificates.sh"]
    for name in ("renew-certificates.sh", "neo4j-cert-renew.timer", "neo4j-cert-renew.service"):
        assert f"path: {SERVER_FILE_PLACES[name]}" not in backup["cloud-init.yaml"], name
        assert f"path: {SERVER_FILE_PLACES[name]}" in other["cloud-init.yaml"], name  # the others carry their own
    assert len(gzip.compress(backup["cloud-init.yaml"].encode(), 9)) < len(
        gzip.compress(other["cloud-init.yaml"].encode(), 9)) + 1024
    bucket = ToolingBucket(tmp_path)
    bucket.publish({"backup.py": "release 1\n", **job}, "etag-1")
    result, _, box = refresh(tmp_path, bucket)
    assert result.returncode == 0, result.stdout + result.stderr
    renewal = tmp_path / "lib" / "renew-certificates.sh"
    assert renewal.read_text() == job["job/renew-certificates.sh"] and os.access(renewal, os.X_OK)
    assert (tmp_path / "systemd" / "neo4j-cert-renew.timer").read_text() == job["job/neo4j-cert-renew.timer"]
    [enable] = [c for c in box.calls() if c.startswith("systemctl enable --now")]
    assert "neo4j-cert-renew.timer" in enable.split()
    # The boot installs the archive before it enables the renewal's timer (setup-neo4j.sh).
    setup = backup["setup-neo4j.sh"]
    assert setup.index("run_step install_backup_tooling") < setup.index("systemctl enable --now neo4j-cert-renew.timer")


def test_a_job_that_fails_to_install_is_installed_again_at_the_next_refresh(tmp_path):
    bucket = ToolingBucket(tmp_path)
    bucket.publish({"backup.py": "release 1\n", "job/neo4j-backup.timer": "[Timer]\n"}, "etag-1")  # no launcher
    failed, tools, _ = refresh(tmp_path, bucket)
    assert failed.returncode != 0
    assert not (tools / ".archive-etag").exists()
    bucket.publish({"backup.py": "release 1\n", "job/neo4j-backup.timer": "[Timer]\n",
                    "job/neo4j-backup.sh": "#!/bin/bash\n"}, "etag-1")
    again, _, box = refresh(tmp_path, bucket)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "systemctl enable --now neo4j-backup.timer" in box.calls()


def test_the_boot_runs_the_refresh_with_the_bucket_then_enables_the_timers():
    files = backup_server_files()
    setup = files["setup-neo4j.sh"]
    install = shell_function(setup, "install_backup_tooling")
    assert 'TOOLING_BUCKET="$bucket" retry /bin/bash "/usr/local/lib/neo4j-cluster/refresh-backup-tooling.sh"' \
        in install
    assert setup.index("\nrun_step install_backup_tooling\n") < setup.index("\nrun_step enable_backup_timers\n")
    enable = shell_function(setup, "enable_backup_timers")
    assert enable.index("systemctl daemon-reload") < enable.index('systemctl enable --now "${backup_timers[@]}"')


# --- the backup tooling's Python packages -----------------------------------------------------------


def test_the_boot_installs_the_backup_tooling_packages_the_project_is_tested_with():
    """The boot's `pip install` on each server takes what requirements.txt names for the same packages (the
    releases the tests run): from that lower bound up to, not including, its next major."""
    from pathlib import Path

    from tests.support.rehearsal.pypi_standin import requirements_of

    tested = {name: version for name, version in re.findall(
        r"^(boto3|neo4j)>=([\d.]+)", (Path(__file__).parents[2] / "requirements.txt").read_text(), re.MULTILINE)}
    assert set(tested) == {"boto3", "neo4j"}
    installed = requirements_of(setup_script())
    assert installed, "no pip install line in setup-neo4j.sh"
    expected = {f'{name}>={".".join(version.split(".")[:2])},<{int(version.split(".")[0]) + 1}'
                for name, version in tested.items()}
    assert set(installed) == expected
