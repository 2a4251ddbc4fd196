"""合約及費率: the merchant sees its contract and every fee rate with its dates; never another
store's."""

from __future__ import annotations

from datetime import date

from app import clock
from app.billing.models import FeeKind, FeeRate
from app.db import db
from app.stores.models import RedemptionMode
from tests.factories import login, make_account, make_store


def test_contract_page_shows_every_rate_with_its_dates(client, ctx):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 0))
    store, other = make_store("本店"), make_store("他店")
    make_account(store, username="owner41")
    db.session.add_all([
        FeeRate(store_id=store.id, kind=FeeKind.RETURN, effective_from=date(2026, 1, 1), amount=10),
        FeeRate(store_id=store.id, kind=FeeKind.RETURN, effective_from=date(2026, 11, 15),
                percent_bp=150),
        FeeRate(store_id=store.id, kind=FeeKind.RETURN, effective_from=date(2027, 1, 1), amount=12),
        FeeRate(store_id=store.id, kind=FeeKind.SERIAL, effective_from=date(2026, 1, 1), amount=1),
        FeeRate(store_id=other.id, kind=FeeKind.SMS, effective_from=date(2026, 1, 1), amount=777),
    ])
    db.session.commit()
    login(client, "owner41")
    html = client.get("/vendor/contract").get_data(as_text=True)
    assert "合約及費率" in html and "目前合約" in html
    rates = html.split('data-testid="rate-list"')[1].split("</table>")[0]
    assert "從 2026/01/01 起 至 2026/11/14" in rates
    assert "從 2026/11/15 起 至 2026/12/31" in rates
    assert "從 2027/01/01 起" in rates and "尚未生效" in rates
    assert "1.5%" in rates and "NT$10" in rates and "NT$12" in rates
    assert "票券面額之百分比" in rates and "每張退貨票券" in rates
    assert rates.count('data-current="1"') == 2  # the return fee's 1.5% and the serial fee
    assert 'data-effective="2026-11-15" class="table-primary" data-current="1"' in rates
    assert "序號處理費" in rates and "未設定" in rates  # SMS and print: none set for this store
    assert "NT$777" not in html


def test_installment_store_and_the_home_link(client, ctx):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 0))
    store = make_store(mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="owner42")
    db.session.add(FeeRate(store_id=store.id, kind=FeeKind.RETURN,
                           effective_from=date(2026, 1, 1), amount=30))
    db.session.commit()
    login(client, "owner42")
    html = client.get("/vendor/contract").get_data(as_text=True)
    assert "每筆退貨訂單" in html and "NT$30" in html
    home = client.get("/home").get_data(as_text=True)
    assert 'href="/vendor/contract"' in home and "詳細" in home
