"""`e2p load`: a burst of events through the local pipeline, and what became of every one.

- world.py: the in-process moto world (token secret, dead-letter queue, idempotency table) and
  the handler settings for it; shared with the functional reliability tests.
- source.py: the records, real sample events cycled, each under a fresh EventBridge id.
- mapping.py: the SQS event source mapping, with several invocations at once.
- tally.py: what the local Panther received, counted per event id and per message.
- runner.py: all of it together, and the report.
"""
