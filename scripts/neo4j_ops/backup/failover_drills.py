"""Where the failover drill's figures go (scripts/drill.py, drill/), so its age can alert as the restore drill's
does. Here, in the backup part, because the backup server's freshness check reads them (and only this part is
shipped there: components/tooling.py).

A drill's record (JSON: stack, passed or failed, when, the figures) is written to the stack's backup bucket under
<stack>/failover-drills/<UTC timestamp>.json. The backup server's freshness timer (neo4j-backup-freshness.timer,
backup/freshness.py) reads the newest one with the bucket's manifests and publishes it through node exporter's
textfile collector (metrics()), where Neo4jFailoverDrillTooOld reads neo4j_failover_drill_last_success_timestamp_
seconds. The bucket is the truth, not the laptop the drill ran from. With --textfile-dir the drill also writes the
same metrics itself (a machine with its own node exporter; freshness.write_atomically).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

from ..shared.errors import OperationError, describe

FOLDER = "failover-drills"  # under <stack>/ of the backup bucket: not a database (freshness.py skips it)
METRICS_FILE = "neo4j_failover_drill.prom"
PASSED, FAILED = "passed", "failed"

LAST_RUN = "neo4j_failover_drill_last_run_timestamp_seconds"
LAST_SUCCESS = "neo4j_failover_drill_last_success_timestamp_seconds"
# The newest run's figures, by their Figures field.
FIGURES = {
    "neo4j_failover_drill_new_leader_seconds": ("new_leader_seconds", "Stop issued to the first write a new leader "
                                                                      "acknowledged (-1: none did)."),
    "neo4j_failover_drill_write_outage_seconds": ("write_outage_seconds", "First failed write to the next "
                                                                          "acknowledged one."),
    "neo4j_failover_drill_failed_writes": ("failed_attempts", "Write attempts that failed (each retried or lost)."),
    "neo4j_failover_drill_retried_writes": ("retried_writes", "Writes acknowledged after a failed attempt."),
    "neo4j_failover_drill_lost_writes": ("lost_writes", "Writes never acknowledged."),
    "neo4j_failover_drill_recovery_seconds": ("recovery_seconds", "Start issued to the stopped server back and "
                                                                  "caught up (-1: not within the limit)."),
}


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def record_key(stack: str, moment: datetime) -> str:
    return f"{stack}/{FOLDER}/{stamp(moment)}.json"


def record(*, stack: str, server: str, passed: bool, finished: datetime, figures: dict,
           exceeded: list[str]) -> dict:
    """figures: drill/plan.py Figures as a dict (its field names are FIGURES' second parts)."""
    return {"stack": stack, "server": server, "result": PASSED if passed else FAILED,
            "finished": finished.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "figures": dict(figures),
            "exceeded": list(exceeded)}


def put_record(s3, bucket: str, document: dict) -> str:
    """The record into the bucket; OperationError in one line when it cannot be written."""
    finished = datetime.strptime(document["finished"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    key = record_key(document["stack"], finished)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(),
                      ContentType="application/json")
    except Exception as error:  # botocore's ClientError, NoCredentialsError, EndpointConnectionError: one line
        raise OperationError(f"writing the drill's record s3://{bucket}/{key} failed: {describe(error)}; "
                             f"Neo4jFailoverDrillTooOld will not see this drill") from None
    return key


def _epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def metrics(stack: str, newest: dict | None, newest_passed: dict | None) -> str:
    """Prometheus text exposition of the newest drill record (its time and figures) and the newest passed one's
    time; 0 timestamps when there is none (the alert's age is then huge, as for the restore drill)."""
    label = '{stack="' + stack.replace("\\", "\\\\").replace('"', '\\"') + '"}'
    lines = [f"# HELP {LAST_RUN} Finish time of the newest failover drill recorded in the bucket (0: never).",
             f"# TYPE {LAST_RUN} gauge", f"{LAST_RUN}{label} {_epoch(newest['finished']) if newest else 0:.0f}",
             f"# HELP {LAST_SUCCESS} Finish time of the newest passed failover drill (0: never).",
             f"# TYPE {LAST_SUCCESS} gauge",
             f"{LAST_SUCCESS}{label} {_epoch(newest_passed['finished']) if newest_passed else 0:.0f}"]
    if newest:
        figures = newest.get("figures") or {}
        for metric, (field, help_text) in FIGURES.items():
            value = figures.get(field)
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge",
                      f"{metric}{label} {-1 if value is None else float(value):g}"]
    return "\n".join(lines) + "\n"


def newest_records(s3, bucket: str, stack: str) -> tuple[dict | None, dict | None]:
    """(the newest drill record, the newest passed one) under <stack>/failover-drills/."""
    prefix = f"{stack}/{FOLDER}/"
    keys = sorted((item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                   for item in page.get("Contents", []) if item["Key"].endswith(".json")), reverse=True)
    newest = newest_passed = None
    for key in keys:
        try:
            document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            _epoch(str(document["finished"]))
        except (ValueError, KeyError, TypeError):
            continue  # not a drill record: skipped, as freshness skips a damaged manifest
        if newest is None:
            newest = document
        if document.get("result") == PASSED:
            newest_passed = document
            break
    return newest, newest_passed
