"""builtin.json, the form of handler/mappings/builtin.yaml the function reads.

The function parses JSON with orjson at cold start (PyYAML is neither in the Lambda zip nor fast):
the YAML is the source people edit, the JSON is generated from it and committed beside it.
`python -m e2p.packaging.builtin_mappings` regenerates it; `build_package` refuses to package a
stale one, and a unit test fails on one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from e2p.exceptions import PackagingError
from handler.mappings import BUILTIN_JSON, BUILTIN_YAML, compile_document

REGENERATE_COMMAND = ".venv/bin/python -m e2p.packaging.builtin_mappings"


def render(yaml_path: Path = BUILTIN_YAML) -> str:
    """The JSON text for the YAML file; refuses a file that does not compile."""
    document = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    compile_document(document, yaml_path.name)
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def check_current(yaml_path: Path = BUILTIN_YAML, json_path: Path = BUILTIN_JSON) -> None:
    """Raises PackagingError when the JSON is missing or not generated from the current YAML."""
    try:
        current = json_path.read_text(encoding="utf-8")
    except OSError:
        current = ""
    if current != render(yaml_path):
        raise PackagingError(
            f"{json_path.name} is not generated from the current {yaml_path.name}: run {REGENERATE_COMMAND}"
        )


def main() -> int:
    BUILTIN_JSON.write_text(render(), encoding="utf-8")
    print(f"wrote {BUILTIN_JSON}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
