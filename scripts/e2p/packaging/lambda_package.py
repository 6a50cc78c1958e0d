"""The Lambda deployment zip: handler/ plus its runtime dependencies, reproducible and cached.

Reproducible: entries sorted, fixed timestamps and permissions, no console scripts (their shebangs
hold this machine's paths), so the same inputs give the same bytes and the same content hash, which
is the S3 key. A redeploy of unchanged code is then a no-op all the way down.

Bytecode: Lambda's code folder is read-only, so a zip of sources alone is compiled again on every
cold start (~0.6 s on the bench machine). Every module is therefore shipped with its `.pyc`,
compiled by an interpreter of the function's runtime version (a 3.11 `.pyc` is ignored by 3.13):
$E2P_LAMBDA_PYTHON, else this interpreter if its version matches, else `pythonX.Y` on PATH. The
`.pyc` files are unchecked-hash ones (PEP 552: no timestamp, never compared with the source) made
with a fixed hash seed, so they are reproducible too. When no such interpreter is found the zip
carries sources only and `BuiltPackage.bytecode` says so: it works, but every cold start compiles.

Dependencies are exactly the committed lock (lock_file.py: one wheel per package, transitive ones
included, each with its SHA-256), installed for the function's platform (manylinux2014 for its
architecture, the runtime's Python version, wheels only) with `--require-hashes --no-deps` from one
index (E2P_LAMBDA_INDEX_URL, else PyPI; pip's own configuration, extra indexes and find-links are
ignored), or offline from a wheelhouse directory (`e2p deploy --wheelhouse DIR`, same hashes). Nothing
is taken from the operator's environment. The tree is cached under the build directory keyed on the
lock's hash, so the local demo does not reinstall every time.

Symbolic links under handler/ that lead outside it are refused: a link to ~/.aws/credentials would
otherwise be read and zipped.

E2P_LAMBDA_DEPS (test/local only): `none` packages the handler alone (the local mode runs it with
this virtualenv's packages); a directory path uses that pre-built dependency tree instead of pip.
E2P_LAMBDA_INDEX_URL: the one index the locked wheels are downloaded from (default PyPI).
E2P_LAMBDA_PYTHON: the interpreter that compiles the bytecode (it must be CPython of the function's
runtime version), or `none` for a zip without bytecode.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from e2p.exceptions import PackagingError
from e2p.packaging.lock_file import Lock, load_lock

DEPS_VARIABLE: Final = "E2P_LAMBDA_DEPS"
NO_DEPS: Final = "none"
PYTHON_VARIABLE: Final = "E2P_LAMBDA_PYTHON"
NO_BYTECODE: Final = "none"
INDEX_VARIABLE: Final = "E2P_LAMBDA_INDEX_URL"
DEFAULT_INDEX_URL: Final = "https://pypi.org/simple"
# What the lock is resolved from (`make lambda-lock`); the zip gets the lock, never these.
# boto3/botocore are not packaged: the Lambda runtime provides them.
# The handler speaks HTTP through urllib3 directly (no requests), trusting certifi's CA bundle:
# urllib3 >= 2.6.3 (past the advisories on unbounded decompression), a certifi of 2025 or later.
# orjson decodes SQS bodies and encodes Panther bodies (a compiled wheel: per platform, as pip is asked).
RUNTIME_REQUIREMENTS: Final = (
    "urllib3>=2.6.3,<3",
    "certifi>=2025.1.31",
    "orjson>=3.10",
    "aws-lambda-powertools>=3.0,<4",
)
# pip settings that may point pip at other indexes or files than the one index given; cleared.
_PIP_SOURCE_VARIABLES: Final = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX")
PLATFORMS: Final = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# Bump when the layout of the zip changes, so cached zips of the old layout are not reused.
PACKAGER_VERSION: Final = "3"
ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)
FILE_MODE: Final = 0o100644
EXCLUDED_DIRS: Final = frozenset({"__pycache__", "bin", ".pytest_cache", ".mypy_cache"})
EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo")
COMPLETE_MARKER: Final = ".e2p-complete"
COMPILER_TIMEOUT_S: Final = 600.0
# Run by the runtime-version interpreter: reads [source, name in the zip, .pyc] triples on stdin,
# writes the names it could not compile (a syntax error: shipped as source, as compileall does).
COMPILE_SCRIPT: Final = """
import json, py_compile, sys
failed = []
for source, name, target in json.load(sys.stdin):
    try:
        py_compile.compile(source, cfile=target, dfile=name, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError:
        failed.append(name)
json.dump(failed, sys.stdout)
"""
PROBE_SCRIPT: Final = (
    "import json, platform, sys; print(json.dumps("
    "[platform.python_implementation(), platform.python_version(), sys.implementation.cache_tag]))"
)
# Zips of earlier handler versions kept in the cache (each deploy of changed code adds one).
KEPT_ZIPS: Final = 5

PipRunner = Callable[[Sequence[str]], None]


@dataclass(frozen=True, slots=True)
class PackageSpec:
    handler_dir: Path
    runtime: str = "python3.12"
    architecture: str = "arm64"
    # The dependencies to install (with deps == "pip"); None installs none.
    lock: Lock | None = None
    index_url: str = DEFAULT_INDEX_URL
    # Locked wheels from this directory, offline (`--no-index --find-links`), instead of the index.
    wheelhouse: Path | None = None
    # "pip" (default), NO_DEPS, or a directory holding pre-built dependencies.
    deps: str = "pip"
    # The interpreter compiling the bytecode: "" finds one (module docstring), NO_BYTECODE for none.
    python: str = ""

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @property
    def platform(self) -> str:
        try:
            return PLATFORMS[self.architecture]
        except KeyError as exc:
            raise PackagingError(f"unsupported Lambda architecture {self.architecture!r}") from exc


@dataclass(frozen=True, slots=True)
class Compiler:
    """A CPython interpreter of the function's runtime version."""

    executable: str
    version: str  # the full version, e.g. 3.13.0: part of the zip's cache key
    cache_tag: str  # e.g. cpython-313, in the .pyc names


@dataclass(frozen=True, slots=True)
class BuiltPackage:
    path: Path
    sha256: str
    from_cache: bool
    with_dependencies: bool
    # The Python version the shipped .pyc files were compiled by; None when the zip has none.
    bytecode: str | None = None

    @property
    def bytecode_note(self) -> str:
        if self.bytecode is not None:
            return f"bytecode compiled by Python {self.bytecode}"
        return (
            f"no bytecode (no interpreter of the runtime's version: set {PYTHON_VARIABLE}): "
            "each cold start compiles the modules it imports"
        )

    @property
    def s3_key(self) -> str:
        return f"lambda/{self.sha256}.zip"


def spec_from_environment(
    handler_dir: Path,
    runtime: str,
    architecture: str,
    environ: Mapping[str, str] | None = None,
    *,
    wheelhouse: Path | None = None,
    lock: Lock | None = None,
) -> PackageSpec:
    environ = os.environ if environ is None else environ
    deps = environ.get(DEPS_VARIABLE, "").strip() or "pip"
    # The lock is checked against the function's platform when it is installed (install_dependencies).
    return PackageSpec(
        handler_dir=handler_dir,
        runtime=runtime,
        architecture=architecture,
        lock=(lock or load_lock()) if deps == "pip" else None,
        index_url=environ.get(INDEX_VARIABLE, "").strip() or DEFAULT_INDEX_URL,
        wheelhouse=wheelhouse,
        deps=deps,
        python=environ.get(PYTHON_VARIABLE, "").strip(),
    )


def check_lock_fits(lock: Lock, spec: PackageSpec) -> None:
    """The lock must have been resolved for the function's platform and Python version."""
    if (lock.platform, lock.python_version) != (spec.platform, spec.python_version):
        raise PackagingError(
            f"the dependency lock is for {lock.platform} Python {lock.python_version}, the function runs "
            f"{spec.platform} Python {spec.python_version}: regenerate it (`make lambda-lock`)"
        )


def _probe_interpreter(executable: str) -> Compiler | None:
    try:
        completed = subprocess.run(  # noqa: S603 - an interpreter we run with fixed code
            [executable, "-s", "-c", PROBE_SCRIPT], capture_output=True, text=True, timeout=60, check=False
        )
        implementation, version, cache_tag = json.loads(completed.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if completed.returncode != 0 or implementation != "CPython":
        return None
    return Compiler(executable, str(version), str(cache_tag))


def _matches(compiler: Compiler | None, python_version: str) -> bool:
    return compiler is not None and compiler.version.split(".")[:2] == python_version.split(".")[:2]


def find_compiler(spec: PackageSpec) -> Compiler | None:
    """The interpreter that compiles the zip's bytecode for `spec.runtime`, or None (no bytecode).

    An explicit interpreter (spec.python) that is not CPython of the runtime's version is an error:
    a .pyc of another version would be shipped for nothing (the runtime ignores it)."""
    if spec.python == NO_BYTECODE:
        return None
    if spec.python:
        explicit = _probe_interpreter(spec.python)
        if explicit is None or not _matches(explicit, spec.python_version):
            found = f"Python {explicit.version}" if explicit else "not a working CPython"
            raise PackagingError(
                f"{PYTHON_VARIABLE}={spec.python} is {found}; the function runs {spec.runtime}"
            )
        return explicit
    candidates = dict.fromkeys(filter(None, [sys.executable, shutil.which(f"python{spec.python_version}")]))
    for executable in candidates:
        compiler = _probe_interpreter(executable)
        if _matches(compiler, spec.python_version):
            return compiler
    return None


def _check_link(path: Path, root: Path) -> None:
    """A symbolic link is shipped only when it stays inside `root` (its target's bytes are zipped)."""
    target = path.resolve()
    if not target.is_relative_to(root.resolve()):
        raise PackagingError(f"{path} is a symbolic link to {target}, outside {root}: refusing to package it")


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    """(archive name relative to `root`, path) of every file worth shipping, in sorted order."""
    found = []
    for path in root.rglob("*"):
        if path.is_symlink():
            _check_link(path, root)
        relative = path.relative_to(root)
        if not path.is_file() or any(part in EXCLUDED_DIRS for part in relative.parts[:-1]):
            continue
        if path.name.endswith(EXCLUDED_SUFFIXES) or path.name == COMPLETE_MARKER:
            continue
        found.append((relative.as_posix(), path))
    yield from sorted(found)


def _hash_tree(digest: hashlib._Hash, root: Path, prefix: str) -> None:
    for name, path in _files(root):
        digest.update(f"{prefix}{name}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")


def _deps_key(spec: PackageSpec) -> str:
    recipe = {
        "lock": spec.lock.sha256 if spec.lock else "",
        "platform": spec.platform,
        "python": spec.python_version,
        "packager": PACKAGER_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def pip_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """This environment without pip's configuration files nor any variable naming another package
    source: only the index (or wheelhouse) on the command line is used. Certificates, proxies and
    timeouts are kept (a TLS-inspecting proxy still needs its CA)."""
    kept = {name: value for name, value in environ.items() if name not in _PIP_SOURCE_VARIABLES}
    kept["PIP_CONFIG_FILE"] = os.devnull
    return kept


def run_pip(arguments: Sequence[str]) -> None:
    command = [sys.executable, "-m", "pip", *arguments]
    completed = subprocess.run(  # noqa: S603 - fixed argv
        command, capture_output=True, text=True, check=False, env=pip_environment(os.environ)
    )
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise PackagingError("pip could not install the Lambda dependencies: " + " | ".join(tail))


def _source_arguments(spec: PackageSpec) -> list[str]:
    if spec.wheelhouse is not None:
        if not spec.wheelhouse.is_dir():
            raise PackagingError(f"--wheelhouse {spec.wheelhouse} is not a directory")
        return ["--no-index", "--find-links", str(spec.wheelhouse)]
    return ["--index-url", spec.index_url]


def install_dependencies(spec: PackageSpec, cache_dir: Path, pip: PipRunner = run_pip) -> Path:
    """The dependency tree for `spec`, from the cache or freshly installed into it."""
    if spec.lock is None:
        raise PackagingError("no dependency lock to install")
    check_lock_fits(spec.lock, spec)
    target = cache_dir / "deps" / _deps_key(spec)[:32]
    if (target / COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="deps-", dir=target.parent))
    lock_path = staging.with_suffix(".lock.txt")
    try:
        lock_path.write_text(spec.lock.text, encoding="utf-8")
        pip(
            [
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                # Exactly the locked files: every one must match its hash, nothing else is resolved.
                "--require-hashes",
                "--no-deps",
                *_source_arguments(spec),
                "--target",
                str(staging),
                "--platform",
                spec.platform,
                "--implementation",
                "cp",
                "--python-version",
                spec.python_version,
                "--only-binary=:all:",
                "--requirement",
                str(lock_path),
            ]
        )
        (staging / COMPLETE_MARKER).write_text("ok\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        lock_path.unlink(missing_ok=True)
    return target


def _dependency_tree(spec: PackageSpec, cache_dir: Path, pip: PipRunner) -> Path | None:
    if spec.deps == NO_DEPS:
        return None
    if spec.deps != "pip":
        prebuilt = Path(spec.deps)
        if not prebuilt.is_dir():
            raise PackagingError(f"{DEPS_VARIABLE}={spec.deps} is neither 'none' nor a directory")
        return prebuilt
    return install_dependencies(spec, cache_dir, pip)


def _pyc_name(name: str, cache_tag: str) -> str:
    """`a/b.py` -> `a/__pycache__/b.<tag>.pyc`, where the import system looks for it."""
    folder, _, file_name = name.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    return f"{prefix}__pycache__/{file_name.removesuffix('.py')}.{cache_tag}.pyc"


def compile_bytecode(entries: Mapping[str, Path], compiler: Compiler, workdir: Path) -> dict[str, Path]:
    """The .pyc of every .py entry (zip name -> compiled file under `workdir`), by `compiler`.

    In sorted order, in one fresh process with a fixed hash seed (frozenset constants are marshalled
    in hash order), and named by their path in the zip, not on this machine: same sources, same bytes.
    """
    jobs = [
        (str(path), name, str(workdir / _pyc_name(name, compiler.cache_tag)))
        for name, path in sorted(entries.items())
        if name.endswith(".py")
    ]
    environment = {"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "")}
    try:
        completed = subprocess.run(  # noqa: S603 - an interpreter we probed, fixed code
            [compiler.executable, "-s", "-c", COMPILE_SCRIPT],
            input=json.dumps(jobs),
            capture_output=True,
            text=True,
            env=environment,
            timeout=COMPILER_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise PackagingError(f"compiling the bytecode with {compiler.executable} failed: {exc}") from exc
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-3:]
        raise PackagingError(f"compiling the bytecode with {compiler.executable} failed: " + " | ".join(tail))
    failed = set(json.loads(completed.stdout or "[]"))
    return {
        _pyc_name(name, compiler.cache_tag): Path(target)
        for _source, name, target in jobs
        if name not in failed
    }


def _entries(trees: Sequence[tuple[Path, str]]) -> dict[str, Path]:
    entries: dict[str, Path] = {}
    for root, prefix in trees:
        for name, path in _files(root):
            entries.setdefault(f"{prefix}{name}", path)
    return entries


def write_zip(destination: Path, trees: Sequence[tuple[Path, str]], compiler: Compiler | None = None) -> None:
    """Write the files of each (root, prefix) tree, plus their bytecode when a compiler is given,
    into a zip whose bytes depend only on their content."""
    entries = _entries(trees)
    with tempfile.TemporaryDirectory(prefix="e2p-pyc-") as workdir:
        if compiler is not None:
            entries.update(compile_bytecode(entries, compiler, Path(workdir)))
        _write_entries(destination, entries)


def _write_entries(destination: Path, entries: Mapping[str, Path]) -> None:
    with zipfile.ZipFile(destination, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, whatever machine builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes(), compresslevel=9)


def build_package(spec: PackageSpec, cache_dir: Path, pip: PipRunner = run_pip) -> BuiltPackage:
    if not (spec.handler_dir / "__init__.py").is_file():
        raise PackagingError(f"{spec.handler_dir} is not the handler package (no __init__.py)")
    deps = _dependency_tree(spec, cache_dir, pip)
    compiler = find_compiler(spec)
    digest = hashlib.sha256(PACKAGER_VERSION.encode())
    # The compiler's exact version is an input: its bytecode is in the zip.
    digest.update(f"bytecode:{compiler.version if compiler else NO_BYTECODE}\0".encode())
    _hash_tree(digest, spec.handler_dir, f"{spec.handler_dir.name}/")
    if deps is not None:
        _hash_tree(digest, deps, "")
    destination = cache_dir / f"lambda-{digest.hexdigest()[:32]}.zip"
    from_cache = destination.is_file()
    if not from_cache:
        cache_dir.mkdir(parents=True, exist_ok=True)
        trees = [(spec.handler_dir, f"{spec.handler_dir.name}/")]
        if deps is not None:
            trees.append((deps, ""))
        partial = destination.with_suffix(".partial")
        write_zip(partial, trees, compiler)
        partial.replace(destination)
        prune_zips(cache_dir)
    content_hash = hashlib.sha256(destination.read_bytes()).hexdigest()
    return BuiltPackage(
        destination, content_hash, from_cache, deps is not None, compiler.version if compiler else None
    )


def prune_zips(cache_dir: Path, keep: int = KEPT_ZIPS) -> None:
    """Forget all but the `keep` most recently built zips (the dependency trees stay)."""
    zips = sorted(cache_dir.glob("lambda-*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in zips[keep:]:
        stale.unlink(missing_ok=True)
