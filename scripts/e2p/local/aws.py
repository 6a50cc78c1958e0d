"""The embedded local AWS: a moto 5.2.5 server in this process, made faithful to AWS.

    with LocalAws() as local:
        events = boto3.client(
            "events",
            endpoint_url=local.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",        # any fake credentials: the server
            aws_secret_access_key="testing",    # never checks signatures
        )

Clients reach it with `endpoint_url` and fake credentials; nothing here reads or changes
process-wide settings (no MOTO_ACCOUNT_ID, no AWS_* variables), so real AWS use in the same
process is unaffected. Requests run as moto's default account (123456789012) unless the client
uses credentials from `sts.assume_role(RoleArn="arn:aws:iam::<account>:role/<any>", ...)`: moto
maps those credentials to <account>, per client, thread-safe. That is how the local mode acts as
the management, central and member accounts.

`LocalAws(fidelity=False)` serves plain moto (the fidelity patches stay off for its requests),
for tests that prove moto still shows a gap. All servers in one process share moto's state.
What AWS would silently drop (an undeliverable event without a DLQ) is counted in
`fidelity_log`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from e2p.local.fidelity import account as account_regions
from e2p.local.fidelity import install_cloudformation, install_core, switch
from e2p.local.fidelity.events import emit_aws_event
from e2p.local.fidelity.record import FIDELITY_LOG, FidelityLog

__all__ = ["DEFAULT_ACCOUNT_ID", "LocalAws", "emit_aws_event"]

DEFAULT_ACCOUNT_ID = "123456789012"
LOOPBACK = "127.0.0.1"
CLOUDFORMATION = "cloudformation"


class _QuietRequestHandler(MotoRequestHandler):
    """No access log on stderr: a local run would print a line for every AWS call."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        return None


class _ModeServer(ThreadedMotoServer):
    """ThreadedMotoServer whose requests run in a fixed fidelity mode."""

    def __init__(self, ip_address: str, port: int, faithful: bool) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._faithful = faithful

    def _create_backend_app(self, service: str) -> Any:
        # moto builds a service's app on the first request to it: the moment to patch CloudFormation.
        if self._faithful and service == CLOUDFORMATION:
            install_cloudformation()
        return create_backend_app(service)  # type: ignore[arg-type]

    def _server_entry(self) -> None:
        app = switch.ModeMiddleware(DomainDispatcherApplication(self._create_backend_app), self._faithful)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=_QuietRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class LocalAws:
    """A moto server on 127.0.0.1 (a free port by default), faithful unless `fidelity=False`."""

    def __init__(self, *, fidelity: bool = True, port: int = 0) -> None:
        self.fidelity = fidelity
        if fidelity:
            install_core()
        self._server = _ModeServer(LOOPBACK, port, fidelity)
        self._started = False

    def start(self) -> LocalAws:
        if not self._started:
            self._server.start()
            self._started = True
        return self

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def fidelity_log(self) -> FidelityLog:
        return FIDELITY_LOG

    def reset(self) -> None:
        """Forget every resource in every account and region (shared by all servers), and the log."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        FIDELITY_LOG.clear()
        account_regions.reset()

    def stop(self) -> None:
        if self._started:
            self._server.stop()
            self._started = False

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
