"""Exceptions of the local stack."""

from __future__ import annotations


class StackError(Exception):
    """Something in the local stack could not be done; the message says what and why."""


class PortTaken(StackError):
    """A port the stack needs is already used by a process that is not this stack's."""

    def __init__(self, component: str, port: int, host: str = "127.0.0.1") -> None:
        self.component = component
        self.port = port
        self.host = host
        super().__init__(
            f"{component}: port {port} on {host} is already in use by another process; "
            f"stop that process or choose another port for {component} "
            f"(QCP_{'MONGO' if component == 'ferretdb' else component.upper()}_PORT)"
        )


class ComponentFailed(StackError):
    """A component did not start or did not become healthy in time."""

    def __init__(self, component: str, reason: str, log_tail: str = "", log_file: str = "") -> None:
        self.component = component
        self.reason = reason
        self.log_tail = log_tail
        self.log_file = log_file
        message = f"{component}: {reason}"
        if log_tail:
            message += f"\n--- last lines of {log_file or 'its log'} ---\n{log_tail.rstrip()}"
        super().__init__(message)


class ToolMissing(StackError):
    """A tool the stack needs (java, mvn, go, PostgreSQL) is not installed."""
