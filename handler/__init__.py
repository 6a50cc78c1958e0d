"""Events2Panther Lambda: EventBridge envelopes from an SQS buffer -> Panther events."""
