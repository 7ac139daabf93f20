"""Unified social credit codes are checked as GB 32100-2015 says."""

import pytest

from contracts.identity import credit_code_check_character, validate_credit_code


def test_a_published_example_code_is_valid() -> None:
    assert validate_credit_code("91350100M000100Y43") == "91350100M000100Y43"


def test_lower_case_is_accepted_and_normalised() -> None:
    assert validate_credit_code("91350100m000100y43") == "91350100M000100Y43"


def test_a_wrong_check_character_is_refused_naming_the_expected_one() -> None:
    with pytest.raises(ValueError, match="GB 32100-2015 gives 3"):
        validate_credit_code("91350100M000100Y44")


def test_letters_outside_the_alphabet_are_refused() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        validate_credit_code("91350100M000100O43")


def test_the_length_must_be_eighteen() -> None:
    with pytest.raises(ValueError, match="18 characters"):
        validate_credit_code("9135010")


def test_check_character_may_be_zero() -> None:
    # the remainder case 31 - 0 maps to the alphabet's first character
    codes = [f"{n:017d}" for n in range(200)]
    assert all(credit_code_check_character(code) in "0123456789ABCDEFGHJKLMNPQRTUWXY" for code in codes)
