"""Where the deployable parts of the project live: templates, the StackSet definition, the handler.

The CLI deploys the same files the repository tests, so it must find the repository: from
E2P_PROJECT_ROOT when set, else the first directory holding central/template.yaml when walking up
from the working directory, else from this package's own location (scripts/e2p -> the root).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
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
BUILD_DIR: Final = Path(".e2p-build")


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    build_dir: Path

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
        return self.root / HANDLER_PACKAGE

    def read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProjectLayoutError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _looks_like_root(path: Path) -> bool:
    return (path / CENTRAL_TEMPLATE).is_file() and (path / HANDLER_PACKAGE).is_dir()


def locate_project(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Project:
    environ = os.environ if environ is None else environ
    explicit = environ.get(PROJECT_ROOT_VARIABLE)
    if explicit:
        root = Path(explicit).resolve()
        if not root.is_dir():
            raise ProjectLayoutError(f"{PROJECT_ROOT_VARIABLE}={explicit} is not a directory")
    else:
        start = (cwd or Path.cwd()).resolve()
        here = Path(__file__).resolve().parent
        candidates = [start, *start.parents, *here.parents]
        found = next((path for path in candidates if _looks_like_root(path)), None)
        if found is None:
            raise ProjectLayoutError(
                "cannot find the project (central/template.yaml and handler/): run e2p from the repository "
                f"or set {PROJECT_ROOT_VARIABLE}"
            )
        root = found
    build = environ.get(BUILD_DIR_VARIABLE)
    return Project(root=root, build_dir=Path(build).resolve() if build else root / BUILD_DIR)
