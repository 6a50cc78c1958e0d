"""The operator's configuration: the e2p.toml settings, their validators, where the project's files are."""
