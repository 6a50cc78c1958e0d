"""The Lambda's dependency lock: every wheel the zip may contain, by exact version and SHA-256.

The function runs on one platform (cp313, manylinux2014 aarch64, from central/template.yaml), so
the lock names exactly one wheel per package, transitive ones included, each with its hash. The
packager installs it with `--require-hashes --no-deps` from one index: a wheel of another content
(another index, a poisoned mirror, a later release) is refused instead of shipped with the token.

The lock is a pip requirements file whose header says what it was resolved for:

    # platform: manylinux2014_aarch64
    # python: 3.13
    certifi==2026.10.19.post1 --hash=sha256:...

`make lambda-lock` writes it again (`e2p.packaging.lock_file`'s `generate_lock`: pip download of
the floors in RUNTIME_REQUIREMENTS for that platform, then the hash of each downloaded file).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from e2p.exceptions import PackagingError

LOCK_NAME: Final = "lambda-requirements.txt"
PIP_HASH: Final = "sha256"
_HEADER = re.compile(r"^#\s*(platform|python):\s*(\S+)\s*$")
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)((?:\s+--hash=sha256:[0-9a-f]{64})+)\s*$")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")

PipRunner = Callable[[Sequence[str]], None]


@dataclass(frozen=True, slots=True)
class LockedRequirement:
    name: str
    version: str
    hashes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lock:
    platform: str
    python_version: str
    requirements: tuple[LockedRequirement, ...]
    text: str

    @property
    def sha256(self) -> str:
        """The lock's own hash: the dependency cache is keyed on it."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    def version_of(self, name: str) -> str | None:
        wanted = normalise(name)
        return next((r.version for r in self.requirements if normalise(r.name) == wanted), None)


def normalise(name: str) -> str:
    """PEP 503's name normalisation (Aws_Lambda.Powertools and aws-lambda-powertools are one)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str, origin: str = LOCK_NAME) -> Lock:
    header: dict[str, str] = {}
    requirements: list[LockedRequirement] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _HEADER.match(line)
            if match:
                header[match.group(1)] = match.group(2)
            continue
        parsed = _LINE.match(line)
        if parsed is None:
            raise PackagingError(
                f"{origin}:{number}: expected 'name==version --hash=sha256:...', got {line!r}"
            )
        name, version, hashes = parsed.groups()
        requirements.append(LockedRequirement(name, version, tuple(_HASH.findall(hashes))))
    missing = [key for key in ("platform", "python") if key not in header]
    if missing:
        raise PackagingError(f"{origin}: the header lacks '# {missing[0]}: ...'")
    if not requirements:
        raise PackagingError(f"{origin}: no requirement")
    return Lock(header["platform"], header["python"], tuple(requirements), text)


def load_lock(path: Path | None = None) -> Lock:
    """The lock at `path`, else the one shipped with e2p (a checkout and an installed wheel alike)."""
    if path is not None:
        try:
            return parse_lock(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise PackagingError(f"cannot read the lock {path}: {exc.strerror or exc}") from exc
    return parse_lock(resources.files("e2p.packaging").joinpath(LOCK_NAME).read_text(encoding="utf-8"))


def _wheel_name_version(wheel: Path) -> tuple[str, str]:
    # {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl (PEP 427)
    parts = wheel.name.removesuffix(".whl").split("-")
    if len(parts) < 5 or not wheel.name.endswith(".whl"):
        raise PackagingError(f"{wheel.name} is not a wheel")
    return normalise(parts[0]), parts[1]


def render_lock(platform: str, python_version: str, wheels: Sequence[Path], note: str = "") -> str:
    """The lock text for these downloaded wheels (one per package), sorted by name."""
    entries: dict[str, tuple[str, str]] = {}
    for wheel in wheels:
        name, version = _wheel_name_version(wheel)
        if name in entries:
            raise PackagingError(f"two wheels of {name} were downloaded: the lock takes one per package")
        entries[name] = (version, hashlib.sha256(wheel.read_bytes()).hexdigest())
    lines = [
        "# The Lambda's dependencies, exact versions and hashes (e2p.packaging.lock_file).",
        "# Regenerate with `make lambda-lock`; never edit by hand.",
        *([f"# {note}"] if note else []),
        f"# platform: {platform}",
        f"# python: {python_version}",
    ]
    lines += [
        f"{name}=={version} --hash={PIP_HASH}:{digest}" for name, (version, digest) in sorted(entries.items())
    ]
    return "\n".join(lines) + "\n"


def generate_lock(
    floors: Sequence[str], platform: str, python_version: str, pip: PipRunner, index_url: str
) -> str:
    """Resolve `floors` (and what they need) for the platform with pip, and lock what it fetched."""
    with tempfile.TemporaryDirectory(prefix="e2p-lock-") as workdir:
        pip(
            [
                "download",
                "--quiet",
                "--dest",
                workdir,
                "--index-url",
                index_url,
                "--platform",
                platform,
                "--implementation",
                "cp",
                "--python-version",
                python_version,
                "--only-binary=:all:",
                *floors,
            ]
        )
        wheels = sorted(Path(workdir).glob("*.whl"))
        return render_lock(platform, python_version, wheels, note="floors: " + " ".join(floors))
