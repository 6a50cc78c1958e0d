"""The `e2p` entry point: wiring only. Each command lives in its own module under e2p.commands."""

from __future__ import annotations

import click

from e2p.commands import deploy_cmd, map_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="events2panther")
def main() -> None:
    """Events2Panther: every AWS event of an organisation in one Panther console."""


main.add_command(map_cmd.map_command)
main.add_command(deploy_cmd.deploy_command)
