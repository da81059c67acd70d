"""Backups of Neo4j to S3 and restores from them: the logic behind scripts/backup.py and scripts/restore.py.

Layout in the bucket (one prefix per run, the manifest written last):

    s3://<bucket>/<stack>/<database>/<UTC timestamp>/<file>            the dump or backup artifact
    s3://<bucket>/<stack>/<database>/<UTC timestamp>/manifest.json     size, sha256, version, counts, type

A prefix without a valid manifest is incomplete and is never chosen for a restore.

Modules:
  layout      timestamps, object keys, the manifest, which backup a restore picks (pure)
  scratch     the restore drill's throw-away server: its neo4j.conf and ports (pure)
  retention   which local staging chains to delete (pure) and deleting them
  s3          streaming multipart upload, verified download, listing
  neo4j       running neo4j-admin, stopping/starting the server, counting over Bolt
  make_backup / restore_backup   the two procedures
  cli         options both scripts share, progress output, exit codes
"""
