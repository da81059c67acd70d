"""The database steps of `make migrate` run for real (issue 24, item 3): a MigrationPlan's (migrate.py) drops and
CREATE DATABASE on TO over Bolt, and each database's shell steps on TO's seed server through a RemoteShell (the
cluster restore's: backup/remote.py, SsmShell over AWS Systems Manager's AWS-RunShellScript, the instance found by
its Name tag `<stack>-<server>`).

Per database, in order: fetch (the 4.4 backup, its sha256 checked), restore, migrate, dump, upload (the seed with its
sha256 as object metadata), then CREATE DATABASE … OPTIONS {existingData: 'use', seedURI: …} WAIT on TO's system
database. Each step is printed before it runs. A re-run skips what is done: a database TO already has from its seed
(plan: `created`), a seed already in TO's bucket (`seeded`: only the CREATE is left). A failure stops the run with
the database and the step named; FROM is never sent anything (no step runs on a 4.4 server), and the databases TO
already created stay as they are.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backup.remote import RemoteShell
from ..bolt import BoltError
from .migrate import CREATE, MigrationError, MigrationPlan

Log = Callable[[str], None]
Write = Callable[[str], Any]  # a statement on TO's system database


def check_runnable(plan: MigrationPlan) -> None:
    """Refuse before anything is sent: a database with no verified 4.4 backup in FROM's bucket (a new online
    backup would run on a 4.4 server, which make migrate never touches)."""
    missing = [d.database for d in plan.databases if not d.created and not d.seeded and not d.commands]
    if missing:
        raise MigrationError(f"database {', '.join(missing)}, step fetch: no verified 4.4 backup in "
                             f"{plan.from_stack}'s bucket; run `make backup STACK={plan.from_stack}` (it backs up "
                             f"with --include-metadata=all), then make migrate again (nothing was changed)")


def run_database_steps(plan: MigrationPlan, shell: RemoteShell, write: Write, log: Log, *,
                       timeout: float = 3600) -> list[str]:
    """Runs the plan's database steps; returns what was done, one line each. Raises MigrationError naming the
    database and the step on the first failure."""
    check_runnable(plan)
    done: list[str] = []
    created: list[str] = [d.database for d in plan.databases if d.created]

    def failed(database: str, step: str, why: str) -> MigrationError:
        kept = f"on {plan.to_stack} already created: {', '.join(created)}" if created else \
            f"no database created on {plan.to_stack} yet"
        return MigrationError(f"database {database}, step {step} failed: {why} ({plan.from_stack} unchanged; {kept}, "
                              f"left as they are; run make migrate again to go on from here)")

    for statement in plan.drops:
        log(f"on {plan.to_stack}: {statement}")
        try:
            write(statement)
        except BoltError as error:
            raise failed(statement.split("`")[1], "drop", error.message) from None
        done.append(statement)
    total = len(plan.databases)
    for number, db in enumerate(plan.databases, 1):
        if db.created:
            log(f"database {number}/{total} {db.database}: already on {plan.to_stack} from {db.seed_uri}: skipped")
            continue
        if db.seeded:
            log(f"database {number}/{total} {db.database}: seed {db.seed_uri} already in the bucket (sha256 "
                f"{db.seeded}): not made again")
        else:
            for step, command in db.commands:
                log(f"database {number}/{total} {db.database}, step {step} on {db.server}: {command}")
                try:
                    code, out, err = shell.run(db.server, [command], timeout)
                except KeyboardInterrupt:  # exit 130 (cli.run), after saying where it stopped
                    log(str(failed(db.database, step, f"interrupted; the command may still be running on "
                                                      f"{db.server} (SSM does not stop it)")))
                    raise
                except Exception as error:  # an API error (SSM, EC2): the same stop as a failed command
                    raise failed(db.database, step, f"{type(error).__name__}: {error}") from None
                if code != 0:
                    said = " ".join((err or out or "").split())[-400:]
                    raise failed(db.database, step, f"exit {code} on {db.server}: {said or 'no output'}")
                done.append(f"{db.database}: {step} on {db.server}")
        log(f"database {number}/{total} {db.database}, step {CREATE} on {plan.to_stack}: {db.create}")
        try:
            rows = write(db.create) or []
        except BoltError as error:
            raise failed(db.database, CREATE, error.message) from None
        refused = [r for r in rows if r.get("success") is False]  # WAIT's rows: address, state, message, success
        if refused:
            raise failed(db.database, CREATE, "; ".join(f"{r.get('address')}: {r.get('state')} {r.get('message')}"
                                                         for r in refused))
        created.append(db.database)
        done.append(db.create)
    return done
