"""The `e2p` entry point: wiring only. Each command lives in its own module under e2p.commands."""

from __future__ import annotations

import click

from e2p.commands import (
    bench_cmd,
    demo_cmd,
    deploy_cmd,
    load_cmd,
    map_cmd,
    replay_cmd,
    send_test_event_cmd,
    status_cmd,
    teardown_cmd,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="events2panther")
def main() -> None:
    """Events2Panther: every AWS event of an organisation in one Panther console."""


main.add_command(map_cmd.map_command)
main.add_command(deploy_cmd.deploy_command)
main.add_command(bench_cmd.bench_command)
main.add_command(status_cmd.status_command)
main.add_command(send_test_event_cmd.send_test_event_command)
main.add_command(replay_cmd.replay_command)
main.add_command(teardown_cmd.teardown_command)
main.add_command(demo_cmd.demo_command)
main.add_command(load_cmd.load_command)
