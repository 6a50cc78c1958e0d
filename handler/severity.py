"""Panther's severity scale (PANTHER-API.md). Mappers name these, never bare integers."""

from enum import IntEnum


class Severity(IntEnum):
    CLEAR = 0
    INDETERMINATE = 1
    WARNING = 2
    MINOR = 3
    MAJOR = 4
    CRITICAL = 5
