"""The one command-line runner of the operator commands: parsers, exit codes, progress and results.

Every command (check, security, diagnose, backup, restore) exits the same way:
  0 done (every check that ran passed, the backup is complete, ...)
  1 a check failed, or the work did (OperationError: BackupError, BoltError, ...)
  2 bad options, configuration or input (UsageError; argparse's own errors too, in one line)
  130 interrupted (Ctrl-C, or SIGTERM from systemd), after the clean-up ran
An error is one message on standard error, never a traceback; set NEO4J_OPS_DEBUG=1 to see one for
an error nobody expected. Progress goes to standard error, the result to standard output (text, or
JSON with --json).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .shared.errors import InterruptedRunError, OperationError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEBUG_ENV = "NEO4J_OPS_DEBUG"


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line message naming the option (its default also exits 2, after
    the whole usage block, which buries that line)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


class DefaultsFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default when there is one worth showing and the help does not already say it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" not in text and action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
            text += " (default: %(default)s)"
        return text


def parser(prog: str, description: str, epilog: str, *, show_defaults: bool = False) -> Parser:
    formatter = DefaultsFormatter if show_defaults else argparse.RawDescriptionHelpFormatter
    return Parser(prog=prog, description=description.strip(), epilog=epilog, formatter_class=formatter)


def run(prog: str, body: Callable[[], int]) -> int:
    """Run a command's body and return its exit status: the body's own, or what its error means."""
    previous = _catch_sigterm()
    try:
        return body()
    except UsageError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, InterruptedRunError) as error:
        print(f"{prog}: interrupted" + (f": {error}" if str(error) else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    except OperationError as error:
        print(f"{prog}: FAILED: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # a bug or an unexpected library error: say what, no traceback
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"{prog}: FAILED: unexpected {type(error).__name__}: {error} (set {DEBUG_ENV}=1 for a traceback)",
              file=sys.stderr)
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise InterruptedRunError("stopped by SIGTERM")


def _catch_sigterm():
    """SIGTERM raises InterruptedRunError, so `finally` blocks clean up (abort an upload, start Neo4j again)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str), flush=True)


def print_report(report: Any, as_json: bool, render: Callable[[Any], str], *, failed: bool = False) -> int:
    """A command's report (an object with to_json(), or a plain dict) as --json or as `render` words it;
    the exit status: 1 when the report says something failed, else 0."""
    if as_json:
        print_json(report.to_json() if hasattr(report, "to_json") else report)
    else:
        print(render(report), flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def logger(prog: str, quiet: bool) -> Callable[[str], None]:
    """Progress lines on standard error: `<prog> [  12.3s] <message>` (the journal keeps both streams)."""
    start = time.monotonic()

    def log(message: str) -> None:
        if not quiet:
            print(f"{prog} [{time.monotonic() - start:6.1f}s] {message}", file=sys.stderr, flush=True)
    return log


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    out = [line]
    for row in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out)
