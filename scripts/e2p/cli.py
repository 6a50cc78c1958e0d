"""The `e2p` entry point: wiring only. Each command lives in its own module under e2p.commands."""

from __future__ import annotations

from pathlib import Path

import click

from e2p.commands import (
    bench_cmd,
    demo_cmd,
    deploy_cmd,
    load_cmd,
    map_cmd,
    preflight_cmd,
    replay_cmd,
    send_test_event_cmd,
    status_cmd,
    teardown_cmd,
    verify_cmd,
)
from e2p.console.logs import LOG_FILE_VARIABLE, guard_stdout, route_logs, set_log_target


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="events2panther")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    envvar=LOG_FILE_VARIABLE,
    help="Append library and handler logs to this file instead of stderr (stdout is only the result).",
)
def main(log_file: Path | None) -> None:
    """Events2Panther: every AWS event of an organisation in one Panther console.

    Output: the result (a table, or JSON with --output json) on stdout; progress, warnings and logs
    on stderr. Exit codes, the same in every command: 0 ok; 1 a step failed or the deployment is
    unhealthy (see the table); 2 usage, config file, project files, credentials or a missing extra
    (nothing was attempted).
    """
    if log_file is not None:
        # Line-buffered, kept open for the life of the process (the logging handlers hold it).
        set_log_target(log_file.open("a", encoding="utf-8", buffering=1))
    route_logs()


main.add_command(map_cmd.map_command)
main.add_command(deploy_cmd.deploy_command)
main.add_command(bench_cmd.bench_command)
main.add_command(status_cmd.status_command)
main.add_command(send_test_event_cmd.send_test_event_command)
main.add_command(replay_cmd.replay_command)
main.add_command(teardown_cmd.teardown_command)
main.add_command(demo_cmd.demo_command)
main.add_command(load_cmd.load_command)
main.add_command(preflight_cmd.preflight_command)
main.add_command(verify_cmd.verify_command)


def run() -> None:
    """The `e2p` console script (and `python -m e2p`): the group, with every log handler kept off
    stdout for the life of the process. Tests call `main` and keep their own logging as it is."""
    guard_stdout()
    main(prog_name="e2p")
