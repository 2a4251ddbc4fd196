from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.tickets import codes


def test_a_new_code_is_well_formed_and_16_characters():
    code = codes.new_redemption_code()
    assert len(code) == 16 <= 18
    assert codes.is_well_formed(code)


def test_codes_do_not_repeat():
    assert len({codes.new_redemption_code() for _ in range(5000)}) == 5000


body = st.text(alphabet=codes.ALPHABET, min_size=15, max_size=15)


@given(body, st.integers(0, 14), st.sampled_from(codes.ALPHABET))
def test_any_single_mistyped_character_is_caught(b, position, replacement):
    code = b + codes.check_character(b)
    typo = code[:position] + replacement + code[position + 1:]
    assert codes.is_well_formed(typo) == (typo == code)


@given(body, st.integers(0, 14))
def test_any_swap_of_adjacent_characters_is_caught(b, position):
    code = b + codes.check_character(b)
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2:]
    assert codes.is_well_formed(swapped) == (swapped == code)


@pytest.mark.parametrize(("typed", "stored"), [
    ("abcd-efgh-jkmn-pqr5", "ABCDEFGHJKMNPQR5"),
    (" ABCD EFGH\tJKMN PQR5 ", "ABCDEFGHJKMNPQR5"),
    ("iLo0", "1100"),
])
def test_typed_codes_are_normalised(typed, stored):
    assert codes.normalise_code(typed) == stored


def test_display_in_groups_of_four():
    assert codes.display_code("ABCDEFGHJKMNPQR5") == "ABCD-EFGH-JKMN-PQR5"


@pytest.mark.parametrize("bad", ["", "SHORT", "ABCDEFGHJKMNPQRSU", "ABCDEFGHJKMNPQRS" + "X"])
def test_malformed_codes_are_refused(bad):
    assert not codes.is_well_formed(codes.normalise_code(bad))


def test_serials_look_like_the_platforms():
    serial = codes.serial("CB2SY", date(2022, 3, 2), 153)
    assert serial == "CB2SY20220302153" and len(serial) == 16
    with pytest.raises(ValueError):
        codes.serial("CB2SY", date(2022, 3, 2), 1000)


def test_order_and_pickup_codes():
    assert codes.new_order_no(date(2026, 11, 22)).startswith("ECT20261122")
    pickup = codes.new_pickup_code()
    assert len(pickup) == 12 and pickup.isdigit() and pickup[0] != "0"
    assert len(codes.new_link_token()) == 32


def test_every_pair_of_symbols_swapped_anywhere_is_caught():
    base = "7" * 15
    for position in range(15):
        for a in codes.ALPHABET:
            for b in codes.ALPHABET:
                if a == b:
                    continue
                body = base[:position] + a + b + base[position + 2:]
                body = body[:15]
                code = body + codes.check_character(body)
                if code[position] == code[position + 1]:
                    continue  # swapping a body character with an equal check character
                swapped = code[:position] + code[position + 1] + code[position] + code[position + 2:]
                assert not codes.is_well_formed(swapped), (code, swapped)
