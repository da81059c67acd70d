"""The host:port targets a rendered prometheus.yml makes Prometheus scrape: static_configs as listed, and
ec2_sd_configs (AWS, components/monitoring/scrape.py Ec2Discovery) resolved as Prometheus would against the
stack's planned machines: the running instances whose Name tag (<stack>-<server>) matches a filter's patterns.
Every target of a job, listed or discovered, is relabelled by the job's rules, as Prometheus does (the server label
from the Name tag, then __address__ from it); `scrape_labels` gives the labels too."""
from __future__ import annotations

import fnmatch
import re
from typing import Any


def _relabel(rules: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, str]:
    for rule in rules:  # Prometheus's default action: replace; regexes are anchored
        value = ";".join(labels.get(name, "") for name in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if match:
            labels[rule["target_label"]] = match.expand(rule.get("replacement", "$1").replace("${1}", r"\1")
                                                         .replace("$1", r"\1"))
    return labels


def scrape_labels(config: dict[str, Any], *, stack: str,
                  servers: list[tuple[str, str]]) -> list[tuple[str, dict[str, str]]]:
    """(job, labels after relabelling) of every target; `servers`: (server name, Role tag) of the stack's Neo4j
    machines."""
    found = []
    for job in config.get("scrape_configs") or []:
        rules = job.get("relabel_configs", [])
        for group in job.get("static_configs", []):
            found += [(job["job_name"], _relabel(rules, {**group.get("labels", {}), "__address__": target}))
                      for target in group["targets"]]
        for discovery in job.get("ec2_sd_configs", []):
            patterns = next(f["values"] for f in discovery["filters"] if f["name"] == "tag:Name")
            for name, role in servers:
                tag = f"{stack}-{name}"
                if any(fnmatch.fnmatchcase(tag, pattern) for pattern in patterns):
                    labels = {"__meta_ec2_tag_Name": tag, "__meta_ec2_tag_Role": role,
                              "__address__": f"10.0.0.1:{discovery['port']}"}
                    found.append((job["job_name"], _relabel(rules, labels)))
    return found


def scrape_targets(config: dict[str, Any], *, stack: str, servers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(job, host:port) of every target; `servers`: (server name, Role tag) of the stack's Neo4j machines."""
    return [(job, labels["__address__"]) for job, labels in scrape_labels(config, stack=stack, servers=servers)]
