"""Configuration of the local stack: folders, ports and connection strings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"

#: Database superuser of the local PostgreSQL cluster (also its password).
POSTGRES_USER = "qcp"
POSTGRES_PASSWORD = "qcp"
POSTGRES_DB = "qcp"
#: Database that FerretDB's PostgreSQL backend keeps its data in.
FERRETDB_DB = "ferretdb"

FERRETDB_HANDLERS = ("postgresql", "sqlite")


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current folder)
    that holds a ``pyproject.toml``; else the project this package lives in;
    else the current folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "pyproject.toml").is_file():
        return package_root
    return here


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a port number, got {value!r}") from None


def _default_state_dir() -> Path:
    return _env_path("QCP_STATE_DIR", find_project_root() / ".qcp")


def _default_cache_dir() -> Path:
    return _env_path("QCP_CACHE_DIR", Path("~/.cache/qcp").expanduser())


@dataclass
class StackConfig:
    """Where the local stack keeps its state and which ports it listens on.

    ``StackConfig()`` reads the environment (``QCP_STATE_DIR``, ``QCP_CACHE_DIR``,
    ``QCP_KAFKA_PORT``, ``QCP_POSTGRES_PORT``, ``QCP_MONGO_PORT``,
    ``QCP_FERRETDB_HANDLER``); keyword arguments override it, which is what
    test harnesses do to run a second stack beside the default one.
    """

    state_dir: Path = field(default_factory=_default_state_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    kafka_port: int = field(default_factory=lambda: _env_int("QCP_KAFKA_PORT", 19092))
    postgres_port: int = field(default_factory=lambda: _env_int("QCP_POSTGRES_PORT", 15432))
    mongo_port: int = field(default_factory=lambda: _env_int("QCP_MONGO_PORT", 27018))
    #: FerretDB backend: ``postgresql`` (a database in the stack's cluster) or ``sqlite``.
    ferretdb_handler: str = field(default_factory=lambda: os.environ.get("QCP_FERRETDB_HANDLER", "postgresql"))

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).expanduser().absolute()
        self.cache_dir = Path(self.cache_dir).expanduser().absolute()
        for name in ("kafka_port", "postgres_port", "mongo_port"):
            port = int(getattr(self, name))
            if not 0 < port < 65535:
                raise ValueError(f"{name} out of range: {port}")
            setattr(self, name, port)
        if self.ferretdb_handler not in FERRETDB_HANDLERS:
            raise ValueError(f"ferretdb_handler must be one of {FERRETDB_HANDLERS}, got {self.ferretdb_handler!r}")

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls()

    # -- Kafka ---------------------------------------------------------------
    @property
    def kafka_controller_port(self) -> int:
        return self.kafka_port + 1

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    # -- MongoDB-compatible server (FerretDB) --------------------------------
    @property
    def mongo_url(self) -> str:
        return f"mongodb://{HOST}:{self.mongo_port}/"

    # -- PostgreSQL ----------------------------------------------------------
    @property
    def postgres_host(self) -> str:
        return HOST

    @property
    def postgres_user(self) -> str:
        return POSTGRES_USER

    @property
    def postgres_password(self) -> str:
        return POSTGRES_PASSWORD

    @property
    def postgres_db(self) -> str:
        return POSTGRES_DB

    @property
    def postgres_dsn(self) -> str:
        return self.postgres_dsn_for(POSTGRES_DB)

    def postgres_dsn_for(self, dbname: str) -> str:
        """Connection URL for another database of the cluster (see ``create_database``)."""
        return f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@{HOST}:{self.postgres_port}/{dbname}"

    # -- folders -------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    def log_file(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"
