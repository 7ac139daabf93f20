"""The project's local stack: PostgreSQL, FerretDB (MongoDB-compatible) and Kafka
as plain processes on this machine, no Docker needed.

Used by ``qcp stack up|down|status|logs`` and by test harnesses::

    from qcp.stack import StackConfig, up, down, status

    config = StackConfig(state_dir=tmp, kafka_port=29092, postgres_port=25432, mongo_port=27028)
    up(config)                      # idempotent; raises PortTaken / ComponentFailed
    config.kafka_bootstrap          # "127.0.0.1:29092"
    config.mongo_url                # "mongodb://127.0.0.1:27028/"
    config.postgres_dsn             # "postgresql://qcp:qcp@127.0.0.1:25432/qcp"
    create_database(config, "registration")
    down(config)

State (data, logs, pid files) lives in ``config.state_dir`` (default ``.qcp`` in the
project root); downloads and builds in ``config.cache_dir`` (default ``~/.cache/qcp``).
"""

from ._base import ComponentStatus
from ._ferretdb import FERRETDB_VERSION
from ._kafka import KAFKA_VERSION
from .config import StackConfig, find_project_root
from .core import COMPONENTS, create_database, down, status, up
from .errors import ComponentFailed, PortTaken, StackError, ToolMissing

__all__ = [
    "COMPONENTS",
    "FERRETDB_VERSION",
    "KAFKA_VERSION",
    "ComponentFailed",
    "ComponentStatus",
    "PortTaken",
    "StackConfig",
    "StackError",
    "ToolMissing",
    "create_database",
    "down",
    "find_project_root",
    "status",
    "up",
]
