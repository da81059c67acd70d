"""The offline plan (scripts/plan.py, `make plan STACK=<s>`): run the program under recording Pulumi mocks,
write build/<stack>/plan.json and every rendered file, and print a summary a reviewer reads.

  document  plan(): the stack file → the engine's view of it → the recorded run → plan.json and the files
  pending   what `pulumi up` holds back on running servers, and what of it differs from an earlier plan
  summary   the human summary: servers, memory per role, resources per component, backup copies, secrets
  command   the command line (argparse, exit codes); the only module that imports pulumi at the top

This __init__ imports nothing: tests read document's constants without Pulumi, and the entry point imports
command itself.
"""
