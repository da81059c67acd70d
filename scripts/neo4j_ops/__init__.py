"""The operator runtime: the one package behind every command in scripts/ (check, security, diagnose,
backup, restore, and the rollout to come). The scripts there only put the repository root on sys.path
and call a `main` here.

Shared with the deploy program (components/ imports nothing else of scripts/; its own __init__ lists it):
  shared/    versions (the one version-line rule, 4.4 / 5 / 2025), errors (the one error family,
             UsageError → exit 2, OperationError → exit 1, describe(error))

Shared by every command (and shipped to the backup server with the backup part):
  cli        the one runner: parsers, exit codes 0/1/2/130, --json, progress lines
  bolt       the one Bolt client (and HTTP for metrics): Transport → Client → Reply, BoltError in
             operator terms ("connection refused", "authentication failed for user neo4j")
  queries    every Cypher statement the tools send, by name (recordings are filed under the names)
  facts      who a server is: ServerSpec, ServerFacts, gather(), count_graph()
  backup/    backups to S3 and restores from them (backup.py, restore.py; its own __init__ lists it)

The cluster commands (not shipped):
  target       what to check: servers, URIs, expectations, from stack outputs or the command line
  cluster      pure functions over every server's facts: writers, topology, database states
  cluster_cli  --stack/--uri/... arguments and the life of a report over Bolt
  parallel     tasks at once, each with a deadline, without ever hanging the process
  recorded     the Bolt interface answered from recordings (tests/fixtures/enterprise/), and a recorder
  checks/      the post-deploy checks (its __init__ lists its modules)
  security/    idempotent users, roles and privileges (its __init__ lists its modules)
  diagnose/    the troubleshooting guide as findings with suggested actions
  scaling/     scale out and in: the Cypher that adds and removes servers safely (its __init__ lists its modules)

The deploy program's commands (no Bolt):
  plan/         the offline plan: the program under recording mocks → build/<stack>/ (its __init__ lists it)
  config_table  the README's config reference table from components/settings.KEYS

Why here, scripts/neo4j_ops/: the commands are scripts/, and the repository's top level is fixed. It is
imported as `scripts.neo4j_ops` from the repository root only (scripts/ is a package, not a sys.path
root), so there is one name per module. Inside, imports are relative: the package does not care where
it is mounted. components/ is not the place: it is the deploy program's core, and the backup server
unpacks only a slice of scripts/ (components/tooling.py packs it, into /usr/local/lib/neo4j-cluster/
scripts), so what both sides share lives here, in shared/, and components/ imports it.
"""
