"""The 費率 section of the operator's store page: list, add, delete, refusals shown on the page."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app import clock
from app.billing.models import FeeKind, FeeRate
from app.db import db
from app.stores.models import RedemptionMode
from tests.factories import login, make_account, make_store
from tests.operator.helpers import operator_logged_in


def _setup(app, client, mode=RedemptionMode.REDEEM_AFTER_USE):  # noqa: ANN001, ANN202
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 0))
    with app.app_context():
        store = make_store("費率商店", mode=mode)
        make_account(store, username="owner31")
        db.session.add(FeeRate(store_id=store.id, kind=FeeKind.SMS,
                               effective_from=date(2026, 1, 1), amount=2))
        db.session.commit()
        operator_logged_in(client)
        return store.id


def _count(app) -> int:  # noqa: ANN001
    with app.app_context():
        return db.session.scalar(select(func.count(FeeRate.id)))


def _form(**overrides: str) -> dict[str, str]:
    data = {"rate-kind": "return", "rate-effective_from": "2026-12-01", "rate-amount": "",
            "rate-percent": "1.5"}
    data.update(overrides)
    return data


def test_store_page_lists_rates_and_adds_one(app, client):
    store_id = _setup(app, client)
    html = client.get(f"/operator/stores/{store_id}").get_data(as_text=True)
    assert 'data-testid="rates"' in html and "票券-簡訊服務費" in html and "NT$2" in html
    assert "從 2026/01/01 起" in html and "目前費率" in html and "未設定（不收費）" in html
    response = client.post(f"/operator/stores/{store_id}/rates", data=_form())
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/operator/stores/{store_id}#rates")
    html = client.get(f"/operator/stores/{store_id}").get_data(as_text=True)
    assert "已新增退貨作業費費率：1.5%，自 2026/12/01 起生效" in html
    assert "票券面額之百分比" in html and "尚未生效" in html and "新增費率" in html
    client.post(f"/operator/stores/{store_id}/rates", data=_form(**{
        "rate-kind": "sms", "rate-percent": "", "rate-amount": "3"}))
    html = client.get(f"/operator/stores/{store_id}").get_data(as_text=True)
    assert "從 2026/01/01 起，至 2026/11/30" in html
    with app.app_context():
        rates = db.session.scalars(select(FeeRate).order_by(FeeRate.id)).all()
        assert [(r.kind, r.effective_from, r.amount, r.percent_bp) for r in rates] == [
            (FeeKind.SMS, date(2026, 1, 1), 2, None),
            (FeeKind.RETURN, date(2026, 12, 1), 0, 150),
            (FeeKind.SMS, date(2026, 12, 1), 3, None)]
    assert 'data-action="rate_added"' in html


def test_installment_store_labels_the_return_fee_per_order(app, client):
    store_id = _setup(app, client, RedemptionMode.INSTALLMENT)
    client.post(f"/operator/stores/{store_id}/rates", data=_form())
    client.post(f"/operator/stores/{store_id}/rates", data=_form(**{
        "rate-effective_from": "2026-12-02", "rate-percent": "", "rate-amount": "30"}))
    html = client.get(f"/operator/stores/{store_id}").get_data(as_text=True)
    assert "訂單退貨金額之百分比" in html and "每筆退貨訂單" in html


def test_refusals_are_shown_and_change_nothing(app, client):
    store_id = _setup(app, client)
    cases = [
        (_form(**{"rate-effective_from": "2026-11-20"}), "生效日不可早於今天：已過日期的費率不可變更"),
        (_form(**{"rate-percent": "abc"}), "百分比須為 0 至 100 的數字"),
        (_form(**{"rate-percent": "101"}), "百分比須為 0 至 100 的數字"),
        (_form(**{"rate-percent": "1.234"}), "百分比至多到小數點後 2 位"),
        (_form(**{"rate-percent": "-1"}), "百分比須為 0 至 100 的數字"),
        (_form(**{"rate-kind": "serial"}), "僅退貨作業費可設定百分比"),
        (_form(**{"rate-percent": "", "rate-amount": "1.5"}), "請輸入整數"),
        (_form(**{"rate-percent": "", "rate-amount": "-3"}), "固定金額不可小於 0"),
        (_form(**{"rate-effective_from": ""}), "請輸入生效日"),
        (_form(**{"rate-kind": "sms", "rate-effective_from": "2026-01-01", "rate-percent": "",
                  "rate-amount": "1"}), "生效日不可早於今天"),
    ]
    for data, message in cases:
        response = client.post(f"/operator/stores/{store_id}/rates", data=data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert _count(app) == 1
    assert client.post(f"/operator/stores/{store_id}/rates", data=_form()).status_code == 303
    duplicate = client.post(f"/operator/stores/{store_id}/rates", data=_form(**{"rate-percent": "2"}))
    assert duplicate.status_code == 422
    assert "退貨作業費於 2026/12/01 已有費率" in duplicate.get_data(as_text=True)
    assert _count(app) == 2


def test_delete_a_future_rate_never_one_in_force(app, client):
    store_id = _setup(app, client)
    client.post(f"/operator/stores/{store_id}/rates", data=_form())
    with app.app_context():
        current = db.session.scalar(select(FeeRate).where(FeeRate.kind == FeeKind.SMS))
        future = db.session.scalar(select(FeeRate).where(FeeRate.kind == FeeKind.RETURN))
        current_id, future_id = current.id, future.id
    html = client.get(f"/operator/stores/{store_id}").get_data(as_text=True)
    assert f"/rates/{future_id}/delete" in html and f"/rates/{current_id}/delete" not in html
    refused = client.post(f"/operator/stores/{store_id}/rates/{current_id}/delete")
    assert refused.status_code == 409
    assert "此費率已生效，不可修改或刪除" in refused.get_data(as_text=True)
    assert _count(app) == 2
    assert client.post(f"/operator/stores/{store_id}/rates/999999/delete").status_code == 404
    done = client.post(f"/operator/stores/{store_id}/rates/{future_id}/delete")
    assert done.status_code == 303
    html = client.get(f"/operator/stores/{store_id}").get_data(as_text=True)
    assert "已刪除退貨作業費自 2026/12/01 起的費率" in html
    assert 'data-action="rate_deleted"' in html
    assert _count(app) == 1


def test_another_stores_rate_is_404(app, client):
    store_id = _setup(app, client)
    with app.app_context():
        other = make_store()
        rate = FeeRate(store_id=other.id, kind=FeeKind.SMS, effective_from=date(2026, 12, 5),
                       amount=1)
        db.session.add(rate)
        db.session.commit()
        rate_id = rate.id
    assert client.post(f"/operator/stores/{store_id}/rates/{rate_id}/delete").status_code == 404
    assert _count(app) == 2


def test_merchants_are_refused(app, client):
    store_id = _setup(app, client)
    client.post("/logout")
    login(client, "owner31")
    assert client.post(f"/operator/stores/{store_id}/rates", data=_form()).status_code == 403
    with app.app_context():
        rate_id = db.session.scalar(select(FeeRate.id))
    assert client.post(f"/operator/stores/{store_id}/rates/{rate_id}/delete").status_code == 403
    assert _count(app) == 1
