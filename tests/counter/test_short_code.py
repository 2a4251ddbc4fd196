"""The counter's first word on a short code is its length (app.tickets.codes.length_message)."""

import pytest

from app.tickets import codes


@pytest.mark.parametrize(("typed", "message"), [
    ("ABCD", "核銷代碼應為 16 碼，目前輸入 4 碼"),
    ("abcd-efgh-jkmn-pq", "核銷代碼應為 16 碼，目前輸入 14 碼"),
    (" a ", "核銷代碼應為 16 碼，目前輸入 1 碼"),
    ("", None),
    ("ABCDEFGHJKMNPQR5", None),  # the right length: the check character speaks
    ("ABCDEFGHJKMNPQR5X", None),
])
def test_a_short_code_is_told_its_length(typed, message):
    assert codes.length_message(typed) == message
