"""One module per e2p command."""
