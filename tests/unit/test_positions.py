"""Positions of events as commands answer them and reads ask for them: written and read back, refused when malformed."""

from __future__ import annotations

import pytest

from infra.errors import RuleViolation
from infra.positions import Position

AGGREGATE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def test_a_position_reads_back_as_it_is_written() -> None:
    assert Position.parse(f"{AGGREGATE}@12") == Position(AGGREGATE, 12)
    assert str(Position(AGGREGATE, 12)) == f"{AGGREGATE}@12"


def test_an_aggregate_id_is_read_in_its_canonical_form() -> None:
    assert Position.parse(f"{AGGREGATE.upper()}@3").aggregate_id == AGGREGATE


@pytest.mark.parametrize(
    "malformed",
    ["", "@", "12", AGGREGATE, f"{AGGREGATE}@", f"{AGGREGATE}@0", f"{AGGREGATE}@-1", f"{AGGREGATE}@+2",
     f"{AGGREGATE}@1.5", f"{AGGREGATE}@ 2", "entry-1@2", f"{AGGREGATE}@2@3"],
)
def test_a_malformed_position_is_refused_naming_the_parameter(malformed: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        Position.parse(malformed)
    assert (refused.value.field, refused.value.rule) == ("min_position", "read.min_position.format")


def test_a_command_answer_gives_its_position_only_when_it_names_an_aggregate_and_version() -> None:
    assert Position.of_answer({"aggregate_id": AGGREGATE, "version": 4, "event": "X"}) == Position(AGGREGATE, 4)
    assert Position.of_answer({"season_id": "s"}) is None
    assert Position.of_answer({"aggregate_id": AGGREGATE, "version": "4"}) is None
