"""The cluster's other endpoints: each server's Prometheus metrics, and the backup bucket (writable)."""
from __future__ import annotations

import uuid

from ..bolt import Transport, host_of
from ..facts import ServerFacts
from ..parallel import Outcome, run_all
from ..target import Target
from .results import FAIL, PASS, SKIP, CheckResult, reason


def metrics_urls(target: Target) -> dict[str, str]:
    if target.metrics_urls is not None:
        return dict(target.metrics_urls)
    return {s.name: f"http://{host_of(s.uri)}:{target.metrics_port}/metrics" for s in target.servers}


def check_metrics(target: Target, ref: ServerFacts, transport: Transport, timeout: float) -> CheckResult:
    if not ref.enterprise:
        return CheckResult("metrics", SKIP, f"{ref.edition} edition has no Prometheus endpoint")
    urls = metrics_urls(target)

    def fetch(url: str):
        return lambda: transport.http_get(url, timeout)

    outcomes = run_all({name: fetch(url) for name, url in urls.items()}, timeout + 1)
    problems, good = [], []
    for name, outcome in outcomes.items():
        if not outcome.ok:
            problems.append(f"{name} ({urls[name]}): {reason(outcome)}")
            continue
        status, body = outcome.value
        if status != 200:
            problems.append(f"{name} ({urls[name]}): HTTP {status}")
        elif "neo4j_" not in body:
            problems.append(f"{name} ({urls[name]}): answers but exports no neo4j_* series")
        else:
            good.append(name)
    if problems:
        return CheckResult("metrics", FAIL, "; ".join(problems))
    return CheckResult("metrics", PASS, f"Prometheus endpoint answers on {', '.join(good)}")


def s3_probe(bucket: str, region: str | None, timeout: float) -> str:
    """Put and delete a small object; returns the key used. Raises on failure."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", region_name=region, config=Config(connect_timeout=timeout, read_timeout=timeout,
                                                               retries={"max_attempts": 2}))
    key = f"neo4j-cluster-check/probe-{uuid.uuid4()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"neo4j-cluster check probe; safe to delete\n")
    s3.delete_object(Bucket=bucket, Key=key)
    return key


def backup_result(target: Target, outcome: Outcome | None) -> CheckResult:
    if outcome is None:
        return CheckResult("backup-bucket", SKIP, "no backup bucket given (--backup-bucket, or stack output "
                                                  "backupBucket)")
    if not outcome.ok:
        error = outcome.error
        message = getattr(error, "response", {}).get("Error", {}).get("Message") if hasattr(error, "response") \
            else None
        return CheckResult("backup-bucket", FAIL, f"s3://{target.backup_bucket} is not writable: "
                                                  f"{message or reason(outcome)}")
    return CheckResult("backup-bucket", PASS, f"s3://{target.backup_bucket}: wrote and deleted {outcome.value}")
