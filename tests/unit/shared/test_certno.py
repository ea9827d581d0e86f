"""Resident ID numbers (SPEC §2): the spec's vectors and every way a number can be wrong."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import certno
from shared.certno import InvalidCertno

pytestmark = pytest.mark.unit


def test_vector_11010519491231002X():
    parsed = certno.parse("11010519491231002X")
    assert parsed.region == "110105"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.gender == "female"  # sequence 002: even


def test_vector_440524188001010014():
    parsed = certno.parse("440524188001010014")
    assert parsed.birth_date == date(1880, 1, 1)
    assert parsed.gender == "male"  # sequence 001: odd


def test_lower_case_x_is_normalised():
    assert certno.parse("11010519491231002x").value == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("11010519491231002", "18 characters"),
        ("11010519491231002X1", "18 characters"),
        ("", "18 characters"),
        ("1101051949123100AX", "17 digits"),
        ("X10105194912310021", "17 digits"),
        ("110105194912310021", "check character"),
        ("440524188001010015", "check character"),
        ("110105202302300011", "not a real date"),  # 30 February
        ("110105199913010011", "not a real date"),  # month 13
    ],
)
def test_wrong_numbers_say_why(raw, reason):
    with pytest.raises(InvalidCertno, match=reason):
        certno.parse(raw)


def test_feb_29_exists_only_in_leap_years():
    first17 = "11010520000229001"
    assert certno.parse(first17 + certno.check_character(first17)).birth_date == date(2000, 2, 29)
    bad = "11010519000229001"
    with pytest.raises(InvalidCertno, match="not a real date"):
        certno.parse(bad + certno.check_character(bad))


def test_future_birth_date_is_refused():
    first17 = "11010520300101001"
    number = first17 + certno.check_character(first17)
    with pytest.raises(InvalidCertno, match="future"):
        certno.parse(number, today=date(2024, 1, 1))
    assert certno.parse(number, today=date(2030, 1, 1)).birth_date == date(2030, 1, 1)


@pytest.mark.parametrize(
    ("sequence", "gender"), [("001", "male"), ("002", "female"), ("999", "male")]
)
def test_gender_comes_from_the_sequence_parity(sequence, gender):
    first17 = "11010519900101" + sequence
    assert certno.parse(first17 + certno.check_character(first17)).gender == gender


def test_non_string_is_refused():
    with pytest.raises(InvalidCertno):
        certno.parse(11010519491231002)  # type: ignore[arg-type]


@given(st.from_regex(r"\A[1-6]\d{5}(19[5-9]\d|200\d)(0[1-9]|1[0-2])(0[1-9]|1\d|2[0-8])\d{3}\Z"))
def test_every_valid_number_parses_and_one_changed_digit_fails(first17):
    number = first17 + certno.check_character(first17)
    assert certno.is_valid(number)
    # change the sequence's last digit: the MOD 11-2 check catches every single-digit change
    digit = (int(number[16]) + 1) % 10
    assert not certno.is_valid(number[:16] + str(digit) + number[17])


def test_mask_and_redact_never_leave_the_number_whole():
    assert certno.mask("11010519491231002X") == "110*************2X"
    line = "registered 11010519491231002X and 440524188001010014, not 12345"
    redacted = certno.redact(line)
    assert "11010519491231002X" not in redacted
    assert "440524188001010014" not in redacted
    assert redacted.endswith("not 12345")
