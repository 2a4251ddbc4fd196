"""The contact rules of 廠商基本資料: phones (mobile or landline with area code and extension),
names (at most 20 characters), and every field checked before any is kept."""

from __future__ import annotations

import pytest

from app.merchant import rules
from app.phones import normalise_phone

PHONES = [
    # (written, kept)
    ("0912-345-678", "0912345678"),
    ("+886 912 345 678", "0912345678"),
    ("０９１２３４５６７８", "0912345678"),
    ("(02)2345-6789", "02-23456789"),
    ("02 2345 6789", "02-23456789"),
    ("+886-2-2345-6789", "02-23456789"),
    ("02-2345-6789#123", "02-23456789#123"),
    ("02-23456789 分機 45", "02-23456789#45"),
    ("02-23456789 ext. 7", "02-23456789#7"),
    ("04-2345678", "04-2345678"),
    ("04-23456789", "04-23456789"),
    ("037-123456", "037-123456"),
    ("049-2345678", "049-2345678"),
    ("07-3456789轉1001", "07-3456789#1001"),
    ("082-123456", "082-123456"),
    ("0826-12345", "0826-12345"),
    ("0836-12345", "0836-12345"),
    ("089-123456", "089-123456"),
    ("０２－２３４５－６７８９", "02-23456789"),
    # not phones
    ("02-2345678", None),  # Taipei numbers have eight digits
    ("07-34567890", None),
    ("0912345678#12", None),  # a mobile takes no extension
    ("02-23456789#1234567", None),  # extensions have at most six digits
    ("2345-6789", None),  # no area code
    ("01-2345678", None),
    ("abc", None),
    ("", None),
]


@pytest.mark.parametrize(("written", "kept"), PHONES)
def test_contact_phones(written, kept):
    assert normalise_phone(written) == kept


def _raw(**overrides: str) -> dict[str, str | None]:
    return {column: "" for column in rules.contact_columns()} | overrides


def test_every_contact_column_is_named_role_by_role():
    assert rules.contact_columns() == [
        "finance_name", "finance_phone", "finance_emails", "sales_name", "sales_phone",
        "sales_emails", "technical_name", "technical_phone", "technical_emails"]


def test_good_contacts_are_normalised():
    checked = rules.check_contacts(_raw(finance_name="  王  小明 ", finance_phone="(02)2345-6789#9",
                                        finance_emails="a@x.tw; b@x.tw;", sales_phone="0912 345 678"))
    assert checked.problems == {}
    assert checked.values["finance_name"] == "王 小明"
    assert checked.values["finance_phone"] == "02-23456789#9"
    assert checked.values["finance_emails"] == "a@x.tw;b@x.tw"
    assert checked.values["sales_phone"] == "0912345678"
    assert checked.values["technical_phone"] == ""


@pytest.mark.parametrize(("column", "value", "message"), [
    ("finance_name", "王" * 21, "帳務聯絡人姓名至多 20 字（目前 21 字）"),
    ("sales_name", "a\u200bb", "業務聯絡人姓名含有無法顯示的字元"),
    ("technical_phone", "1234", "技術聯絡人電話：「1234」不是有效的電話號碼"),
    ("finance_emails", "x@;y", "帳務聯絡人：「x@」不是有效的電子信箱"),
])
def test_a_bad_field_is_named(column, value, message):
    checked = rules.check_contacts(_raw(**{column: value}))
    assert list(checked.problems) == [column]
    assert checked.problems[column].startswith(message)


def test_a_name_of_twenty_characters_is_kept():
    checked = rules.check_contacts(_raw(finance_name="王" * 20))
    assert checked.problems == {} and checked.values["finance_name"] == "王" * 20


def test_every_problem_is_reported_at_once():
    checked = rules.check_contacts(_raw(finance_phone="12", sales_name="名" * 30,
                                        technical_emails="nope"))
    assert set(checked.problems) == {"finance_phone", "sales_name", "technical_emails"}
