"""Backups of Neo4j to S3 and restores from them: the logic behind scripts/backup.py and scripts/restore.py.

Layout in the bucket (one prefix per run, the manifest written last):

    s3://<bucket>/<stack>/<database>/<UTC timestamp>/<file>            the dump or backup artifact
    s3://<bucket>/<stack>/<database>/<UTC timestamp>/manifest.json     size, sha256, version, counts, type

A prefix without a valid manifest is incomplete and is never chosen for a restore.

Modules:
  commands    backup.py's and restore.py's help, options and results (their main)
  options     the options both share, turned into a Job (bucket, local Neo4j, neo4j-admin)
  layout      timestamps, object keys, the manifest, which backup a restore picks (pure)
  point_in_time   restore.py --until: its value and the chain that reaches it, for --restore-until (pure)
  retention   which local staging chains to delete (pure, every local manifest parsed and checked) and deleting them
  source      which server an online backup comes from: one hosting the database, from the cluster's view (pure)
  s3          streaming multipart upload, verified download, listing
  server      the local Neo4j over the runtime's Bolt client (facts, counts, waiting) and stop/start
  admin       running neo4j-admin (argument lists per line are the VersionLine's) and its processes
  scratch     the restore drill's throw-away server: its neo4j.conf, ports and process
  dbms_backup   backup.py --database '*' (or several): every database the server lists and `system`, each by
              make_backup's procedure (Community: every dump within one stop), then the run manifest (run_manifest:
              <stack>/runs/<timestamp>.json, pure: which databases, each one's prefix and status, composites, aliases)
  make_backup / restore_backup   the two procedures; a backup's steps, each over one BackupRun (backup_run):
              dump (Community, offline), online (Enterprise: local chains, chains.py; 4.4 folder; straight to S3),
              artifact_check (the consistency check), publish (upload, report, manifest last), staging (room)
  cluster_restore   restore.py --cluster's procedure over cluster_plan (pure: state, plan), cluster_execute (run
              it, roll back), cluster_text (in words) and remote (the per-server steps over SSM: 4.4's DROP /
              restore on each core / CREATE, and system offline on every line); cluster_all (--all: every
              database of a run manifest, then its composites and aliases)

What it uses of the runtime: versions, errors, cli, bolt, queries, facts; nothing of check, security
or diagnose, so the archive components/tooling.py ships to the backup server runs with boto3 and the
neo4j driver alone.
"""
