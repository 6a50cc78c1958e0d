"""Where the deployable parts of the project live: templates, the StackSet definition, the handler,
the bundled sample events.

An installed `e2p` (pip or pipx) carries them as package data: the wheel's build hook (setup.py)
copies the templates, the StackSet definition and the sample events to `e2p/_project/`, mirroring
the repository, and the handler is an ordinary package of the wheel; they are read with
importlib.resources, whatever the working directory. A checkout (an editable install, `make`)
has no bundle: the repository this package sits in is used. `E2P_PROJECT_ROOT` overrides both,
for an edited copy of the templates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from e2p.exceptions import ProjectLayoutError

PROJECT_ROOT_VARIABLE: Final = "E2P_PROJECT_ROOT"
BUILD_DIR_VARIABLE: Final = "E2P_BUILD_DIR"
CENTRAL_TEMPLATE: Final = Path("central/template.yaml")
LOOKUP_ROLE_TEMPLATE: Final = Path("central/org-lookup-role.yaml")
MEMBER_TEMPLATE: Final = Path("member/template.yaml")
STACKSET_DEFINITION: Final = Path("stacksets/stackset.yaml")
HANDLER_PACKAGE: Final = Path("handler")
SAMPLE_EVENTS: Final = Path("tests/events")
BUILD_DIR: Final = Path(".e2p-build")
# Inside the `e2p` package of an installed wheel (setup.py's BUNDLE_DIR).
BUNDLE_DIR: Final = "_project"
# Where an installed e2p builds the Lambda zip: site-packages is no place for build output.
CACHE_SUBDIR: Final = Path("events2panther/build")


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    build_dir: Path
    # The handler package to zip: root/handler in a checkout, the installed package otherwise.
    handler_dir: Path | None = None

    @property
    def central_template(self) -> Path:
        return self.root / CENTRAL_TEMPLATE

    @property
    def lookup_role_template(self) -> Path:
        return self.root / LOOKUP_ROLE_TEMPLATE

    @property
    def member_template(self) -> Path:
        return self.root / MEMBER_TEMPLATE

    @property
    def stackset_definition(self) -> Path:
        return self.root / STACKSET_DEFINITION

    @property
    def handler_package(self) -> Path:
        return self.handler_dir or self.root / HANDLER_PACKAGE

    @property
    def sample_events(self) -> Path:
        return self.root / SAMPLE_EVENTS

    def read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProjectLayoutError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _looks_like_root(path: Path) -> bool:
    return (path / CENTRAL_TEMPLATE).is_file()


def _package_dir(package: str) -> Path | None:
    """The directory of an importable package on disk (wheels are installed unzipped)."""
    try:
        location = resources.files(package)
    except ModuleNotFoundError:
        return None
    return location if isinstance(location, Path) and location.is_dir() else None


def bundled_root() -> Path | None:
    """The project files an installed wheel carries, or None (a checkout has none)."""
    package = _package_dir("e2p")
    candidate = package / BUNDLE_DIR if package else None
    return candidate if candidate is not None and _looks_like_root(candidate) else None


def checkout_root() -> Path | None:
    """The repository this package runs from (scripts/e2p -> the root), if it is one."""
    package = _package_dir("e2p")
    if package is None:
        return None
    root = package.parent.parent
    return root if _looks_like_root(root) and (root / HANDLER_PACKAGE).is_dir() else None


def _cache_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / CACHE_SUBDIR


def locate_project(environ: Mapping[str, str] | None = None) -> Project:
    environ = os.environ if environ is None else environ
    explicit = environ.get(PROJECT_ROOT_VARIABLE)
    installed_handler = _package_dir("handler")
    if explicit:
        root = Path(explicit).resolve()
        if not root.is_dir():
            raise ProjectLayoutError(f"{PROJECT_ROOT_VARIABLE}={explicit} is not a directory")
        if not _looks_like_root(root):
            raise ProjectLayoutError(f"{PROJECT_ROOT_VARIABLE}={explicit} has no {CENTRAL_TEMPLATE}")
        handler = root / HANDLER_PACKAGE if (root / HANDLER_PACKAGE).is_dir() else installed_handler
        default_build = root / BUILD_DIR
    elif (checkout := checkout_root()) is not None:
        root, handler, default_build = checkout, checkout / HANDLER_PACKAGE, checkout / BUILD_DIR
    elif (bundle := bundled_root()) is not None:
        root, handler, default_build = bundle, installed_handler, _cache_dir(environ)
    else:
        raise ProjectLayoutError(
            "this e2p has neither its bundled templates nor a repository around it: reinstall it "
            f"(pip install events2panther) or set {PROJECT_ROOT_VARIABLE} to a checkout"
        )
    if handler is None:
        raise ProjectLayoutError("the handler package is not installed: reinstall events2panther")
    build = environ.get(BUILD_DIR_VARIABLE)
    return Project(
        root=root, build_dir=Path(build).resolve() if build else default_build, handler_dir=handler
    )
