"""PostgreSQL: a private cluster under the state folder, on the stack's port.

PostgreSQL refuses to run as root, so when the stack runs as root the cluster's
files belong to the ``postgres`` system account (created by Debian's package,
or here with ``useradd`` when missing) and initdb/pg_ctl run under that account.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from . import _proc
from ._base import Component
from .config import FERRETDB_DB, HOST, POSTGRES_DB, POSTGRES_PASSWORD, POSTGRES_USER, StackConfig
from .errors import StackError, ToolMissing

SYSTEM_USER = "postgres"
_BIN_GLOB = "/usr/lib/postgresql/*/bin/pg_ctl"
#: Linux limits a unix socket path to 107 bytes.
_MAX_SOCKET_PATH = 100


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([\d.]+)/bin/", path)
    return tuple(int(x) for x in match.group(1).split(".")) if match else (0,)


def find_bin_dir(prefer_major: str | None = None) -> Path | None:
    """The newest PostgreSQL server bin folder (Debian layout, else the PATH)."""
    found = sorted(glob.glob(_BIN_GLOB), key=_version_key)
    if prefer_major:
        for candidate in found:
            if f"/postgresql/{prefer_major}/bin/" in candidate:
                return Path(candidate).parent
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    return None


def install_postgres(echo: _proc.Echo) -> Path:
    """Install Debian's ``postgresql`` package (needs root and apt-get)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ToolMissing(
            "postgres: PostgreSQL server binaries not found (looked for "
            f"{_BIN_GLOB} and pg_ctl/initdb on PATH); install them, e.g. "
            "`sudo apt-get install -y postgresql`"
        )
    echo("postgres: PostgreSQL not installed; installing it with apt-get (first run only, takes a minute)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _proc.run(["apt-get", "update"], env=env, timeout=900, what="postgres: apt-get update")
    _proc.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        env=env,
        timeout=1800,
        what="postgres: apt-get install postgresql",
    )
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise ToolMissing(f"postgres: installed the postgresql package but found no {_BIN_GLOB}")
    return bin_dir


class Postgres(Component):
    name = "postgres"
    start_timeout = 60.0
    stop_timeout = 30.0

    def __init__(self, config: StackConfig) -> None:
        super().__init__(config)
        self.base_dir = config.state_dir / "postgres"
        self.data_dir = self.base_dir / "data"

    @property
    def port(self) -> int:
        return self.config.postgres_port

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    def is_ours(self, pid: int) -> bool:
        argv = _proc.cmdline(pid)
        # Unreadable cmdline (another user, no procfs): trust postmaster.pid.
        return not argv or "postgres" in Path(argv[0]).name or "postmaster" in argv[0]

    # -- the OS account -------------------------------------------------------
    def _account(self) -> tuple[int, int] | None:
        """(uid, gid) to run the server as, or None to run as ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            _proc.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/var/lib/postgresql",
                    "--shell",
                    "/usr/sbin/nologin",
                    SYSTEM_USER,
                ],
                what="postgres: useradd",
            )
            entry = pwd.getpwnam(SYSTEM_USER)
        return entry.pw_uid, entry.pw_gid

    def _own(self, path: Path, account: tuple[int, int] | None) -> None:
        if account is not None:
            os.chown(path, *account)

    def _pg(self, tool: str, *args: str, account: tuple[int, int] | None, timeout: float, bin_dir: Path) -> str:
        env = {
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.base_dir),
            "PGPORT": str(self.port),
        }
        user, group = account if account else (None, None)
        return _proc.run(
            [str(bin_dir / tool), *args],
            cwd=self.base_dir,
            env=env,
            user=user,
            group=group,
            timeout=timeout,
            what=f"postgres: {tool}",
        )

    def _bin_dir(self, echo: _proc.Echo) -> Path:
        major = None
        with contextlib.suppress(OSError):
            major = (self.data_dir / "PG_VERSION").read_text().strip()
        bin_dir = find_bin_dir(major) or install_postgres(echo)
        if major and f"/{major}/" not in str(bin_dir) and Path("/usr/lib/postgresql").is_dir():
            raise StackError(
                f"postgres: the cluster in {self.data_dir} is PostgreSQL {major} but only {bin_dir} is installed"
            )
        return bin_dir

    def _socket_dir(self) -> str:
        # pg_ctl and libpq also use TCP, so an over-long path just disables the socket.
        path = str(self.base_dir)
        return path if len(path) + len(f"/.s.PGSQL.{self.port}.lock") <= _MAX_SOCKET_PATH else ""

    def _check_reachable(self, account: tuple[int, int] | None) -> None:
        if account is None:
            return
        try:
            subprocess.run(
                ["test", "-w", str(self.base_dir), "-a", "-x", str(self.base_dir)],
                user=account[0],
                group=account[1],
                extra_groups=[],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except subprocess.CalledProcessError:
            raise StackError(
                f"postgres: PostgreSQL refuses to run as root, so it runs as the '{SYSTEM_USER}' account, "
                f"which cannot reach {self.base_dir}; make its parent folders searchable "
                f"(chmod o+x) or set QCP_STATE_DIR to a folder it can reach"
            ) from None

    # -- lifecycle ------------------------------------------------------------
    def prepare(self, echo: _proc.Echo) -> None:
        bin_dir = self._bin_dir(echo)
        account = self._account()
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        self.config.logs_dir.mkdir(parents=True, exist_ok=True)
        if account is not None:  # the postgres account must reach its folder and log inside
            for folder in (self.config.state_dir, self.config.logs_dir):
                mode = folder.stat().st_mode
                if mode & 0o011 != 0o011:
                    folder.chmod(mode | 0o011)
        self.base_dir.mkdir(mode=0o700, exist_ok=True)
        self._own(self.base_dir, account)
        self._check_reachable(account)
        self.log_file.touch(exist_ok=True)
        self._own(self.log_file, account)

        if not (self.data_dir / "PG_VERSION").is_file():
            echo(f"postgres: initializing a cluster in {self.data_dir} with {bin_dir / 'initdb'} (first run only)...")
            if self.data_dir.exists():  # left over from a failed initdb
                shutil.rmtree(self.data_dir)
            pwfile = self.base_dir / ".pwfile"
            pwfile.write_text(POSTGRES_PASSWORD + "\n")
            pwfile.chmod(0o600)
            self._own(pwfile, account)
            try:
                self._pg(
                    "initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    POSTGRES_USER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    account=account,
                    timeout=300,
                    bin_dir=bin_dir,
                )
            finally:
                pwfile.unlink(missing_ok=True)
            with (self.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(
                    "\n# Settings of the qcp local stack, rewritten at each start.\ninclude_if_exists = 'qcp.conf'\n"
                )

        # Rewritten at each start so that a changed port takes effect.
        qcp_conf = self.data_dir / "qcp.conf"
        qcp_conf.write_text(
            f"listen_addresses = '{HOST}'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self._socket_dir()}'\n"
            "max_connections = 200\n"
            "password_encryption = 'scram-sha-256'\n"
            "log_line_prefix = '%m [%p] %q%u@%d '\n"
            "log_timezone = 'UTC'\n"
            "timezone = 'UTC'\n"
        )
        self._own(qcp_conf, account)

    def start(self, echo: _proc.Echo) -> None:
        echo(f"postgres: starting PostgreSQL on {HOST}:{self.port}...")
        try:
            self._pg_ctl(echo, "start", ["-l", str(self.log_file)], self.start_timeout)
        except StackError as exc:
            raise self.failed(f"pg_ctl start failed: {str(exc).splitlines()[0]}") from None
        self.ensure_databases([POSTGRES_DB, FERRETDB_DB])
        return None

    def stop(self, pid: int, echo: _proc.Echo) -> None:
        try:
            self._pg_ctl(echo, "stop", ["-m", "fast"], self.stop_timeout)
        except StackError as exc:
            echo(f"postgres: fast shutdown failed ({str(exc).splitlines()[0]}); trying immediate shutdown")
            try:
                self._pg_ctl(echo, "stop", ["-m", "immediate"], 20)
            except StackError:
                _proc.terminate(pid, timeout=5, echo=echo, name=self.name)

    def _pg_ctl(self, echo: _proc.Echo, action: str, options: list[str], wait_seconds: float) -> None:
        """`pg_ctl ACTION -D data OPTIONS -w -t WAIT` as the cluster's owner; raises StackError on failure."""
        self._pg(
            "pg_ctl",
            action,
            "-D",
            str(self.data_dir),
            *options,
            "-w",
            "-t",
            str(int(wait_seconds)),
            account=self._account(),
            timeout=wait_seconds + 15,
            bin_dir=self._bin_dir(echo),
        )

    # -- health and databases -------------------------------------------------
    def _connect(self, dbname: str):
        import psycopg

        return psycopg.connect(
            host=HOST,
            port=self.port,
            user=POSTGRES_USER,
            password=POSTGRES_PASSWORD,
            dbname=dbname,
            connect_timeout=3,
            autocommit=True,
        )

    def probe(self) -> str:
        with self._connect(POSTGRES_DB) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        return (
            f"PostgreSQL {version} accepting connections on {HOST}:{self.port} "
            f"(database {POSTGRES_DB}, user {POSTGRES_USER})"
        )

    def ensure_databases(self, names: list[str]) -> list[str]:
        """Create the databases that do not exist yet; returns the ones created."""
        from psycopg import sql

        created = []
        with self._connect("postgres") as conn:
            for name in names:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    created.append(name)
        return created
