"""The statistics tables' derived rates (统计表: 普及率, 成果率): the arithmetic and the figures behind each rate.

Submission derives them from one filing, stats from the figures summed over recommending units, organizers and
provinces; both keep the result as a `DerivedRate` with its formula and figures.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import Field

from contracts.common import Payload

RATE_FORMULAS = {
    "participation_rate": "本年度QC小组普及率=参加QC小组人数/职工总数×100%",
    "achievement_rate": "本年度QC小组成果率=取得成果小组数/QC小组注册数×100%",
}


class DerivedRate(Payload):
    """A rate the platform computed, with the formula and the figures behind it."""

    value: Decimal | None = Field(description="percent, 2 decimal places, half up; null when the denominator is 0")
    unit: Literal["%"] = "%"
    formula: str
    numerator: int
    denominator: int


# Each derived rate of the QC table: its numerator's and denominator's figures. Submission derives them
# from one filing, stats from the figures summed over recommending units, organizers and provinces.
RATE_FIGURES = {
    "participation_rate": ("participants", "total_staff"),
    "achievement_rate": ("groups_with_results", "registered_groups"),
}
HUNDREDTH = Decimal("0.01")


def rate(numerator: int, denominator: int, formula: str) -> DerivedRate:
    """numerator / denominator × 100 %, 2 places, half up; no value when the denominator is 0."""
    value = None
    if denominator:
        value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)
    return DerivedRate(value=value, formula=formula, numerator=numerator, denominator=denominator)


def derived_rates_of(figures: dict[str, Any]) -> dict[str, DerivedRate]:
    """The QC table's rates from its figures (one filing's, or sums of several)."""
    return {
        name: rate(int(figures.get(numerator) or 0), int(figures.get(denominator) or 0), RATE_FORMULAS[name])
        for name, (numerator, denominator) in RATE_FIGURES.items()
    }
