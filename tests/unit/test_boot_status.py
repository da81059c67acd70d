"""setup-neo4j.sh says how far it got: each step is recorded before it runs; a failure leaves the
failed step in the boot-status file and as neo4j_cluster_boot_failed{step=...} 1 for node
exporter's textfile collector; transient failures (Secrets Manager, S3, apt) are retried with a
growing pause. The script's own functions run in bash, with stand-ins for the machine's tools."""
from __future__ import annotations

import subprocess

import pytest

from components.aws.user_data import aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.promtool_rules import check_metrics
from tests.support.shell import sandbox, shell_function

STEP_FUNCTIONS = ["gauge", "write_textfile", "write_boot_status", "on_exit", "run_step"]


def setup_script(**stack) -> str:
    settings = make_settings(**stack)
    return aws_artifacts(settings, plan_topology(settings))["core-1"]["setup-neo4j.sh"]


def status_places(box) -> str:
    return (f'BOOT_STATUS="{box.root}/state/boot-status"\nTEXTFILE_DIR="{box.root}/textfile"\nBOOT_STEP=start\n'
            'log() { echo "setup-neo4j: $*"; }\ntrap on_exit EXIT\n')


def test_the_main_sequence_runs_every_step_through_run_step_and_ends_done():
    script = setup_script()
    body = script[script.index("\nrun_step mount_data_volume"):]
    calls = [line for line in body.splitlines() if line and not line.startswith(("BOOT_STEP=", "write_boot_status",
                                                                                 "log ", "systemctl"))]
    assert calls and all(line.startswith("run_step ") for line in calls), calls
    assert body.rstrip().endswith('BOOT_STEP="done"\nwrite_boot_status "done"\nlog "done"')
    assert "trap on_exit EXIT" in script


def test_a_failed_step_is_in_the_status_file_and_the_metric(tmp_path):
    script = setup_script()
    box = sandbox(tmp_path)
    result = box.run(script, STEP_FUNCTIONS,
                     "fine() { :; }\nbroken() { false; echo never; }\nrun_step fine\nrun_step broken\necho never\n",
                     prelude=status_places(box))
    assert result.returncode == 1
    assert "never" not in result.stdout
    assert "setup-neo4j: FAILED at step broken (exit status 1)" in result.stdout
    assert (tmp_path / "state" / "boot-status").read_text().startswith("state=failed step=broken time=")
    metrics = (tmp_path / "textfile" / "neo4j_cluster_boot.prom").read_text()
    assert 'neo4j_cluster_boot_failed{step="broken"} 1' in metrics
    assert "neo4j_cluster_boot_completed 0" in metrics
    assert not [p for p in (tmp_path / "textfile").iterdir() if p.name.startswith(".")]  # written atomically


def test_a_boot_that_ran_to_its_end_says_done(tmp_path):
    script = setup_script()
    box = sandbox(tmp_path)
    result = box.run(script, STEP_FUNCTIONS, "fine() { :; }\nrun_step fine\nBOOT_STEP=done\nwrite_boot_status done\n",
                     prelude=status_places(box))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state" / "boot-status").read_text().startswith("state=done step=done")
    metrics = (tmp_path / "textfile" / "neo4j_cluster_boot.prom").read_text()
    assert 'neo4j_cluster_boot_failed{step="done"} 0' in metrics and "neo4j_cluster_boot_completed 1" in metrics


@pytest.mark.integration
def test_the_boot_metric_passes_promtool(tmp_path):
    """Node exporter's textfile collector reads the Prometheus text format: `promtool check metrics` (Debian's
    prometheus) reads the file a failed boot leaves and finds nothing to say."""
    box = sandbox(tmp_path)
    result = box.run(setup_script(), STEP_FUNCTIONS, "broken() { false; }\nrun_step broken\n",
                     prelude=status_places(box))
    assert result.returncode == 1
    metrics = (tmp_path / "textfile" / "neo4j_cluster_boot.prom").read_text()
    check_metrics(metrics, "neo4j_cluster_boot.prom")


def test_secrets_manager_is_retried_with_a_growing_pause_then_given_up(tmp_path):
    script = setup_script()
    box = sandbox(tmp_path)
    counter = tmp_path / "attempts"
    # The AWS CLI fails twice (throttled), then answers.
    box.stand_in("aws", f'n=$(cat "{counter}" 2>/dev/null || echo 0); echo $((n + 1)) >"{counter}"; '
                        f'if ((n < 2)); then echo throttled >&2; exit 255; fi; echo the-secret')
    box.stand_in("sleep")
    result = box.run(script, ["retry", "secret"], 'value=$(secret some/secret)\necho "got $value"\n',
                     prelude='REGION=eu-west-1\nRETRY_ATTEMPTS=6\nlog() { echo "setup-neo4j: $*" >&2; }\n')
    assert result.returncode == 0, result.stderr
    assert "got the-secret" in result.stdout
    assert [c for c in box.calls() if c.startswith("sleep")] == ["sleep 5", "sleep 10"]

    counter.write_text("-100")  # now it keeps failing: bounded attempts, then the step fails
    result = box.run(script, ["retry", "secret"], 'secret some/secret\n',
                     prelude='REGION=eu-west-1\nRETRY_ATTEMPTS=6\nlog() { echo "setup-neo4j: $*" >&2; }\n')
    assert result.returncode == 1
    assert "giving up after 6 attempts: aws secretsmanager" in result.stderr
    assert [c for c in box.calls() if c.startswith("sleep")][2:] == ["sleep 5", "sleep 10", "sleep 20", "sleep 40",
                                                                     "sleep 60"]


def test_apt_s3_and_downloads_go_through_retry():
    script = setup_script()
    for needle in ('retry apt-get update', 'retry env DEBIAN_FRONTEND=noninteractive apt-get install',
                   'retry curl -fsSL', 'retry aws secretsmanager get-secret-value'):
        assert needle in script, needle
    assert shell_function(script, "retry")


# --- the one textfile writer every machine script shares (templates/_textfile.sh.j2) -----------------------------


def test_write_textfile_publishes_the_whole_file_world_readable_and_leaves_no_temporary_file(tmp_path):
    box = sandbox(tmp_path)
    result = box.run(setup_script(), ["gauge", "write_textfile"],
                     '{ gauge demo_value "A value"; echo "demo_value 3"; } | write_textfile demo\n',
                     prelude=f'TEXTFILE_DIR="{tmp_path}/textfile"\n')
    assert result.returncode == 0, result.stderr
    published = tmp_path / "textfile" / "demo.prom"
    assert published.read_text() == "# HELP demo_value A value\n# TYPE demo_value gauge\ndemo_value 3\n"
    assert published.stat().st_mode & 0o777 == 0o644  # node exporter does not run as root
    assert [p.name for p in (tmp_path / "textfile").iterdir()] == ["demo.prom"]


def test_write_textfile_that_cannot_write_fails_and_keeps_the_previous_file(tmp_path):
    box = sandbox(tmp_path)
    (tmp_path / "textfile").mkdir()
    (tmp_path / "textfile" / "demo.prom").write_text("demo_value 1\n")
    box.stand_in("mv", "exit 1")  # the rename fails (a full or read-only disk)
    result = box.run(setup_script(), ["gauge", "write_textfile"],
                     'if echo "demo_value 2" | write_textfile demo; then echo published; fi\n',
                     prelude=f'TEXTFILE_DIR="{tmp_path}/textfile"\n')
    assert result.returncode == 0 and "published" not in result.stdout
    assert (tmp_path / "textfile" / "demo.prom").read_text() == "demo_value 1\n"
    assert [p.name for p in (tmp_path / "textfile").iterdir()] == ["demo.prom"]  # the temporary file is gone


def test_an_unreadable_certificate_stops_the_expiry_metric_before_it_replaces_the_previous_one(tmp_path):
    script = setup_script(tls="required")
    box = sandbox(tmp_path)
    textfiles, certs = tmp_path / "textfile", tmp_path / "certificates"
    textfiles.mkdir()
    (textfiles / "neo4j_cluster_certificates.prom").write_text("previous\n")
    ca = tmp_path / "ca"
    ca.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca / "key.pem"),
                    "-out", str(ca / "cert.pem"), "-days", "90", "-subj", "/CN=core-1"],
                   check=True, capture_output=True)
    scopes = ("bolt", "https")
    for scope in scopes:
        (certs / scope).mkdir(parents=True)
        (certs / scope / "public.crt").write_text((ca / "cert.pem").read_text())
    prelude = f'TEXTFILE_DIR="{textfiles}"\nCERT_DIR="{certs}"\nSSL_SCOPES=({" ".join(scopes)})\n'
    good = box.run(script, ["gauge", "write_textfile", "publish_certificate_expiry"],
                   "publish_certificate_expiry\n", prelude=prelude)
    assert good.returncode == 0, good.stderr
    written = (textfiles / "neo4j_cluster_certificates.prom").read_text()
    assert [line.split(" ")[0] for line in written.splitlines() if not line.startswith("#")] == [
        f'neo4j_cluster_certificate_expiry_seconds{{scope="{scope}"}}' for scope in scopes]

    (certs / "https" / "public.crt").write_text("not a certificate\n")
    bad = box.run(script, ["gauge", "write_textfile", "publish_certificate_expiry"],
                  "publish_certificate_expiry\necho never\n", prelude=prelude)
    assert bad.returncode != 0 and "never" not in bad.stdout
    assert (textfiles / "neo4j_cluster_certificates.prom").read_text() == written  # not one without https
    assert [p.name for p in textfiles.iterdir()] == ["neo4j_cluster_certificates.prom"]
