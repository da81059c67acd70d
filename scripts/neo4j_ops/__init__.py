"""The logic behind scripts/check.py, scripts/security.py and scripts/diagnose.py.

  bolt       one small client interface over Bolt (and HTTP for metrics), the real one on the
             neo4j driver, and errors turned into words ("connection refused", "authentication
             failed for user neo4j")
  recorded   the same interface answered from recorded responses (tests/fixtures/enterprise/),
             and a recorder that writes such files from a live cluster
  queries    every Cypher statement the tools send, by name
  target     what to check: servers, URIs, expectations, from stack outputs or the command line
  cluster    facts gathered from each server, and pure functions over them (writers, topology, lag)
  checks     the post-deploy checks and their report
  security   idempotent users, roles and privileges
  diagnose   the troubleshooting guide as findings with suggested actions
  parallel   run tasks at once, each with a deadline, without ever hanging the process

The scripts in scripts/ only parse arguments and call `main` here.
"""
