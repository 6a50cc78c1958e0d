"""`python -m e2p` runs the CLI, for environments without the console script."""

from e2p.cli import run

run()
