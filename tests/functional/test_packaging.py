"""The wheel an operator installs (pip or pipx) carries everything `e2p` reads, and works from any
directory: templates, the StackSet definition, the handler package and the bundled sample events.

One wheel is built per session (pip, isolated build, as `pip install .` does) and unpacked into a
folder that stands in for site-packages; the CLI then runs from another folder with no checkout
in sight.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional

REPO = Path(__file__).resolve().parents[2]
BUNDLE = "e2p/_project"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (path,) = out.glob("events2panther-*.whl")
    return path, build.stdout + build.stderr


@pytest.fixture(scope="module")
def installed(wheel: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked as pip would install it (a wheel is a zip of the site-packages tree)."""
    site = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(wheel[0]) as archive:
        archive.extractall(site)
    return site


def names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def repo_files(folder: str, pattern: str) -> set[str]:
    return {
        p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob(pattern) if "__pycache__" not in p.parts
    }


def test_the_wheel_builds_without_warnings(wheel: tuple[Path, str]) -> None:
    _path, log = wheel
    assert not re.search(r"(?i)warning|deprecat", log), log


def test_the_wheel_carries_templates_stackset_definition_and_sample_events(wheel: tuple[Path, str]) -> None:
    content = names(wheel[0])
    for template in ("central/template.yaml", "central/org-lookup-role.yaml", "member/template.yaml"):
        assert f"{BUNDLE}/{template}" in content
    assert f"{BUNDLE}/stacksets/stackset.yaml" in content
    events = repo_files("tests/events", "*.json")
    assert len(events) > 100
    assert {f"{BUNDLE}/{name}" for name in events} <= content
    assert f"{BUNDLE}/tests/events/MANIFEST.tsv" in content  # the samples' sources and licences


def test_the_wheel_carries_every_module_and_data_file_of_the_handler_and_the_cli(
    wheel: tuple[Path, str],
) -> None:
    content = names(wheel[0])
    handler = {n for n in repo_files("handler", "*") if (REPO / n).is_file() and not n.endswith(".pyc")}
    cli = {
        n.removeprefix("scripts/")
        for n in repo_files("scripts/e2p", "*")
        if (REPO / n).is_file() and not n.endswith(".pyc")
    }
    assert handler - content == set()
    assert cli - content == set()


def test_the_metadata_declares_an_spdx_licence_and_a_local_extra_moto_really_has(
    wheel: tuple[Path, str],
) -> None:
    with zipfile.ZipFile(wheel[0]) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "local" in metadata.get_all("Provides-Extra")
    requires = metadata.get_all("Requires-Dist")
    (moto,) = [r for r in requires if r.startswith("moto[")]
    assert 'extra == "local"' in moto
    wanted = set(moto[moto.index("[") + 1 : moto.index("]")].split(","))
    offered = set(importlib.metadata.metadata("moto").get_all("Provides-Extra"))
    assert wanted - offered == set()
    # The operator's commands need no local AWS: moto is not a plain dependency.
    assert all("extra ==" in r for r in requires if r.startswith(("moto", "trustme")))


def run_installed(site: Path, cwd: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Python `code` with the unpacked wheel first on the path, in `cwd`, no E2P_* variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("E2P_")}
    environ["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


E2P = "import sys; from e2p.cli import run; sys.argv[0] = 'e2p'; run()"


def test_an_installed_e2p_finds_its_files_from_any_directory(installed: Path, tmp_path: Path) -> None:
    code = (
        "import e2p, json; from e2p.config.project import locate_project; p = locate_project(); "
        "print(json.dumps([e2p.__file__, str(p.root), str(p.handler_package), str(p.build_dir)]))"
    )
    answer = run_installed(installed, tmp_path, code)
    assert answer.returncode == 0, answer.stderr
    module, root, handler, build = json.loads(answer.stdout)
    assert Path(module).is_relative_to(installed)  # the wheel's e2p, not the checkout's
    assert Path(root) == installed / BUNDLE
    assert Path(handler) == installed / "handler"
    assert not Path(build).is_relative_to(installed)  # build output stays out of site-packages


def test_an_installed_e2p_maps_its_bundled_sample_events_from_another_directory(
    installed: Path, tmp_path: Path
) -> None:
    events = installed / BUNDLE / "tests" / "events" / "guardduty"
    answer = run_installed(installed, tmp_path, E2P, "map", str(events), "--output", "json")
    assert answer.returncode == 0, answer.stderr
    results = [json.loads(line) for line in answer.stdout.splitlines()]
    assert results and all(r["status"] == "mapped" for r in results)


def test_without_the_local_extra_demo_says_what_to_install_and_exits_2(
    installed: Path, tmp_path: Path
) -> None:
    # GIVEN moto cannot be imported (as after a plain `pip install events2panther`)
    code = "import sys; sys.modules['moto'] = None; " + E2P
    # WHEN each local command runs
    for command in ("demo", "load", "bench"):
        answer = run_installed(installed, tmp_path, code, command, "--output", "json")
        # THEN one line says which extra to install, with no traceback and nothing on stdout
        assert answer.returncode == 2, (command, answer.stderr)
        assert "events2panther[local]" in answer.stderr
        assert "Traceback" not in answer.stderr
        assert answer.stdout == ""
