"""The PromQL the alert rules and the dashboard share, by name: `promql_queries(names, ...)` for one
version line's metric names (components/monitoring/metrics.py)."""
from __future__ import annotations

import re

from components.monitoring.metrics import Neo4jMetricNames
from components.monitoring.scrape import JOB_HAPROXY, JOB_NEO4J, JOB_NODE

# Stop-the-world collectors (JMX bean name lower-cased, spaces -> underscores, as Neo4j reports
# them): G1 (Neo4j's default), Parallel, Serial. Concurrent-cycle beans ("G1 Concurrent GC" on
# JDK 20+, ZGC/Shenandoah cycles) are left out: their time is not pause time.
STOP_THE_WORLD_COLLECTORS = (
    "g1_young_generation", "g1_old_generation", "ps_scavenge", "ps_marksweep", "copy", "marksweepcompact",
)
# Filesystems that never hold Neo4j data.
PSEUDO_FILESYSTEMS = "tmpfs|devtmpfs|ramfs|overlay|squashfs|nsfs|autofs|proc|sysfs|efivarfs|fuse.lxcfs"

RATE_WINDOW = "5m"
GC_WINDOW = "1m"
FAILED_LOGINS_WINDOW = "10m"


def _selector(name_regex: str, job: str = JOB_NEO4J, offset: str | None = None) -> str:
    if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", name_regex):
        sel = f'{name_regex}{{job="{job}"}}'
    else:
        sel = f'{{__name__=~"{name_regex}", job="{job}"}}'
    return f"{sel} offset {offset}" if offset else sel


def _by_database(names: Neo4jMetricNames, suffix: str, offset: str | None = None) -> str:
    """A per-database series with the database name moved from the metric name into `database`."""
    regex = names.database_metric(suffix)
    selector = _selector(regex.replace("(.+)", ".+"), offset=offset)
    return f'label_replace({selector}, "database", "$1", "__name__", "{regex}")'


def _gc_time_by_collector(names: Neo4jMetricNames, offset: str | None = None) -> str:
    collectors = "|".join(STOP_THE_WORLD_COLLECTORS)
    selector = _selector(names.global_metric(f"vm_gc_time_(?:{collectors})_total"), offset=offset)
    regex = names.global_metric("vm_gc_time_(.+)_total")
    return f'label_replace({selector}, "gc", "$1", "__name__", "{regex}")'


def _disk_selector(metric: str, data_mountpoint: str | None) -> str:
    matchers = [f'job="{JOB_NODE}"', f'fstype!~"{PSEUDO_FILESYSTEMS}"']
    if data_mountpoint:
        matchers.append(f'mountpoint="{data_mountpoint}"')
    return f"{metric}{{{', '.join(matchers)}}}"


def promql_queries(names: Neo4jMetricNames, *, lag_offset: str, data_mountpoint: str | None) -> dict[str, str]:
    hits = f"rate({_selector(names.global_metric('page_cache_hits_total'))}[{RATE_WINDOW}])"
    faults = f"rate({_selector(names.global_metric('page_cache_page_faults_total'))}[{RATE_WINDOW}])"
    committed = "transaction_last_committed_tx_id_total"
    return {
        "neo4j_up": f'up{{job="{JOB_NEO4J}"}}',
        "node_up": f'up{{job="{JOB_NODE}"}}',
        "open_transactions": _by_database(names, "transaction_active"),
        # Computed from the two counters: well defined over the window and NaN (no alert) when idle.
        "page_cache_hit_ratio": f"{hits}\n/\n({hits} + {faults})",
        # Milliseconds of stop-the-world GC each collector accumulated during the last GC_WINDOW.
        "gc_seconds_per_window": (
            f"(\n  {_gc_time_by_collector(names)}\n  -\n  {_gc_time_by_collector(names, offset=GC_WINDOW)}\n)"
            " / 1000"),
        "disk_used_ratio": (
            f"1 - (\n  {_disk_selector('node_filesystem_avail_bytes', data_mountpoint)}\n  /\n"
            f"  {_disk_selector('node_filesystem_size_bytes', data_mountpoint)}\n)"),
        # Transactions a server still lacks of what the most advanced member had committed
        # `lag_offset` ago; > 0 means it is more than the lag threshold behind.
        "transactions_behind": (
            f"max by (stack, database) (\n  {_by_database(names, committed, offset=lag_offset)}\n)\n"
            f"- on (stack, database) group_right ()\n{_by_database(names, committed)}"),
        "leaders": f"sum by (stack, database) (\n  {_by_database(names, names.is_leader)}\n)",
        "boot_failed": f'neo4j_cluster_boot_failed{{job="{JOB_NODE}"}}',
        "certificate_days_left": f'(neo4j_cluster_certificate_expiry_seconds{{job="{JOB_NODE}"}} - time()) / 86400',
        "certificate_renewal_failed": f'neo4j_cluster_certificate_renewal_failed{{job="{JOB_NODE}"}}',
        "pinned_object_refused": f'neo4j_cluster_pinned_object_refused{{job="{JOB_NODE}"}}',
        "haproxy_config_sync_failed": f'neo4j_cluster_haproxy_config_sync_failed{{job="{JOB_NODE}"}}',
        # Ages from the freshness metrics (0: none/never, which makes the age huge). One backup server
        # writes them; max by keeps one series per database whatever the scrape labels.
        "backup_age_hours": (f'(time() - max by (stack, database) (neo4j_backup_last_complete_timestamp_seconds'
                             f'{{job="{JOB_NODE}"}})) / 3600'),
        "drill_age_days": (f'(time() - max by (stack, database) (neo4j_restore_drill_last_success_timestamp_seconds'
                           f'{{job="{JOB_NODE}"}})) / 86400'),
        "first_backup_age_days": (f'(time() - max by (stack, database) (neo4j_backup_first_complete_timestamp_seconds'
                                  f'{{job="{JOB_NODE}"}})) / 86400'),
        "freshness_last_run": f'neo4j_backup_freshness_last_run_timestamp_seconds{{job="{JOB_NODE}"}}',
        # The failover drill's record in the bucket, published by the same freshness check (one per stack).
        "failover_drill_age_days": (f'(time() - max by (stack) (neo4j_failover_drill_last_success_timestamp_seconds'
                                    f'{{job="{JOB_NODE}"}})) / 86400'),
        "stack_first_backup_age_days": (f'(time() - min by (stack) (neo4j_backup_first_complete_timestamp_seconds'
                                        f'{{job="{JOB_NODE}"}} != 0)) / 86400'),  # 0: a database without one
        # Failed logins each server's security.log gained over the window (a rotated log is a counter reset).
        "failed_logins": (f'increase(neo4j_cluster_failed_logins_total{{job="{JOB_NODE}"}}'
                          f'[{FAILED_LOGINS_WINDOW}])'),
        "cpu_busy": (f'1 - avg by (stack, server, role, instance) '
                     f'(rate(node_cpu_seconds_total{{job="{JOB_NODE}", mode="idle"}}[{RATE_WINDOW}]))'),
        "haproxy_backend_active_servers": f'haproxy_backend_active_servers{{job="{JOB_HAPROXY}"}}',
        "haproxy_frontend_current_sessions": f'haproxy_frontend_current_sessions{{job="{JOB_HAPROXY}"}}',
    }

