"""The Prometheus alert rules: `render_alert_rules(...)` → neo4j-alerts.yml.

Every decision (which series an alert reads, its threshold, its `for:`) is made here;
templates/prometheus/neo4j-alerts.yml.j2 only lays the values out. An alert is rendered only when the
scrape job whose series it reads has a target (ALERT_JOBS), and the machines that publish it exist
(ALERT_ALSO_NEEDS).
"""
from __future__ import annotations

import json
from typing import Any

from components.monitoring.queries import FAILED_LOGINS_WINDOW, GC_WINDOW, RATE_WINDOW
from components.monitoring.scrape import JOB_HAPROXY, JOB_NEO4J, JOB_NODE
from components.monitoring.thresholds import AlertThresholds, threshold_text
from components.templating import render_template

# Every alert, and the scrape job whose series it reads: an alert is rendered only when its job
# has a target (no Neo4j metrics on Community, no node exporter in the Docker stack).
ALERT_JOBS = {
    "Neo4jServerDown": JOB_NEO4J,
    "Neo4jMachineDown": JOB_NODE,
    "Neo4jOpenTransactionsHigh": JOB_NEO4J,
    "Neo4jPageCacheHitRatioLow": JOB_NEO4J,
    "Neo4jGcPauseLong": JOB_NEO4J,
    "Neo4jDiskUsageHigh": JOB_NODE,
    "Neo4jReplicationLagHigh": JOB_NEO4J,
    "Neo4jMultipleLeaders": JOB_NEO4J,
    # Published by the machine itself through node exporter's textfile collector (setup-neo4j.sh):
    "Neo4jBootFailed": JOB_NODE,
    "Neo4jCertificateExpiresSoon": JOB_NODE,
    "Neo4jCertificateRenewalFailed": JOB_NODE,  # renew-certificates.sh (neo4j-cert-renew.timer)
    # refresh-backup-tooling.sh on the backup server refused the tooling archive in S3 (issue 26, item 4).
    "Neo4jPinnedObjectRefused": JOB_NODE,
    # haproxy-config-sync.sh on a node of the HAProxy pair failed: the config the deploy published is not in service
    # there (refused by `haproxy -c`, rolled back for lack of a usable server, haproxy not starting, ...).
    "Neo4jHaproxyConfigSyncFailed": JOB_NODE,
    # Written on the backup server from the bucket's manifests and drill records (scripts/neo4j_ops/backup/
    # freshness.py, neo4j-backup-freshness.timer), so they ride on its node exporter.
    "Neo4jBackupTooOld": JOB_NODE,
    "Neo4jRestoreDrillTooOld": JOB_NODE,
    # `make drill` (scripts/drill.py) leaves its record in the bucket; the same freshness check publishes it.
    "Neo4jFailoverDrillTooOld": JOB_NODE,
    "Neo4jBackupFreshnessUnknown": JOB_NODE,
    # Counted every minute from security.log on each server (neo4j-failed-logins.timer).
    "Neo4jFailedLogins": JOB_NODE,
}
# More failed logins than this on one server within FAILED_LOGINS_WINDOW fire Neo4jFailedLogins: a client with a
# stale password retries a few times (Neo4j locks the user after 3 attempts, dbms.security.auth_max_failed_attempts);
# more is guessing or a misconfigured fleet.
FAILED_LOGINS_THRESHOLD = 10
# Days before a served certificate expires from which Neo4jCertificateExpiresSoon fires.
CERTIFICATE_EXPIRY_WARNING_DAYS = 30
# How long haproxy-config-sync.sh (every 2 minutes on each HAProxy node) must have failed before its alert fires.
HAPROXY_SYNC_FOR = "5m"
ALERT_NAMES = tuple(ALERT_JOBS)
# Alerts on a series only some machines publish: rendered only when the stack has those machines, told by another
# scrape job's targets. haproxy-config-sync.sh runs only on the HAProxy nodes, whose HAProxy the `haproxy` job
# scrapes: a stack without HAProxy (neo4j:haproxy false) would carry an alert that can never fire.
ALERT_ALSO_NEEDS = {
    "Neo4jHaproxyConfigSyncFailed": JOB_HAPROXY,
}


def _indent(expr: str) -> str:
    return "\n".join("  " + line for line in expr.splitlines())


def _percent(ratio: float) -> str:
    return f"{threshold_text(round(ratio * 100, 6))}%"


def _alert(name: str, expr: str, for_duration: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "expr": expr,
        "for_duration": for_duration,
        "severity": severity,
        # Pre-quoted (JSON strings are YAML double-quoted scalars); the `{{ $labels.x }}` parts are
        # Prometheus templates, expanded by Prometheus, not by Jinja.
        "summary_yaml": json.dumps(summary),
        "description_yaml": json.dumps(description),
    }


def alert_rules(q: dict[str, str], t: AlertThresholds, *, lag_offset: str, jobs: set[str]) -> list[dict[str, Any]]:
    alerts = [
        _alert(
            "Neo4jServerDown", f"{q['neo4j_up']} == 0", "1m", "critical",
            "Neo4j server {{ $labels.server }} is down",
            "The Neo4j metrics endpoint {{ $labels.instance }} of {{ $labels.server }} ({{ $labels.role }}) "
            "in stack {{ $labels.stack }} has not answered a scrape for 1 minute."),
        _alert(
            "Neo4jMachineDown", f"{q['node_up']} == 0", "1m", "critical",
            # A Neo4j server's machine, or an HAProxy node (role loadbalancer).
            "Machine {{ $labels.server }} ({{ $labels.role }}) is unreachable",
            "Node exporter {{ $labels.instance }} on {{ $labels.server }} ({{ $labels.role }}) in stack "
            "{{ $labels.stack }} has not answered a scrape for 1 minute: the machine is down or unreachable "
            "from the monitoring node, and its disks are not watched meanwhile."),
        _alert(
            "Neo4jOpenTransactionsHigh", f"{q['open_transactions']} > {t.open_transactions}", "5m", "warning",
            "{{ $value | printf \"%.0f\" }} open transactions on {{ $labels.server }} ({{ $labels.database }})",
            f"{{{{ $labels.server }}}} has had more than {t.open_transactions} open transactions in database "
            "{{ $labels.database }} for 5 minutes (now {{ $value | printf \"%.0f\" }}). "
            "Look for long-running or leaked transactions (SHOW TRANSACTIONS)."),
        _alert(
            "Neo4jPageCacheHitRatioLow",
            f"(\n{_indent(q['page_cache_hit_ratio'])}\n) < {threshold_text(t.page_cache_hit_ratio)}", "10m", "warning",
            "Page cache hit ratio {{ $value | humanizePercentage }} on {{ $labels.server }}",
            f"Over the last {RATE_WINDOW}, {{{{ $value | humanizePercentage }}}} of page cache lookups on "
            f"{{{{ $labels.server }}}} were hits (threshold {_percent(t.page_cache_hit_ratio)}, for 10 minutes). "
            "The store no longer fits in the page cache; reads go to disk."),
        _alert(
            "Neo4jGcPauseLong", f"{q['gc_seconds_per_window']} > {threshold_text(t.gc_pause_seconds)}", "0s", "warning",
            "{{ $value | printf \"%.2f\" }}s of GC pause on {{ $labels.server }} ({{ $labels.gc }})",
            f"The {{{{ $labels.gc }}}} collector on {{{{ $labels.server }}}} stopped the JVM for "
            f"{{{{ $value | printf \"%.2f\" }}}}s within {GC_WINDOW} "
            f"(threshold {threshold_text(t.gc_pause_seconds)}s): "
            "at least one long pause or a burst of them. Long pauses can cost the server its cluster "
            "membership or leadership; check heap sizing and the GC log."),
        _alert(
            "Neo4jDiskUsageHigh", f"{q['disk_used_ratio']} > {threshold_text(t.disk_used_ratio)}", "10m", "warning",
            "Disk {{ $labels.mountpoint }} on {{ $labels.server }} is {{ $value | humanizePercentage }} full",
            f"Filesystem {{{{ $labels.mountpoint }}}} ({{{{ $labels.device }}}}) on {{{{ $labels.server }}}} "
            f"has been more than {_percent(t.disk_used_ratio)} used for 10 minutes "
            "(now {{ $value | humanizePercentage }}). Neo4j stops a database whose disk fills up."),
        _alert(
            "Neo4jReplicationLagHigh", f"(\n{_indent(q['transactions_behind'])}\n) > 0", "1m", "warning",
            "{{ $labels.server }} lags more than "
            f"{threshold_text(t.replication_lag_seconds)}s behind on {{{{ $labels.database }}}}",
            f"{{{{ $labels.server }}}} ({{{{ $labels.role }}}}) has not yet applied "
            "{{ $value | printf \"%.0f\" }} transactions of database {{ $labels.database }} that the most "
            f"advanced cluster member had committed {lag_offset} ago, for 1 minute: its replication lag "
            f"exceeds {threshold_text(t.replication_lag_seconds)}s."),
        _alert(
            "Neo4jMultipleLeaders", f"{q['leaders']} > 1", "1m", "critical",
            "{{ $value | printf \"%.0f\" }} leaders for database {{ $labels.database }}",
            "{{ $value | printf \"%.0f\" }} servers of stack {{ $labels.stack }} have reported themselves "
            "leader of database {{ $labels.database }} for 1 minute (a leader switch overlaps for a few "
            "seconds at most). Check the cluster for a network partition."),
        _alert(
            "Neo4jBootFailed", f"{q['boot_failed']} == 1", "0s", "critical",
            "Boot script of {{ $labels.server }} failed at step {{ $labels.step }}",
            "setup-neo4j.sh on {{ $labels.server }} ({{ $labels.role }}) in stack {{ $labels.stack }} stopped at "
            "step {{ $labels.step }}: the machine runs but is not (fully) configured. Read "
            "/var/lib/neo4j-cluster/boot-status and /var/log/cloud-init-output.log on it, fix the cause, and run "
            "/usr/local/lib/neo4j-cluster/setup-neo4j.sh again (it is safe to re-run) or replace the instance."),
        _alert(
            "Neo4jCertificateExpiresSoon",
            f"{q['certificate_days_left']} < {CERTIFICATE_EXPIRY_WARNING_DAYS}", "0s", "warning",
            "{{ $labels.scope }} certificate of {{ $labels.server }} expires in {{ $value | printf \"%.0f\" }} days",
            "The {{ $labels.scope }} certificate that {{ $labels.server }} in stack {{ $labels.stack }} serves "
            f"expires within {CERTIFICATE_EXPIRY_WARNING_DAYS} days "
            "({{ $value | printf \"%.1f\" }} days left). Renew it (`pulumi up` rotates it into Secrets Manager) "
            "and bring it to the server before it expires: clients and cluster members then refuse it."),
        _alert(
            "Neo4jCertificateRenewalFailed", f"{q['certificate_renewal_failed']} == 1", "0s", "warning",
            "Certificate renewal on {{ $labels.server }} failed at step {{ $labels.step }}",
            "renew-certificates.sh on {{ $labels.server }} in stack {{ $labels.stack }} failed at step "
            "{{ $labels.step }}, so a renewed certificate does not reach the server. Read `journalctl -u "
            "neo4j-cert-renew` and /var/lib/neo4j-cluster/cert-renew-status on it; once fixed, run "
            "`systemctl start neo4j-cert-renew` (safe to re-run)."),
        _alert(
            "Neo4jPinnedObjectRefused", f"{q['pinned_object_refused']} == 1", "0s", "critical",
            "{{ $labels.server }} refused the {{ $labels.object }} object in S3: not what the deploy published",
            "What root runs on {{ $labels.server }} in stack {{ $labels.stack }} is pinned to the sha256 the deploy "
            "set as an instance tag; the {{ $labels.object }} object now in the bucket has another, so it was not "
            "installed and the previous one keeps running. Someone other than the deploy wrote it (the bucket policy "
            "denies instance credentials), or a deploy failed between the object and the tag. Compare the object's "
            "sha256 with the tag (`make plan` prints it), find the writer in CloudTrail, then run `pulumi up` again; "
            "the next refresh clears this."),
        _alert(
            # The sync runs every 2 minutes: a failure that a later run does not clear within HAPROXY_SYNC_FOR (an
            # S3 read that failed once does) is one to act on.
            "Neo4jHaproxyConfigSyncFailed", f"{q['haproxy_config_sync_failed']} == 1", HAPROXY_SYNC_FOR, "warning",
            "haproxy-config-sync on {{ $labels.server }} failed at step {{ $labels.step }}",
            "The haproxy.cfg the deploy published is not in service on {{ $labels.server }} in stack "
            "{{ $labels.stack }}: haproxy-config-sync.sh failed at step {{ $labels.step }} (check: `haproxy -c` "
            "refused it; health: no usable server after loading it, the previous config was put back; start: "
            "haproxy does not start; pin: see Neo4jPinnedObjectRefused; object: the object or its tag could not be "
            "read). The node keeps serving with the config it had. Read `journalctl -u haproxy-config-sync` on it, "
            "fix the config or its cause and run `pulumi up`; the next run (every 2 minutes) clears this."),
        _alert(
            "Neo4jBackupTooOld", f"{q['backup_age_hours']} > {threshold_text(t.backup_max_age_hours)}", "0s",
            "critical",
            "Newest complete backup of {{ $labels.database }} is {{ $value | printf \"%.1f\" }} hours old",
            f"The newest restorable backup of database {{{{ $labels.database }}}} in stack {{{{ $labels.stack }}}} "
            f"completed {{{{ $value | printf \"%.1f\" }}}} hours ago "
            f"(more than {threshold_text(t.backup_max_age_hours)}h; "
            "a huge value means there is none), as the bucket's manifests say. Read `journalctl -u "
            "neo4j-backup` on the backup server and run `systemctl start neo4j-backup` once the cause is fixed."),
        _alert(
            "Neo4jRestoreDrillTooOld",
            f"{q['drill_age_days']} > {threshold_text(t.restore_drill_max_age_days)}\nand on (stack, database)\n"
            f"{q['first_backup_age_days']} > {threshold_text(t.restore_drill_max_age_days)}", "0s", "warning",
            "Last passed restore drill of {{ $labels.database }} is {{ $value | printf \"%.1f\" }} days old",
            f"No restore drill of database {{{{ $labels.database }}}} in stack {{{{ $labels.stack }}}} has passed for "
            f"{{{{ $value | printf \"%.1f\" }}}} days (more than {threshold_text(t.restore_drill_max_age_days)}, "
            "neo4j:restoreDrillMaxAgeDays; a huge value means never, though backups have existed that long): "
            "nobody knows whether the backups restore. Read `journalctl -u neo4j-restore-drill` on the backup "
            "server and run `systemctl start neo4j-restore-drill`."),
        _alert(
            "Neo4jFailoverDrillTooOld",
            f"{q['failover_drill_age_days']} > {threshold_text(t.failover_drill_max_age_days)}\nand on (stack)\n"
            f"{q['stack_first_backup_age_days']} > {threshold_text(t.failover_drill_max_age_days)}", "0s", "warning",
            "Last passed failover drill of {{ $labels.stack }} is {{ $value | printf \"%.1f\" }} days old",
            f"No failover drill of stack {{{{ $labels.stack }}}} has passed for {{{{ $value | printf \"%.1f\" }}}} "
            f"days (more than {threshold_text(t.failover_drill_max_age_days)}, neo4j:failoverDrillMaxAgeDays; a huge "
            "value means never, though the stack has had backups that long): nobody knows how long writes fail when "
            "the leader dies, or the last drill was over its thresholds. Run `make drill STACK={{ $labels.stack }}` "
            "(its report says what was over) and read the record under <stack>/failover-drills/ in the backup bucket."),
        _alert(
            "Neo4jBackupFreshnessUnknown",
            f"time() - max by (stack) ({q['freshness_last_run']}) > 3600\nor\nabsent({q['freshness_last_run']})",
            "30m", "warning",
            "Backup freshness is unknown",
            "The backup server has not read the bucket's manifests for over an hour (or never published them): "
            "Neo4jBackupTooOld and Neo4jRestoreDrillTooOld cannot fire. Read `journalctl -u "
            "neo4j-backup-freshness` on the backup server (bucket access, the tooling under "
            "/usr/local/lib/neo4j-cluster/scripts)."),
        _alert(
            "Neo4jFailedLogins", f"{q['failed_logins']} > {FAILED_LOGINS_THRESHOLD}", "0s", "warning",
            "{{ $value | printf \"%.0f\" }} failed logins on {{ $labels.server }}",
            "Neo4j on {{ $labels.server }} ({{ $labels.role }}) in stack {{ $labels.stack }} refused about "
            f"{{{{ $value | printf \"%.0f\" }}}} logins within {FAILED_LOGINS_WINDOW} (more than "
            f"{FAILED_LOGINS_THRESHOLD}): someone guesses passwords, or a client runs with a stale one. Read "
            "/var/log/neo4j/security.log on it (\"failed to log in\" lines name the user and the client address)."),
    ]
    assert [a["name"] for a in alerts] == list(ALERT_NAMES)
    return [a for a in alerts
            if ALERT_JOBS[a["name"]] in jobs and ALERT_ALSO_NEEDS.get(a["name"], ALERT_JOBS[a["name"]]) in jobs]


def render_alert_rules(*, stack: str, version_line: str, queries: dict[str, str], thresholds: AlertThresholds,
                       lag_offset: str, jobs: set[str]) -> str:
    return render_template(
        "prometheus/neo4j-alerts.yml.j2",
        stack=stack, version_line=version_line, group_name=f"neo4j-{stack}",
        alerts=alert_rules(queries, thresholds, lag_offset=lag_offset, jobs=jobs))
