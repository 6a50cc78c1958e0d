"""Declarative mappings: (source, detail-type) -> alert, written as data instead of a Python module.

The long tail of AWS families (handler/mappings/builtin.yaml, shipped with the function as
builtin.json, generated from it) and an organisation's own file (`e2p deploy --mappings FILE`) are
compiled once, at cold start, into a MappingTable. The registry (handler.mappers) consults it after
the hand-written mappers and before the generic mapping.

The function reads JSON only (orjson; PyYAML is not in the Lambda zip): the CLI validates an
organisation's YAML and stores it as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from handler.envelope import decode_json
from handler.mappings.exceptions import MappingsError
from handler.mappings.loader import compile_document
from handler.mappings.table import MappingTable

BUILTIN_YAML: Final = Path(__file__).with_name("builtin.yaml")
BUILTIN_JSON: Final = Path(__file__).with_name("builtin.json")

__all__ = [
    "BUILTIN_JSON",
    "BUILTIN_YAML",
    "MappingTable",
    "MappingsError",
    "compile_document",
    "load_builtin",
    "load_document",
    "parse_document",
]


def parse_document(text: str | bytes, origin: str) -> Any:
    """JSON text, or YAML when PyYAML is importable (the CLI; the function gets JSON)."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", b"{"):
        try:
            return decode_json(text)
        except (ValueError, RecursionError) as exc:
            raise MappingsError(f"{origin}: not valid JSON: {str(exc)[:200]}") from exc
    try:
        import yaml
    except ImportError as exc:  # the function: only JSON is stored for it
        raise MappingsError(f"{origin}: not JSON, and YAML cannot be read here (PyYAML absent)") from exc
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders only # nosec B506
    except yaml.YAMLError as exc:
        raise MappingsError(f"{origin}: not valid YAML: {str(exc)[:300]}") from exc


def load_document(text: str | bytes, origin: str) -> MappingTable:
    return compile_document(parse_document(text, origin), origin)


def load_builtin() -> MappingTable:
    """The built-in table, from the JSON generated from builtin.yaml (read once, at cold start)."""
    try:
        raw = BUILTIN_JSON.read_bytes()
    except OSError as exc:
        raise MappingsError(f"{BUILTIN_JSON.name}: cannot be read: {exc.strerror or exc}") from exc
    return load_document(raw, BUILTIN_YAML.name)
