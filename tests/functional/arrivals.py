"""A stand-in for the central function in tests where moto cannot run it: it takes each message off
the buffer queue and runs the handler's own test-event log line (handler.pipeline._log_test_event)
with the local mode's log shipper attached, so the line lands in the function's log group as Lambda
would put it there. Mapping and delivery have nothing to do with arrival, so they are left out."""

from __future__ import annotations

import logging
import threading
import time

from cli_org import Stage

from e2p.local.function_logs import LogGroupShipper
from handler import pipeline
from handler.constants import TEST_EVENT_SOURCE
from handler.envelope import envelope_from_text


class ArrivalLogger:
    def __init__(self, stage: Stage) -> None:
        outputs = stage.central_outputs()
        self._sqs = stage.central("sqs")
        self._queue = outputs["BufferQueueUrl"]
        self._shipper = LogGroupShipper(stage.central("logs"), f"/aws/lambda/{outputs['FunctionName']}")
        self._logger = logging.getLogger(pipeline.__name__)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ArrivalLogger:
        self._level = self._logger.level
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self._shipper)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._logger.removeHandler(self._shipper)
        self._logger.setLevel(self._level)

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = self._sqs.receive_message(
                QueueUrl=self._queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            for message in answer.get("Messages", []):
                envelope = envelope_from_text(message["Body"])
                if envelope.source == TEST_EVENT_SOURCE:
                    pipeline._log_test_event(envelope)
                self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
            self._shipper.ship()
            time.sleep(0.05)
