"""The Lambda zip: reproducible to the byte, cached on its inputs, with the right dependencies."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from cli_org import REPO

from e2p.aws.cfn_template import function_runtime, load_template
from e2p.exceptions import PackagingError
from e2p.packaging.lambda_package import (
    PackageSpec,
    build_package,
    spec_from_environment,
)
from e2p.packaging.lock_file import Lock, parse_lock

pytestmark = pytest.mark.functional

# A runtime whose Python is this interpreter: the packager compiles the bytecode with it.
THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
THIS_RUNTIME = f"python{THIS_PYTHON}"
# PEP 552 flags: hash-based (bit 0), source not checked (bit 1 clear).
UNCHECKED_HASH_FLAGS = 0b01


def fake_lock(version: str = "1", platform: str = "manylinux2014_aarch64", python: str = "3.13") -> Lock:
    return parse_lock(
        f"# platform: {platform}\n# python: {python}\nfakedep=={version} --hash=sha256:{'0' * 64}\n"
    )


def copy_handler(destination: Path) -> Path:
    shutil.copytree(REPO / "handler", destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


class FakePip:
    """Records installs and writes a tiny package where pip would."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.requirements: list[str] = []

    def __call__(self, arguments: Sequence[str]) -> None:
        self.calls.append(list(arguments))
        if "--requirement" in arguments:
            self.requirements.append(Path(arguments[arguments.index("--requirement") + 1]).read_text())
        target = Path(arguments[arguments.index("--target") + 1])
        (target / "fakedep").mkdir(parents=True)
        (target / "fakedep" / "__init__.py").write_text("VERSION = 1\n")
        (target / "bin").mkdir()
        (target / "bin" / "fakedep-cli").write_text("#!/some/local/python\n")


def test_two_builds_from_the_same_inputs_are_identical_to_the_byte(tmp_path: Path) -> None:
    # GIVEN two copies of the handler with different file times, built into separate caches
    first = copy_handler(tmp_path / "one" / "handler")
    second = copy_handler(tmp_path / "two" / "handler")
    for path in second.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    pip = FakePip()
    a = build_package(
        PackageSpec(first, THIS_RUNTIME, lock=fake_lock(python=THIS_PYTHON)), tmp_path / "cache-a", pip
    )
    b = build_package(
        PackageSpec(second, THIS_RUNTIME, lock=fake_lock(python=THIS_PYTHON)), tmp_path / "cache-b", pip
    )
    # THEN the zips, bytecode included, are the same bytes, hence the same S3 key
    assert a.bytecode == b.bytecode == ".".join(map(str, sys.version_info[:3]))
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.s3_key == b.s3_key
    assert not a.from_cache
    assert not b.from_cache


def test_the_zip_is_sorted_timestamp_free_and_holds_only_what_runs(tmp_path: Path) -> None:
    handler = copy_handler(tmp_path / "handler")
    (handler / "__pycache__").mkdir()
    stale = f"app.{sys.implementation.cache_tag}.pyc"
    (handler / "__pycache__" / stale).write_bytes(b"stale")
    built = build_package(
        PackageSpec(handler, THIS_RUNTIME, lock=fake_lock(python=THIS_PYTHON)), tmp_path / "cache", FakePip()
    )
    with zipfile.ZipFile(built.path) as archive:
        infos = archive.infolist()
        assert archive.read(f"handler/__pycache__/{stale}") != b"stale"
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert "handler/app.py" in names  # the function's Handler is handler.app.lambda_handler
    assert "fakedep/__init__.py" in names
    assert not [n for n in names if n.startswith("bin/")]
    # every module with its bytecode for the runtime's Python, where the import system looks, and
    # no other .pyc
    sources = {n for n in names if n.endswith(".py")}
    compiled = {n for n in names if n.endswith(".pyc")}
    assert compiled == {importlib.util.cache_from_source(n) for n in sources}
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}


def test_the_shipped_bytecode_is_what_the_runtime_runs(tmp_path: Path) -> None:
    # GIVEN a zip for a runtime of this interpreter's version, unpacked as Lambda does
    handler = copy_handler(tmp_path / "handler")
    built = build_package(PackageSpec(handler, THIS_RUNTIME, deps="none"), tmp_path / "cache")
    task = tmp_path / "task"
    with zipfile.ZipFile(built.path) as archive:
        archive.extractall(task)
    # THEN each .pyc is an unchecked-hash one of this version, for its source
    source = (task / "handler" / "constants.py").read_bytes()
    pyc = (task / importlib.util.cache_from_source("handler/constants.py")).read_bytes()
    assert pyc[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(pyc[4:8], "little") == UNCHECKED_HASH_FLAGS
    assert pyc[8:16] == importlib.util.source_hash(source)
    # AND the interpreter runs the shipped bytecode without compiling the source: a source broken
    # after packaging is not even read, in a read-only folder as /var/task
    (task / "handler" / "constants.py").write_text("raise SystemExit('the source was compiled')\n")
    for path in task.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        completed = subprocess.run(
            [sys.executable, "-c", "import handler.constants as c; print(c.PANTHER_MAX_BODY_BYTES)"],
            cwd=task,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(task)},
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        for path in task.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "4096"


def test_without_an_interpreter_of_the_runtime_version_the_zip_has_sources_only(tmp_path: Path) -> None:
    handler = copy_handler(tmp_path / "handler")
    # A runtime no machine has: no bytecode (a .pyc of another version would be ignored), said so
    built = build_package(PackageSpec(handler, "python3.99", deps="none"), tmp_path / "cache")
    assert built.bytecode is None
    assert "E2P_LAMBDA_PYTHON" in built.bytecode_note
    with zipfile.ZipFile(built.path) as archive:
        assert not [n for n in archive.namelist() if n.endswith(".pyc")]
    # An interpreter named explicitly must be of the runtime's version
    wrong = spec_from_environment(handler, "python3.99", "arm64", {"E2P_LAMBDA_PYTHON": sys.executable})
    with pytest.raises(PackagingError, match=r"python3\.99"):
        build_package(
            PackageSpec(handler, wrong.runtime, deps="none", python=wrong.python), tmp_path / "cache"
        )
    # and `none` turns bytecode off
    off = build_package(PackageSpec(handler, THIS_RUNTIME, deps="none", python="none"), tmp_path / "cache")
    assert off.bytecode is None


def test_dependencies_are_installed_once_per_recipe_for_the_function_platform(tmp_path: Path) -> None:
    handler = copy_handler(tmp_path / "handler")
    pip = FakePip()
    spec = PackageSpec(handler, runtime="python3.13", architecture="arm64", lock=fake_lock())
    build_package(spec, tmp_path / "cache", pip)
    again = build_package(spec, tmp_path / "cache", pip)
    assert len(pip.calls) == 1
    assert again.from_cache
    arguments = pip.calls[0]
    assert arguments[arguments.index("--platform") + 1] == "manylinux2014_aarch64"
    assert arguments[arguments.index("--python-version") + 1] == "3.13"
    assert "--only-binary=:all:" in arguments
    # Exactly the lock: every file checked against its hash, nothing else resolved, one index.
    assert {"--require-hashes", "--no-deps"} <= set(arguments)
    assert arguments[arguments.index("--index-url") + 1] == "https://pypi.org/simple"
    assert spec.lock is not None
    assert pip.requirements[0] == spec.lock.text
    # Another lock is another cache entry.
    build_package(PackageSpec(handler, runtime="python3.13", lock=fake_lock("2")), tmp_path / "cache", pip)
    assert len(pip.calls) == 2


def test_a_handler_change_gives_a_new_zip(tmp_path: Path) -> None:
    handler = copy_handler(tmp_path / "handler")
    spec = PackageSpec(handler, deps="none")
    before = build_package(spec, tmp_path / "cache")
    (handler / "app.py").write_text((handler / "app.py").read_text() + "\n# changed\n")
    after = build_package(spec, tmp_path / "cache")
    assert before.sha256 != after.sha256


def test_a_prebuilt_dependency_directory_is_used_as_is(tmp_path: Path) -> None:
    handler = copy_handler(tmp_path / "handler")
    prebuilt = tmp_path / "deps"
    (prebuilt / "requests").mkdir(parents=True)
    (prebuilt / "requests" / "__init__.py").write_text("")
    spec = spec_from_environment(handler, "python3.13", "arm64", {"E2P_LAMBDA_DEPS": str(prebuilt)})
    built = build_package(spec, tmp_path / "cache", pip=lambda _arguments: pytest.fail("pip must not run"))
    with zipfile.ZipFile(built.path) as archive:
        assert "requests/__init__.py" in archive.namelist()
    with pytest.raises(PackagingError):
        build_package(PackageSpec(handler, deps=str(tmp_path / "missing")), tmp_path / "cache")


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


def test_the_real_zip_with_dependencies(tmp_path: Path) -> None:
    """Builds with pip for the function's real runtime and architecture; the dependency tree is cached
    in the repository's .e2p-build/ (as the demo's), so only the first run downloads."""
    cache = REPO / ".e2p-build"
    runtime, architecture = function_runtime(load_template((REPO / "central" / "template.yaml").read_text()))
    spec = spec_from_environment(copy_handler(tmp_path / "handler"), runtime, architecture, {})
    if not any((cache / "deps").glob("*/.e2p-complete")) and not _pypi_reachable():
        pytest.skip("PyPI is not reachable and no dependency tree is cached")
    built = build_package(spec, cache)
    with zipfile.ZipFile(built.path) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names}
    assert {"handler", "urllib3", "certifi", "aws_lambda_powertools"} <= top
    assert not top & {"boto3", "botocore", "requests"}
    # bytecode only when an interpreter of the runtime's version compiled it (E2P_LAMBDA_PYTHON)
    version = runtime.removeprefix("python")
    pyc = [n for n in names if n.endswith(".pyc")]
    if built.bytecode is None:
        assert pyc == []
    else:
        assert built.bytecode.split(".")[:2] == version.split(".")
        assert pyc
        assert all(n.endswith(f".cpython-{version.replace('.', '')}.pyc") for n in pyc)
    compiled = [n for n in names if n.endswith(".so")]
    platform_tag = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    assert all(platform_tag in n for n in compiled), compiled
