"""With several workers on one event store, one relay publishes and the others stand by until it goes."""

from __future__ import annotations

import pytest

from infra.relay_lease import lease_for
from tests.harness import isolated_settings, new_namespace, on_postgres


@pytest.mark.parametrize("event_store", ["sqlite", "postgres"])
def test_one_relay_holds_the_lease_and_another_takes_over_when_it_goes(stack, tmp_path, event_store) -> None:
    settings = isolated_settings(stack, "review", tmp_path, new_namespace())
    if event_store == "postgres":
        settings = on_postgres(stack, settings)
    leader, standby = lease_for(settings, settings.own_topic), lease_for(settings, settings.own_topic)
    try:
        assert leader.try_acquire()
        assert not standby.try_acquire()
        assert leader.try_acquire(), "the leader keeps its lease"
        leader.release()
        assert standby.try_acquire()
        assert not leader.try_acquire()
    finally:
        leader.release()
        standby.release()
