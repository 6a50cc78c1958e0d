"""The Lambda's dependencies are the committed lock, hash-checked, from one index (or a wheelhouse);
nothing outside handler/ is zipped through a symbolic link (issue 13 items 4 and 13, issue 10)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cli_org import REPO

from e2p.aws.cfn_template import function_runtime, load_template
from e2p.exceptions import PackagingError
from e2p.packaging.lambda_package import (
    PackageSpec,
    build_package,
    install_dependencies,
    pip_environment,
    run_pip,
    spec_from_environment,
)
from e2p.packaging.lock_file import load_lock, parse_lock, render_lock

pytestmark = pytest.mark.functional

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def test_the_shipped_lock_is_for_the_function_and_past_the_advisories() -> None:
    lock = load_lock()
    runtime, architecture = function_runtime(load_template((REPO / "central" / "template.yaml").read_text()))
    spec = PackageSpec(REPO / "handler", runtime=runtime, architecture=architecture)
    assert (lock.platform, lock.python_version) == (spec.platform, spec.python_version)
    names = {r.name for r in lock.requirements}
    assert {"urllib3", "certifi", "orjson", "aws-lambda-powertools"} <= names
    assert not names & {"boto3", "botocore", "requests"}  # the runtime's own, or unused by the handler
    assert all(len(r.hashes) == 1 for r in lock.requirements)  # one wheel: one platform
    assert version_tuple(lock.version_of("urllib3") or "0") >= (2, 6, 3)
    assert version_tuple(lock.version_of("certifi") or "0") >= (2025,)
    assert version_tuple(lock.version_of("orjson") or "0") >= (3, 10)


def test_a_lock_of_another_platform_is_refused(tmp_path: Path) -> None:
    spec = spec_from_environment(copy_handler(tmp_path / "handler"), "python3.13", "x86_64", {})
    with pytest.raises(PackagingError, match="regenerate"):
        build_package(spec, tmp_path / "cache", pip=lambda _arguments: pytest.fail("pip must not run"))
    with pytest.raises(PackagingError, match="hash"):
        parse_lock("# platform: p\n# python: 3.13\nurllib3==2.8.0\n")


def wheel(directory: Path, version: str, marker: str) -> Path:
    """A minimal valid pure-Python wheel of `fakedep`."""
    path = directory / f"fakedep-{version}-py3-none-any.whl"
    info = f"fakedep-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fakedep/__init__.py", f"MARKER = {marker!r}\n")
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: fakedep\nVersion: {version}\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return path


def test_a_wheel_that_is_not_the_locked_one_is_refused_offline(tmp_path: Path) -> None:
    # GIVEN a lock made from one wheel, and a wheelhouse (offline) holding it
    house = tmp_path / "wheelhouse"
    house.mkdir()
    good = wheel(house, "1.0", "good")
    lock = parse_lock(render_lock("manylinux2014_x86_64", THIS_PYTHON, [good]))
    spec = PackageSpec(
        tmp_path, runtime=f"python{THIS_PYTHON}", architecture="x86_64", lock=lock, wheelhouse=house
    )
    # WHEN real pip installs it: THEN the locked wheel goes in
    tree = install_dependencies(spec, tmp_path / "cache", run_pip)
    assert "good" in (tree / "fakedep" / "__init__.py").read_text()
    # AND a wheel of the same name and version but other bytes (another index, a tampered mirror) is refused
    shutil.rmtree(tmp_path / "cache")
    good.unlink()
    wheel(house, "1.0", "evil")
    with pytest.raises(PackagingError, match="pip could not install"):
        install_dependencies(spec, tmp_path / "cache", run_pip)


def test_pip_sees_only_the_index_or_wheelhouse_it_is_given() -> None:
    environ = {
        "PIP_EXTRA_INDEX_URL": "https://attacker.example/simple",
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_FIND_LINKS": "/tmp/wheels",
        "PIP_CERT": "/etc/ssl/ca.pem",
        "HTTPS_PROXY": "http://proxy:3128",
    }
    cleaned = pip_environment(environ)
    assert cleaned["PIP_CONFIG_FILE"] == os.devnull  # no pip.conf, user or global
    assert not {"PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_FIND_LINKS"} & set(cleaned)
    assert cleaned["PIP_CERT"] == "/etc/ssl/ca.pem" and cleaned["HTTPS_PROXY"] == "http://proxy:3128"


def copy_handler(destination: Path) -> Path:
    shutil.copytree(REPO / "handler", destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


def test_a_symbolic_link_out_of_the_handler_is_refused(tmp_path: Path) -> None:
    # GIVEN handler/ holding a link to a credentials file outside it
    handler = copy_handler(tmp_path / "handler")
    secret = tmp_path / "credentials"
    secret.write_text("[default]\naws_secret_access_key = SECRET\n")
    (handler / "notes.txt").symlink_to(secret)
    # THEN packaging refuses, naming the link
    with pytest.raises(PackagingError, match="outside"):
        build_package(PackageSpec(handler, deps="none", python="none"), tmp_path / "cache")
    # AND a linked directory leading out is refused too
    (handler / "notes.txt").unlink()
    (handler / "extra").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(PackagingError, match="outside"):
        build_package(PackageSpec(handler, deps="none", python="none"), tmp_path / "cache")


def test_a_symbolic_link_inside_the_handler_is_packaged(tmp_path: Path) -> None:
    handler = copy_handler(tmp_path / "handler")
    (handler / "alias.py").symlink_to(handler / "constants.py")
    built = build_package(PackageSpec(handler, deps="none", python="none"), tmp_path / "cache")
    with zipfile.ZipFile(built.path) as archive:
        assert archive.read("handler/alias.py") == (handler / "constants.py").read_bytes()


def test_deploy_offers_an_offline_wheelhouse() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "e2p", "deploy", "--help"], capture_output=True, text=True, check=False
    )
    assert "--wheelhouse" in completed.stdout
