"""Session Manager, the only way onto a machine (no SSH): every session's commands and output go to a CloudWatch
log group of the stack, through a session document of the stack that says so.

Operators start sessions with it: `aws ssm start-session --target <instance> --document-name <sessionDocument>`
(the stack output names it). The machines' roles get Session Manager's own actions and the right to write to this
log group only (machine.py), not the managed AmazonSSMManagedInstanceCore, whose ssm:GetParameter* on "*" reads
every Parameter Store value in the region.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# Long enough to investigate an incident found late; CloudWatch Logs accepts only its fixed values (365 is one).
SESSION_LOG_RETENTION_DAYS = 365


@dataclass(frozen=True)
class SessionLoggingArgs:
    stack: str


def session_document(log_group_name: str) -> dict:
    """The Session document (schema 1.0, SessionManagerRunShell's): stream every session to the log group and
    refuse to start one when it cannot."""
    return {
        "schemaVersion": "1.0",
        "description": "neo4j-cluster: shell sessions logged to CloudWatch Logs",
        "sessionType": "Standard_Stream",
        "inputs": {
            "cloudWatchLogGroupName": log_group_name,
            "cloudWatchStreamingEnabled": True,
            "cloudWatchEncryptionEnabled": False,  # true needs a KMS-encrypted group (not yet)
            "idleSessionTimeout": "20",
            "runAsEnabled": False,
            "shellProfile": {"linux": "exec bash -l"},
        },
    }


class SessionLogging(pulumi.ComponentResource):
    log_group_arn: pulumi.Output[str]
    document_name: pulumi.Output[str]

    def __init__(self, name: str, args: SessionLoggingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:SessionLogging", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group_name = f"/neo4j-cluster/{args.stack}/sessions"
        group = aws.cloudwatch.LogGroup(f"{name}-sessions", name=group_name,
                                        retention_in_days=SESSION_LOG_RETENTION_DAYS, opts=child)
        document = aws.ssm.Document(f"{name}-session", name=f"neo4j-cluster-{args.stack}-session",
                                    document_type="Session", document_format="JSON",
                                    content=json.dumps(session_document(group_name)), opts=child)
        self.log_group_arn = group.arn
        self.document_name = document.name
        self.register_outputs({"logGroupArn": self.log_group_arn, "documentName": self.document_name})
