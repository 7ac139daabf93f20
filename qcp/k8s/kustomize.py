"""kustomize itself: kustomize's Go library (``kustomize/main.go``, version pinned in its go.mod),
built once with the Go toolchain into ``<cache>/kustomize-<hash of the Go sources>/kustomize``.

:func:`build` runs it like ``kustomize build DIR`` and returns the objects.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from qcp.stack import _proc
from qcp.stack.config import StackConfig
from qcp.stack.errors import StackError

from . import K8sToolError

SOURCE_DIR = Path(__file__).resolve().parent / "kustomize"
SOURCE_FILES = ("go.mod", "go.sum", "main.go")
BINARY_NAME = "kustomize"
# The Go toolchain that go.mod names must be this machine's: never download another one.
GO_ENV = {"GOFLAGS": "-mod=mod", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}

Obj = dict[str, Any]


class KustomizeError(Exception):
    """kustomize refused to build a kustomization; the message is kustomize's own."""


def _kustomize_version() -> str:
    match = re.search(r"sigs\.k8s\.io/kustomize/api\s+(v[\w.\-+]+)", (SOURCE_DIR / "go.mod").read_text())
    return match.group(1) if match else "unknown"


KUSTOMIZE_API_VERSION = _kustomize_version()


def source_digest() -> str:
    digest = hashlib.sha256()
    for name in SOURCE_FILES:
        digest.update(name.encode() + b"\0" + (SOURCE_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def go_binary() -> str:
    """The Go toolchain (needed once, to build kustomize and to download the operators' modules)."""
    found = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if Path(p).is_file()), None
    )
    if not found:
        raise K8sToolError("the Go toolchain (`go`, the version kustomize's go.mod names or newer) is needed once "
                           "to build kustomize and to download the operators' CRDs")
    return found


def binary_path(cache_dir: Path | None = None) -> Path:
    cache_dir = cache_dir or StackConfig().cache_dir
    return cache_dir / f"kustomize-{source_digest()}" / BINARY_NAME


def ensure_binary(cache_dir: Path | None = None, echo: _proc.Echo = print) -> Path:
    """The built kustomize, building it first if this cache does not hold it yet."""
    binary = binary_path(cache_dir)
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    # The cache is shared by every worktree and test process: one build at a time.
    with _proc.locked(binary.parent.with_suffix(".lock"), echo):
        if not binary.is_file():
            _build(binary, echo)
    return binary


def _build(binary: Path, echo: _proc.Echo) -> None:
    go = go_binary()
    echo(f"kustomize: building kustomize {KUSTOMIZE_API_VERSION} with go into {binary.parent} "
         "(first run only: downloads its modules and compiles, about a minute)...")
    started = time.monotonic()
    work = binary.parent.with_suffix(".tmp")
    shutil.rmtree(work, ignore_errors=True)
    (work / "src").mkdir(parents=True)
    for name in SOURCE_FILES:
        shutil.copy2(SOURCE_DIR / name, work / "src" / name)
    try:
        _proc.run([go, "build", "-trimpath", "-o", str(work / BINARY_NAME), "."], cwd=work / "src",
                  env={**os.environ, **GO_ENV}, timeout=1800, what="kustomize: go build")
    except StackError as exc:
        raise K8sToolError(f"could not build kustomize {KUSTOMIZE_API_VERSION} (it needs this machine's Go "
                           f"toolchain and the Go module proxy once): {exc}") from None
    binary.parent.mkdir(parents=True, exist_ok=True)
    (work / BINARY_NAME).replace(binary)
    shutil.rmtree(work, ignore_errors=True)
    echo(f"kustomize: built {binary} in {time.monotonic() - started:.0f} s")


def build(directory: Path, cache_dir: Path | None = None) -> list[Obj]:
    """The objects ``kustomize build directory`` makes, in kustomize's order."""
    done = subprocess.run([str(ensure_binary(cache_dir)), "build", str(directory)], capture_output=True,
                          text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise KustomizeError(f"kustomize build {directory}: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]


def build_inline(kustomization: Obj, cache_dir: Path | None = None) -> list[Obj]:
    """Build a kustomization given as data, its resources and components named by absolute paths.

    It is written to a temporary folder; kustomize wants relative paths, so they are made relative to it."""
    with tempfile.TemporaryDirectory(prefix="qcp-kustomization-") as tmp:
        written = {key: [os.path.relpath(entry, tmp) if os.path.isabs(entry) else entry for entry in value]
                   if key in ("resources", "components") else value for key, value in kustomization.items()}
        (Path(tmp) / "kustomization.yaml").write_text(yaml.safe_dump(written))
        return build(Path(tmp), cache_dir)
