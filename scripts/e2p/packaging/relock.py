"""`make lambda-lock`: rewrite the shipped lock file for the function's platform.

Kept apart from lock_file.py, which reads and checks the lock for every deploy: regenerating it needs
the packager's requirements and pip runner, and the packager needs lock_file.py.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from e2p.exceptions import PackagingError
from e2p.packaging.lambda_package import (
    DEFAULT_INDEX_URL,
    INDEX_VARIABLE,
    PLATFORMS,
    RUNTIME_REQUIREMENTS,
    run_pip,
)
from e2p.packaging.lock_file import LOCK_NAME, generate_lock, load_lock, parse_lock


def main() -> None:
    """`python -m e2p.packaging.relock` (`make lambda-lock`): rewrite the shipped lock for the
    function's platform from RUNTIME_REQUIREMENTS, through the one index (E2P_LAMBDA_INDEX_URL)."""
    current = load_lock()
    if current.platform not in PLATFORMS.values():
        raise PackagingError(f"the lock's platform {current.platform} is not a Lambda platform")
    index = os.environ.get(INDEX_VARIABLE, "").strip() or DEFAULT_INDEX_URL
    text = generate_lock(RUNTIME_REQUIREMENTS, current.platform, current.python_version, run_pip, index)
    destination = Path(str(resources.files("e2p.packaging").joinpath(LOCK_NAME)))
    destination.write_text(text, encoding="utf-8")
    print(f"{destination}: {len(parse_lock(text).requirements)} packages for {current.platform}")


if __name__ == "__main__":
    main()
