"""The operator's refund-notice pages: a store's notices, one notice's attempts and history, and
【重新發送】, a manual attempt at once whatever the notice's state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock, history
from app.auth.models import Account
from app.db import db
from app.errors import Forbidden
from app.installments import notices
from app.installments.models import NoticeStatus
from tests.factories import login
from tests.installments.notice_helpers import (
    MerchantServer,
    attempts_of,
    installment_store,
    make_refunded_order,
    notice_of,
    run_job,
)
from tests.operator.helpers import operator_logged_in

START = clock.taipei_datetime(2026, 11, 21, 10, 0)


@pytest.fixture
def loopback(app):  # noqa: ANN001, ANN201
    app.config.update(INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK=True, INSTALLMENT_NOTICE_TIMEOUT=2)
    return app


def test_list_detail_and_resend_of_a_given_up_notice(loopback, client, ctx):
    clock.freeze(START)
    with MerchantServer(script=[(500, "down")]) as server:
        store = installment_store()
        order = make_refunded_order(store, url=server.url, refunded_at=clock.now())
        make_refunded_order(installment_store(), url=server.url, refunded_at=clock.now())
        db.session.commit()
        run_job()
        for delay in notices.RETRY_DELAYS:
            clock.move(delay)
            run_job()
        notice = notice_of(order)
        assert notice.status is NoticeStatus.GAVE_UP
        sent = len(server.requests)

        operator_logged_in(client)
        listing = client.get(f"/operator/stores/{store.id}/refund-notices").get_data(as_text=True)
        assert order.order_no in listing and "通知失敗" in listing
        assert listing.count('data-status="gave_up"') == 1  # the other store's notice is not here
        assert 'data-status' not in client.get(
            f"/operator/stores/{store.id}/refund-notices?status=succeeded").get_data(as_text=True).split(
            "<tbody>")[1].split("</tbody>")[0]
        detail = client.get(f"/operator/stores/{store.id}/refund-notices/{notice.id}").get_data(as_text=True)
        assert "重新發送" in detail and detail.count('data-succeeded="false"') == 7

        server.script = [(200, "1|OK")]
        response = client.post(f"/operator/stores/{store.id}/refund-notices/{notice.id}/resend")
        assert response.status_code == 303
        assert len(server.requests) == sent + 1
        notice = notice_of(order)
        assert notice.status is NoticeStatus.SUCCEEDED
        assert attempts_of(notice)[-1].trigger == "manual"
        (entry,) = history.entries_for(notice)
        assert entry.action == "refund_notice_resent" and entry.actor_label == "op0001"
        assert "通知失敗" in entry.reason
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "已排入重新發送" in page and "手動重送" in page and "重新發送退款通知" in page

        # re-sending a succeeded notice is allowed too (for the merchant's sake)
        client.post(f"/operator/stores/{store.id}/refund-notices/{notice.id}/resend")
        assert len(server.requests) == sent + 2
        clock.move(timedelta(days=1))
        run_job()
        assert len(server.requests) == sent + 2


def test_a_notice_being_sent_cannot_be_resent(client, ctx):
    clock.freeze(START)
    store = installment_store()
    order = make_refunded_order(store, url="https://merchant.example.com/n", refunded_at=clock.now())
    notices.create_notices()
    db.session.commit()
    notice = notice_of(order)
    assert notices.claim(notice.id) is not None
    db.session.commit()
    operator_logged_in(client)
    response = client.post(f"/operator/stores/{store.id}/refund-notices/{notice.id}/resend")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert notices.RESEND_BUSY in page
    assert history.entries_for(notice_of(order)) == []


def test_another_stores_notice_is_not_found_and_merchants_are_refused(app, client, ctx):
    store, other = installment_store("owner31"), installment_store()
    order = make_refunded_order(other, url="https://merchant.example.com/n", refunded_at=clock.now())
    notices.create_notices()
    db.session.commit()
    notice = notice_of(order)
    operator_logged_in(client)
    assert client.get(f"/operator/stores/{store.id}/refund-notices/{notice.id}").status_code == 404
    assert client.post(f"/operator/stores/{store.id}/refund-notices/{notice.id}/resend").status_code == 404
    merchant = app.test_client()
    login(merchant, "owner31")
    assert merchant.get(f"/operator/stores/{other.id}/refund-notices").status_code == 403
    assert merchant.post(f"/operator/stores/{other.id}/refund-notices/{notice.id}/resend").status_code == 403
    with pytest.raises(Forbidden):
        notices.request_resend(db.session.scalar(select(Account).where(Account.store_id == store.id)),
                               notice)
