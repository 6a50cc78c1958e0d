"""Build hook: the wheel carries what `e2p` deploys and demonstrates with, not only Python modules.

The templates, the StackSet definition and the bundled sample events live at the repository's root
(where the tests and cfn-lint read them). A wheel built from here copies them into the `e2p`
package as `e2p/_project/<same path>`, where `e2p.config.project` finds them with
importlib.resources; an installed `e2p` then works from any directory. Everything else is declared
in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Repository-relative globs, mirrored under e2p/_project/ in the wheel (the handler package itself
# is an ordinary package of the wheel).
BUNDLED = (
    "central/*.yaml",
    "member/*.yaml",
    "stacksets/*.yaml",
    "tests/events/MANIFEST.tsv",
    "tests/events/**/*.json",
)
BUNDLE_DIR = "e2p/_project"


class BuildWithProjectFiles(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / BUNDLE_DIR
        for pattern in BUNDLED:
            for source in sorted(ROOT.glob(pattern)):
                if source.is_file():
                    destination = target / source.relative_to(ROOT)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, destination)


setup(cmdclass={"build_py": BuildWithProjectFiles})
