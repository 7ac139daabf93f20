"""The project's own fault suite (`qcp chaos`): a steady load of real commands while processes and the stack's
servers are killed, frozen and restarted, then a reconciliation of what was accepted with what was stored,
published, projected and counted."""

from qcp.chaos.faults import ALL_FAULTS, parse_faults
from qcp.chaos.run import ChaosOptions, ChaosResult, run_chaos

__all__ = ["ALL_FAULTS", "ChaosOptions", "ChaosResult", "parse_faults", "run_chaos"]
