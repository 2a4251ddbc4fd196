from datetime import date

import pytest

from app.operator import rules


@pytest.mark.parametrize(("code", "ok"), [
    ("1234567", True), ("1234567890", True), ("123456", False), ("12345678901", False),
    ("123456a", False), ("１２３４５６７", False), ("", False), ("1234567\n", False),
])
def test_merchant_code_is_7_to_10_ascii_digits(code, ok):
    assert (rules.merchant_code_problem(code) is None) is ok


def test_emails_are_split_on_semicolons_and_normalised():
    assert rules.normalise_emails(" a@shop.example ;B@Shop.Example;; ") == (
        "a@shop.example;B@shop.example", None)
    assert rules.normalise_emails("") == ("", None)
    _, problem = rules.normalise_emails("a@shop.example, b@shop.example")
    assert problem is not None and "a@shop.example, b@shop.example" in problem


def test_parent_rules_keep_one_level():
    assert rules.parent_problem(store_id=1, store_has_children=False, parent_chain=[]) is None
    assert rules.parent_problem(store_id=1, store_has_children=False, parent_chain=[2]) is None
    assert rules.parent_problem(store_id=None, store_has_children=False, parent_chain=[2]) is None
    assert "自己" in rules.parent_problem(store_id=1, store_has_children=False, parent_chain=[1])
    assert "子商店" in rules.parent_problem(store_id=1, store_has_children=True,
                                          parent_chain=[2, 1])
    assert "本身為子商店" in rules.parent_problem(store_id=1, store_has_children=False,
                                            parent_chain=[2, 3])
    assert "已有子商店" in rules.parent_problem(store_id=1, store_has_children=True,
                                           parent_chain=[2])


def test_contract_rules():
    ok = dict(start_date=date(2026, 1, 1), end_date=date(2026, 1, 1),
              redemption_mode="redeem_after_use", enabled_methods=["cvs:ibon"],
              payout_delay_days=0, installment_period_days=None)
    assert rules.contract_problems(**ok) == {}
    assert set(rules.contract_problems(**{**ok, "end_date": date(2025, 12, 31),
                                          "payout_delay_days": -1,
                                          "enabled_methods": ["fax:paper"]})) == {
        "end_date", "payout_delay_days", "enabled_methods"}
    assert "installment_period_days" in rules.contract_problems(
        **{**ok, "redemption_mode": "installment"})
    assert set(rules.contract_problems(**{**ok, "redemption_mode": "installment"})) == {
        "installment_period_days", "installment_period_count"}
    assert rules.contract_problems(**{**ok, "redemption_mode": "installment",
                                      "installment_period_days": 30,
                                      "installment_period_count": 12}) == {}
    for count in (None, 0, -1, 61):
        assert rules.contract_problems(**{**ok, "redemption_mode": "installment",
                                          "installment_period_days": 30,
                                          "installment_period_count": count}) == {
            "installment_period_count": "分期核銷須設定期數（1 至 60 期）"}
    assert rules.contract_problems(**{**ok, "redemption_mode": "installment",
                                      "installment_period_days": 30,
                                      "installment_period_count": 60}) == {}
    assert "redemption_mode" in rules.contract_problems(**{**ok, "redemption_mode": "other"})


def test_tax_id_and_username_match_whole_values():
    assert rules.tax_id_problem("12345675") is None
    assert rules.tax_id_problem("12345675\n") is not None
    assert rules.main_username_problem("owner01") is None
    assert rules.main_username_problem("owner01\n") is not None
    assert rules.main_username_problem("店長帳號一二三") is not None
