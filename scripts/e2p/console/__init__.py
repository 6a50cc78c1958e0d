"""Terminal plumbing of the CLI: options, output, exit codes, per-target results."""
