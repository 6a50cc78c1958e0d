"""The central account's scheduled work: a second, small function driven by EventBridge schedule rules."""
