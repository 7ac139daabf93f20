"""Identifiers the associations use: unified social credit codes, region codes, contacts."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# GB 32100-2015: the code alphabet leaves out I, O, Z, S and V.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
NAMESPACE = uuid.UUID("6f1c1a52-8a7e-4f57-9d0b-5d3e7f6a2c11")


def credit_code_check_character(first_17: str) -> str:
    """The 18th character of a unified social credit code, per GB 32100-2015."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(first_17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 18:
        raise ValueError("统一社会信用代码 must have 18 characters")
    bad = sorted({char for char in code if char not in CREDIT_CODE_ALPHABET})
    if bad:
        raise ValueError(
            f"统一社会信用代码 contains characters not allowed by GB 32100-2015: {''.join(bad)}"
        )
    expected = credit_code_check_character(code[:17])
    if code[17] != expected:
        raise ValueError(
            f"统一社会信用代码 check character is {code[17]}, GB 32100-2015 gives {expected}"
        )
    return code


def validate_mobile(value: str) -> str:
    if not re.fullmatch(r"1[3-9]\d{9}", value):
        raise ValueError("mobile must be a mainland number of 11 digits starting with 1")
    return value


CreditCode = Annotated[str, AfterValidator(validate_credit_code)]
Mobile = Annotated[str, AfterValidator(validate_mobile)]
Postcode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
RegionCode = Annotated[str, StringConstraints(pattern=r"^(\d{6}|CAQ)$")]
Email = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
]


def season_key(organizer: str, year: int, kind: str) -> str:
    """The readable season id, e.g. 310000-2024-qc_group."""
    return f"{organizer}-{year}-{kind}"


def stable_uuid(*parts: object) -> uuid.UUID:
    """A deterministic id derived from natural keys, so retries land on the same aggregate."""
    return uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts))
