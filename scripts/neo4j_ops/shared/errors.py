"""The one error family of the operator commands, and the one way to put any error in words.

    OpsError                  what a command reports in words, never as a traceback
      UsageError              bad options, configuration or input, found before the work: exit 2
      OperationError          the work failed (a check could not run, a backup, a restore): exit 1
        BackupError           ... while backing up or restoring (backup/)
        BoltError             ... a Bolt or HTTP call, with the `kind` an operator acts on (bolt.py)
        InterruptedRunError   SIGTERM (Ctrl-C is KeyboardInterrupt), after the clean-up ran: both exit 130

cli.run maps them to those exit codes. `describe(error)` is the one line for any exception: ours as
raised, an AWS error as "Code: Message", a driver error by its message, anything else with its type.
"""
from __future__ import annotations


class OpsError(Exception):
    """An error the command reports as its message."""


class UsageError(OpsError):
    """Bad or missing input: the command prints the message and exits 2."""


class OperationError(OpsError):
    """The work itself failed: the command prints the message and exits 1."""


class BackupError(OperationError):
    """The backup, restore or drill failed while doing its work."""


class InterruptedRunError(OperationError):
    """SIGTERM or Ctrl-C: clean-up ran (multipart upload aborted, server started again); exit 130."""


def describe(error: BaseException) -> str:
    """What went wrong, in words, without a traceback."""
    if isinstance(error, OpsError):
        return str(error)
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore's ClientError
        code = response["Error"].get("Code", "?")
        message = response["Error"].get("Message", "")
        return f"{code}: {message}".rstrip(": ")
    message = getattr(error, "message", None)  # the neo4j driver's errors
    if message:
        return " ".join(str(message).split())
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
