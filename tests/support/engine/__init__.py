"""The real Pulumi engine for the tests (issue 22): the CLI built from the Go module proxy (cli.py), stand-in
resource providers for the packages this machine cannot build (standin_provider.py) and the program run
through the Automation API (stack.py)."""
