"""FerretDB: a MongoDB-compatible server, FerretDB 1.x embedded in the project's
own small Go program (``ferretdb/main.go``), built once with the Go toolchain
into ``<cache>/ferretdb-<hash of the Go sources>/ferretdb``.

Its data lives in the database ``ferretdb`` of the stack's PostgreSQL cluster
(``postgresql`` handler, the default) or in SQLite files under the state folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

from . import _proc
from ._base import PACKAGE_DIR, Component
from .config import FERRETDB_DB, HOST, StackConfig
from .errors import ToolMissing

SOURCE_DIR = PACKAGE_DIR / "ferretdb"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
# Applied to FerretDB's own source before the build (each file says why in its hunks):
# - an `_id` equal to a string is found through the `_id` index, not by a scan of the whole collection (every
#   version-guarded read-model write filters by `_id`);
# - an update command releases each update's connection before the next, instead of holding them all to its end
#   (a command of more updates than the pool has connections hung the server).
PATCHES = ("id-index-lookup.patch", "update-releases-connections.patch")
SOURCE_FILES = ("go.mod", "go.sum", "main.go", *PATCHES)
BINARY_NAME = "ferretdb"
#: Database the health check writes its one document to.
HEALTH_DB = "qcp_stack"


def _ferretdb_version() -> str:
    match = re.search(r"github\.com/FerretDB/FerretDB\s+(v[\w.\-+]+)", (SOURCE_DIR / "go.mod").read_text())
    return match.group(1) if match else "unknown"


FERRETDB_VERSION = _ferretdb_version()


def source_digest() -> str:
    digest = hashlib.sha256()
    for name in SOURCE_FILES:
        digest.update(name.encode() + b"\0" + (SOURCE_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _go() -> str:
    found = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if Path(p).is_file()), None
    )
    if not found:
        raise ToolMissing("ferretdb: the Go toolchain (`go`, 1.24 or newer) is needed once to build FerretDB")
    return found


class FerretDB(Component):
    name = "ferretdb"
    start_timeout = 30.0
    stop_timeout = 15.0

    def __init__(self, config: StackConfig) -> None:
        super().__init__(config)
        self.build_dir = config.cache_dir / f"ferretdb-{source_digest()}"
        self.binary = self.build_dir / BINARY_NAME
        self.base_dir = config.state_dir / "ferretdb"

    @property
    def port(self) -> int:
        return self.config.mongo_port

    def requires(self) -> list[str]:
        return ["postgres"] if self.config.ferretdb_handler == "postgresql" else []

    def is_ours(self, pid: int) -> bool:
        argv = _proc.cmdline(pid)
        return bool(argv) and Path(argv[0]).name == BINARY_NAME and f"{HOST}:{self.port}" in argv

    # -- build ------------------------------------------------------------------
    def binary_ready(self) -> bool:
        return self.binary.is_file() and os.access(self.binary, os.X_OK)

    def ensure_binary(self, echo: _proc.Echo) -> None:
        if self.binary_ready():
            return
        # The cache is shared by every state folder: one build at a time.
        with _proc.locked(self.config.cache_dir / f"{self.build_dir.name}.lock", echo):
            if not self.binary_ready():
                self._build(echo)

    def _build(self, echo: _proc.Echo) -> None:
        go = _go()
        echo(
            f"ferretdb: building FerretDB {FERRETDB_VERSION} with go into {self.build_dir} "
            "(first run only, downloads modules and compiles for a minute or more)..."
        )
        work = self.config.cache_dir / f"ferretdb-{source_digest()}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        (work / "src").mkdir(parents=True)
        for name in SOURCE_FILES:
            shutil.copy2(SOURCE_DIR / name, work / "src" / name)
        env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
        self._patched_module(go, work, env)
        _proc.run(
            [go, "build", "-trimpath", "-o", str(work / BINARY_NAME), "."],
            cwd=work / "src",
            env=env,
            timeout=3600,
            what="ferretdb: go build",
        )
        self.build_dir.mkdir(parents=True, exist_ok=True)
        (work / BINARY_NAME).replace(self.binary)
        shutil.rmtree(work, ignore_errors=True)
        echo(f"ferretdb: built {self.binary}")

    def _patched_module(self, go: str, work: Path, env: dict[str, str]) -> None:
        """FerretDB's module source, downloaded, copied into `work`, patched, and put in place of the module."""
        listing = _proc.run(
            [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
            cwd=work / "src", env=env, timeout=1800, what="ferretdb: go mod download",
        )
        module_dir = Path(json.loads(listing[listing.index("{"):listing.rindex("}") + 1])["Dir"])
        patched = work / "ferretdb-module"
        shutil.copytree(module_dir, patched)
        for path in patched.rglob("*"):  # the module cache is read-only
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        # a repository of its own, so that `git apply` takes the patch's paths from here even when the cache
        # lies inside another repository
        _proc.run(["git", "init", "-q"], cwd=patched, env=env, timeout=60, what="ferretdb: git init")
        for name in PATCHES:
            _proc.run(["git", "apply", "-p1", str(SOURCE_DIR / name)], cwd=patched, env=env, timeout=60,
                      what=f"ferretdb: apply {name}")
        _proc.run([go, "mod", "edit", f"-replace={FERRETDB_MODULE}={patched}"], cwd=work / "src", env=env,
                  timeout=60, what="ferretdb: go mod edit")

    # -- lifecycle --------------------------------------------------------------
    def prepare(self, echo: _proc.Echo) -> None:
        self.ensure_binary(echo)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.config.ferretdb_handler == "sqlite":
            (self.base_dir / "sqlite").mkdir(exist_ok=True)
        else:
            from ._postgres import Postgres

            created = Postgres(self.config).ensure_databases([FERRETDB_DB])
            if created:
                echo(f"ferretdb: created database {FERRETDB_DB} in PostgreSQL")

    def argv(self) -> list[str]:
        return [
            str(self.binary),
            "-listen-addr",
            f"{HOST}:{self.port}",
            "-handler",
            self.config.ferretdb_handler,
            "-postgresql-url",
            # FerretDB's own pool defaults to 50 connections and stops answering when concurrent
            # operations exhaust it; the cluster allows 200, the services' clients are bounded to 10 each.
            self.config.postgres_dsn_for(FERRETDB_DB) + "?pool_max_conns=150",
            "-sqlite-url",
            f"file:{self.base_dir / 'sqlite'}/",
            # info logs every connection and warn every failed command (pymongo always sends the
            # unsupported endSessions on close); set QCP_FERRETDB_LOG_LEVEL=warn, info or debug for more.
            "-log-level",
            os.environ.get("QCP_FERRETDB_LOG_LEVEL", "error"),
        ]

    def start(self, echo: _proc.Echo):
        echo(
            f"ferretdb: starting FerretDB {FERRETDB_VERSION} ({self.config.ferretdb_handler} backend) "
            f"on {HOST}:{self.port}..."
        )
        proc = _proc.spawn_detached(self.argv(), self.log_file, cwd=self.base_dir)
        _proc.write_pid(self.pid_file, proc.pid)
        return proc

    # -- health -----------------------------------------------------------------
    def probe(self) -> str:
        from pymongo import MongoClient

        client: MongoClient = MongoClient(
            self.config.mongo_url,
            serverSelectionTimeoutMS=3000,
            connectTimeoutMS=3000,
            socketTimeoutMS=5000,
            appname="qcp-stack-health",
        )
        try:
            client.admin.command("ping")
            info = client.admin.command("buildInfo")
            # A write reaches the backend (reads and listDatabases can answer from FerretDB's
            # cache, empty, while PostgreSQL is down); one tiny document in its own database.
            client[HEALTH_DB]["health"].update_one(
                {"_id": "probe"}, {"$set": {"at": datetime.now(UTC)}, "$inc": {"n": 1}}, upsert=True
            )
        finally:
            client.close()
        version = info.get("ferretdbVersion") or FERRETDB_VERSION
        if version == "unknown":
            version = FERRETDB_VERSION
        return (
            f"FerretDB {version} ({self.config.ferretdb_handler} backend, MongoDB {info.get('version')} "
            f"wire protocol) answering on {HOST}:{self.port}"
        )
