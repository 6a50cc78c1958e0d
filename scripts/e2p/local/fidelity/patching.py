"""Replace a moto function by a faithful one, once, behind the fidelity switch.

A replacement receives the original as its first argument so it can defer to moto for
everything it does not change. When the current request runs in plain mode (see `switch`),
the original is called untouched, so a plain server keeps showing moto's own behaviour.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from e2p.local.fidelity import switch

_lock = threading.Lock()
_originals: dict[tuple[int, str], Any] = {}


def is_patched(owner: object, name: str) -> bool:
    return (id(owner), name) in _originals


def claim(owner: object, name: str) -> None:
    """Mark an attribute as patched by hand (a property, say), so later installs skip it."""
    with _lock:
        _originals[(id(owner), name)] = getattr(owner, name, None)


def original(owner: object, name: str) -> Any:
    """The function moto had before it was replaced (for plain calls from inside a patch)."""
    return _originals[(id(owner), name)]


def replace(owner: Any, name: str, replacement: Callable[..., Any]) -> None:
    """Swap `owner.name` for a gated wrapper around `replacement(original, *args, **kwargs)`.

    Idempotent: a second call for the same attribute does nothing. Handles plain functions,
    methods, classmethods and staticmethods (the descriptor kind is preserved).
    """
    with _lock:
        key = (id(owner), name)
        if key in _originals:
            return
        raw = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        kind: type | None = None
        target = raw
        if isinstance(raw, (classmethod, staticmethod)):
            kind = type(raw)
            target = raw.__func__

        if kind is classmethod:

            @functools.wraps(target)
            def gated_cls(cls: Any, *args: Any, **kwargs: Any) -> Any:
                bound = functools.partial(target, cls)
                if switch.active():
                    return replacement(bound, cls, *args, **kwargs)
                return bound(*args, **kwargs)

            _originals[key] = raw
            setattr(owner, name, classmethod(gated_cls))
            return

        @functools.wraps(target)
        def gated(*args: Any, **kwargs: Any) -> Any:
            if switch.active():
                return replacement(target, *args, **kwargs)
            return target(*args, **kwargs)

        _originals[key] = target
        setattr(owner, name, staticmethod(gated) if kind is staticmethod else gated)


def add_property(owner: type, name: str, getter: Callable[[Any], Any]) -> None:
    """Give `owner` a read-only property that exists only in faithful mode.

    In plain mode the property raises AttributeError, so `hasattr` answers as it did before.
    """
    with _lock:
        key = (id(owner), name)
        if key in _originals:
            return
        _originals[key] = None

        def fget(instance: Any) -> Any:
            if not switch.active():
                raise AttributeError(name)
            return getter(instance)

        setattr(owner, name, property(fget))


def add_method(
    owner: type,
    name: str,
    implementation: Callable[..., Any],
    plain: Callable[[], Any] | None = None,
) -> None:
    """Give `owner` a method moto lacks; in plain mode it fails the way a missing action does, or
    returns `plain()` (what plain moto answers where the action is not even routed)."""
    with _lock:
        key = (id(owner), name)
        if key in _originals:
            return
        _originals[key] = None

        @functools.wraps(implementation)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not switch.active():
                if plain is not None:
                    return plain()
                raise NotImplementedError(f"The {name} action has not been implemented")
            return implementation(self, *args, **kwargs)

        setattr(owner, name, method)
