"""Operator actions, one module each: deploy, status, teardown, replay, test events, coverage."""
