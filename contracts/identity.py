"""Identifiers the associations use: unified social credit codes, region codes, contacts.

Each validator refuses with a rule id (the error's type) and a message that says what is expected.
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

# GB 32100-2015: the code alphabet leaves out I, O, Z, S and V.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
NAMESPACE = uuid.UUID("6f1c1a52-8a7e-4f57-9d0b-5d3e7f6a2c11")

# GB/T 2260: the first two digits of an administrative division code name the province.
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}
NATIONAL_ORGANIZER = "CAQ"


def credit_code_check_character(first_17: str) -> str:
    """The 18th character of a unified social credit code, per GB 32100-2015."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(first_17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


@functools.lru_cache(maxsize=16_384)  # a batch names each unit several times (form, event, replay): checked once
def validate_credit_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 18:
        raise PydanticCustomError(
            "identity.credit_code.length", "统一社会信用代码 must have 18 characters, this one has {length}",
            {"length": len(code)},
        )
    bad = sorted({char for char in code if char not in CREDIT_CODE_ALPHABET})
    if bad:
        raise PydanticCustomError(
            "identity.credit_code.alphabet",
            "统一社会信用代码 contains characters not allowed by GB 32100-2015: {bad}",
            {"bad": "".join(bad)},
        )
    expected = credit_code_check_character(code[:17])
    if code[17] != expected:
        raise PydanticCustomError(
            "identity.credit_code.check_character",
            "统一社会信用代码 check character is {given}, GB 32100-2015 gives {expected}: a character is mistyped",
            {"given": code[17], "expected": expected},
        )
    return code


def _digits_of_phone(value: object) -> object:
    """Spaces, hyphens and a +86 country code are how people write numbers; the stored form has none."""
    if not isinstance(value, str):
        return value
    compact = re.sub(r"[\s\-()（）]", "", value)
    return re.sub(r"^(\+?86)(?=1[0-9]{10}$)", "", compact)


def validate_mobile(value: str) -> str:
    if not re.fullmatch(r"1[3-9][0-9]{9}", value):
        raise PydanticCustomError(
            "identity.mobile", "mobile must be a mainland number of 11 digits starting with 1 (e.g. 13912345678)"
        )
    return value


def validate_phone(value: str) -> str:
    """A mainland landline with its area code (e.g. 021-52588838) or a mobile."""
    digits = re.sub(r"[\s\-()（）]", "", value)
    if re.fullmatch(r"1[3-9][0-9]{9}", digits) or re.fullmatch(r"0[0-9]{9,11}([0-9]{1,6})?", digits):
        return value
    raise PydanticCustomError(
        "identity.phone", "phone must be a landline with its area code (e.g. 021-52588838) or a mobile number"
    )


def validate_postcode(value: str) -> str:
    if not re.fullmatch(r"[0-9]{6}", value):
        raise PydanticCustomError("identity.postcode", "邮编 (postcode) must be 6 digits, e.g. 200052")
    return value


def validate_email(value: str) -> str:
    if len(value) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise PydanticCustomError("identity.email", "E-mail must look like name@example.com")
    return value


def validate_region_code(value: str) -> str:
    """A GB/T 2260 administrative division code (6 digits, a known province) or CAQ for the national association."""
    code = value.strip().upper()
    if code == NATIONAL_ORGANIZER:
        return code
    if not re.fullmatch(r"[0-9]{6}", code):
        raise PydanticCustomError(
            "identity.region_code",
            "an organizer or region is a 6-digit GB/T 2260 code (e.g. 310000 上海市) or CAQ for 中国质量协会",
        )
    if code[:2] not in PROVINCES:
        raise PydanticCustomError(
            "identity.region_code.province",
            "{code} is not a GB/T 2260 code: no province has the prefix {prefix}",
            {"code": code, "prefix": code[:2]},
        )
    return code


def region_label(code: str) -> str | None:
    """The province's name for a region code, or 中国质量协会 for CAQ."""
    if code == NATIONAL_ORGANIZER:
        return "中国质量协会"
    return PROVINCES.get(code[:2])


CreditCode = Annotated[
    str,
    AfterValidator(validate_credit_code),
    WithJsonSchema({"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$", "description": "统一社会信用代码 (GB 32100-2015)"}),
]
Mobile = Annotated[
    str,
    BeforeValidator(_digits_of_phone),
    AfterValidator(validate_mobile),
    WithJsonSchema({"type": "string", "pattern": "^1[3-9][0-9]{9}$", "description": "手机 (mainland mobile)"}),
]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=30),
    AfterValidator(validate_phone),
    WithJsonSchema({"type": "string", "maxLength": 30, "description": "电话 (landline with area code, or mobile)",
                    "pattern": "^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?)$"}),
]
Postcode = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(validate_postcode),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{6}$", "description": "邮编"}),
]
RegionCode = Annotated[
    str,
    AfterValidator(validate_region_code),
    WithJsonSchema({"type": "string", "pattern": f"^(({'|'.join(sorted(PROVINCES))})[0-9]{{4}}|CAQ)$",
                    "description": "GB/T 2260 code (of a province) or CAQ"}),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(validate_email),
    WithJsonSchema({"type": "string", "maxLength": 254, "format": "email", "description": "E-mail"}),
]


def season_key(organizer: str, year: int, kind: str) -> str:
    """The readable season id, e.g. 310000-2024-qc_group."""
    return f"{organizer}-{year}-{kind}"


def stable_uuid(*parts: object) -> uuid.UUID:
    """A deterministic id derived from natural keys, so retries land on the same aggregate."""
    return uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts))
