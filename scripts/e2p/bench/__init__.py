"""`e2p bench`: how fast the handler maps and delivers, against what, and at what cost.

One module per measurement, each a plain function over a `Workload` (the same real sample events
for every figure) and a `Target` (where the events go):

- `corpus`, `workload`: the sample events, and the records and Panther bodies built from them.
- `receiver`, `target`: the local Panther in a process of its own (so that its CPU is not the
  client's), or a real Panther at `--url`.
- `handler_run`: the handler fed SQS batches through `handler.app.handle` (`events_per_s`).
- `naive`, `limit`: a new connection per event one at a time; a minimal keep-alive client.
- `mapping`, `cold_start`, `peak_rss`: mapping alone, fresh interpreters, a 10,000-record batch.
- `cost`, `report`, `runner`: the GB-s figure, the JSON line and the table, the orchestration.

Nothing here is imported by `e2p.cli` at start-up: the bench command imports it when it runs.
"""
