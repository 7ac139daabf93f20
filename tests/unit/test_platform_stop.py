"""Stopping the embedded platform cannot be cut short: a second Ctrl-C or a SIGTERM while the services stop waits
for the stop, then the handlers the command had are back."""

from __future__ import annotations

import os
import signal

from qcp.embedded import stop_uninterrupted


class StoppingPlatform:
    """Interrupted while it stops: records what a second Ctrl-C and a SIGTERM did to the stop."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        self.stopped = True


def test_a_second_interrupt_waits_for_the_services_to_stop() -> None:
    default_interrupt, default_terminate = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    platform = StoppingPlatform()

    stop_uninterrupted(platform)  # type: ignore[arg-type]

    assert platform.stopped
    assert signal.getsignal(signal.SIGINT) is default_interrupt
    assert signal.getsignal(signal.SIGTERM) is default_terminate
