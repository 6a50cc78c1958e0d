"""The one error of the mappings package: a mappings file that cannot be used."""

from __future__ import annotations

from handler.exceptions import ConfigurationError


class MappingsError(ConfigurationError):
    """A mappings file is unreadable or malformed. The message names the file, the entry (its
    position and its source/detail-type) and the field, so the author can fix it.

    A ConfigurationError: in the function an unusable organisation file fails the cold start
    loudly (records return to the queue) instead of mapping events with half a file."""
