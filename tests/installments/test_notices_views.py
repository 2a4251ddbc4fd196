"""The merchant's view of an order's refund notice: a fragment for the order page (hx-get)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from tests.factories import login, make_sub
from tests.installments.notice_helpers import (
    MerchantServer,
    installment_store,
    make_refunded_order,
    run_job,
)

START = clock.taipei_datetime(2026, 11, 21, 10, 0)


def _url(order) -> str:  # noqa: ANN001
    return f"/installments/orders/{order.id}/refund-notice"


def test_the_fragment_shows_status_url_and_each_attempt(app, client, ctx):
    app.config.update(INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK=True, INSTALLMENT_NOTICE_TIMEOUT=2)
    clock.freeze(START)
    with MerchantServer(script=[(500, "boom <b>html</b>"), (200, "1|OK")]) as server:
        store = installment_store("frag01")
        order = make_refunded_order(store, url=server.url, refunded_at=clock.now())
        make_sub(store, username="rep01", grants={Function.INSTALLMENT_REPORTS: Level.VIEW})
        db.session.commit()
        login(client, "rep01")

        before = client.get(_url(order), headers={"HX-Request": "true"})
        assert before.status_code == 200
        html = before.get_data(as_text=True)
        assert "<html" not in html and "待建立" in html and server.url.replace("&", "&amp;") in html

        run_job()
        html = client.get(_url(order)).get_data(as_text=True)
        assert 'data-status="pending"' in html and "待通知" in html and "下次發送：2026/11/21 10:01" in html
        assert "boom &lt;b&gt;html&lt;/b&gt;" in html and "HTTP 500" in html  # escaped

        clock.move(timedelta(minutes=1))
        run_job()
        html = client.get(_url(order)).get_data(as_text=True)
        assert 'data-status="succeeded"' in html and "通知成功" in html
        assert html.count('data-succeeded="true"') == 1 and html.count('data-succeeded="false"') == 1
        assert "RefundAmount" in html and "自動" in html


def test_an_order_issued_without_a_url_says_so(client, ctx):
    store = installment_store("frag02")
    order = make_refunded_order(store, url="", refunded_at=clock.now())
    db.session.commit()
    login(client, "frag02")
    html = client.get(_url(order)).get_data(as_text=True)
    assert "發行時未設定，不發送通知" in html


def test_another_stores_order_is_not_found(client, ctx):
    mine = installment_store("frag03")
    theirs = installment_store("frag03b")
    order = make_refunded_order(theirs, url="https://x.example.com/n", refunded_at=clock.now())
    make_refunded_order(mine)
    db.session.commit()
    login(client, "frag03")
    assert client.get(_url(order)).status_code == 404
    assert client.get("/installments/orders/999999/refund-notice").status_code == 404


@pytest.mark.parametrize("grants", [{}, {Function.INSTALLMENT_SETTINGS: Level.MODIFY}])
def test_without_the_reports_function_it_is_refused(client, ctx, grants):
    store = installment_store("frag04")
    order = make_refunded_order(store, url="https://x.example.com/n")
    make_sub(store, username="sub04", grants=grants)
    db.session.commit()
    login(client, "sub04")
    assert client.get(_url(order)).status_code == 403
