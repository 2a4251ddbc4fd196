"""ECTicket notices: created with the ticket's move (redeem, cancel, return, refund reached the
consumer), sealed as an ECTicket envelope the spec-only client opens and verifies, retried on
failure, acknowledged by `1|OK` or an envelope with RtnCode 1, re-sendable from 通知紀錄,
another store's notice a 404."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import unquote_plus

import pytest
from sqlalchemy import select, update

from app import clock
from app.db import db
from app.ecpay import envelope, keys
from app.ecticket import jobs as ecticket_jobs
from app.ecticket import notices
from app.ecticket.notice_models import TicketNotice, TicketNoticeAttempt, TicketNoticeKind
from app.escrow import sync
from app.issuance.models import Batch
from app.notifications.models import NoticeStatus
from app.stores.models import Store
from app.tickets import actions
from app.tickets.lifecycle import Action
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus as S
from tests.ecticket.client import check_mac_value, decrypt_text
from tests.factories import login, make_account, make_store
from tests.installments.notice_helpers import MerchantServer
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

PAIR = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")
AIO = keys.Pair("pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")


@pytest.mark.parametrize(("seen", "to", "kinds"), [
    (S.UNUSED, S.USED, ("use_status",)),
    (S.USED, S.UNUSED, ("use_status",)),
    (S.UNUSED, S.RETURN_PENDING, ("use_status",)),
    (S.RETURNING, S.RETURNED, ("refund",)),
    (S.RETURN_PENDING, S.RETURNED, ("refund",)),
    (S.UNUSED, S.EXPIRED, ("use_status",)),
    (S.UNUSED, S.UNUSED_ESCROW_EXPIRED, ()),
    (S.USED, S.REDEEMING, ()),
])
def test_which_moves_call_for_which_notices(seen, to, kinds) -> None:  # noqa: ANN001
    assert tuple(k.value for k in notices.kinds_for(seen, to)) == kinds


@pytest.fixture
def shop(app, ctx):  # noqa: ANN001, ANN201
    app.config.update(ECTICKET_NOTICE_ALLOW_HTTP_LOOPBACK=True)
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 10))
    store, owner, pickup, gift = ready_store()
    keys.install_pair(store.id, AIO)
    keys.install_pair(store.id, PAIR, keys.TICKET)
    db.session.commit()
    return store, owner, pickup, gift


def _with_urls(tickets: list[Ticket], url: str) -> None:
    """As an Issue call asking for notices leaves them: the URLs on the batch, the store's flag."""
    db.session.execute(update(Batch).where(Batch.id == tickets[0].batch_id)
                       .values(refund_notify_url=url, use_status_notify_url=url))
    db.session.execute(update(Store).where(Store.id == tickets[0].store_id)
                       .values(ticket_notices=True))
    db.session.commit()


def _opened(body: bytes) -> tuple[dict, dict]:
    """The envelope and its Data, opened and its MAC checked by the spec-only client."""
    outer = json.loads(body)
    plaintext = unquote_plus(decrypt_text(outer["Data"], PAIR.hash_key, PAIR.hash_iv))
    assert outer["CheckMacValue"] == check_mac_value(plaintext, PAIR.hash_key, PAIR.hash_iv)
    assert outer["CheckMacValue"] == check_mac_value(plaintext, PAIR.hash_key, PAIR.hash_iv, "js")
    return outer, json.loads(plaintext)


def _notices() -> list[TicketNotice]:
    db.session.expire_all()
    return list(db.session.scalars(select(TicketNotice).order_by(TicketNotice.id)))


def test_redeem_and_cancel_send_use_status_notices_sealed_with_the_ticket_pair(shop) -> None:  # noqa: ANN001
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    with MerchantServer() as merchant:
        _with_urls([ticket], merchant.url)
        actions.perform(Action.REDEEM, owner, store, ticket)
        db.session.commit()  # the first try runs after the commit
        actions.perform(Action.CANCEL_REDEMPTION, owner, store, ticket)
        db.session.commit()
    first, second = _notices()
    assert [(n.kind, n.use_status, n.status) for n in (first, second)] == [
        (TicketNoticeKind.USE_STATUS, 2, NoticeStatus.SUCCEEDED),
        (TicketNoticeKind.USE_STATUS, 1, NoticeStatus.SUCCEEDED)]
    outer, data = _opened(merchant.requests[0].body)
    assert merchant.requests[0].headers["Content-Type"].startswith("application/json")
    assert {k: outer[k] for k in ("PlatformID", "MerchantID", "TransCode", "TransMsg")} == {
        "PlatformID": "", "MerchantID": store.merchant_code, "TransCode": 1, "TransMsg": "Success"}
    order = db.session.get(Order, ticket.order_id)
    assert data == {"RtnCode": 1, "RtnMsg": "Success", "MerchantID": store.merchant_code,
                    "MerchantTradeNo": order.merchant_order_no,
                    "TicketTradeNo": order.order_no, "TicketNo": ticket.serial,
                    "UseStatus": 2}
    assert _opened(merchant.requests[1].body)[1]["UseStatus"] == 1


def test_a_return_then_the_refund_reaching_the_consumer_send_both_notices(shop) -> None:  # noqa: ANN001
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    with MerchantServer() as merchant:
        _with_urls([ticket], merchant.url)
        actions.perform(Action.RETURN, owner, store, ticket, reason="客訴")
        db.session.commit()
        db.session.execute(update(Ticket).where(Ticket.id == ticket.id)
                           .values(status=S.RETURNING, return_fee=30))
        assert sync._compare_and_set([ticket.id], S.RETURNING, S.RETURNED) == [ticket.id]
        db.session.commit()
        assert ecticket_jobs.notices_due(clock.now().isoformat()) == 1  # the bulk move's notice
    use, refund = _notices()
    assert (use.kind, use.use_status, refund.kind) == (
        TicketNoticeKind.USE_STATUS, 3, TicketNoticeKind.REFUND)
    assert refund.status is NoticeStatus.SUCCEEDED
    data = _opened(merchant.requests[-1].body)[1]
    assert (data["RefundAmount"], data["RefundFee"], data["TicketNo"]) == (120, 30, ticket.serial)


def test_no_url_no_notice(shop) -> None:  # noqa: ANN001
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    actions.perform(Action.REDEEM, owner, store, ticket)
    db.session.commit()
    assert _notices() == []


def test_a_failed_try_is_retried_and_1_ok_or_an_rtncode_1_envelope_acknowledges(shop) -> None:  # noqa: ANN001
    store, owner, pickup, _ = shop
    [a, b] = issue(owner, store, pickup, quantity=2)
    with MerchantServer(script=[(500, "oops"), (200, "0|InvalidCheckMacValue"),
                                (200, "1|OK")]) as merchant:
        _with_urls([a], merchant.url)
        actions.perform(Action.REDEEM, owner, store, a)
        db.session.commit()
        [notice] = _notices()
        assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)
        assert notice.next_attempt_at == clock.now() + timedelta(minutes=5)
        clock.freeze(clock.now() + timedelta(minutes=5))
        ecticket_jobs.notices_due(clock.now().isoformat())
        [notice] = _notices()
        assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 2)
        clock.freeze(clock.now() + timedelta(minutes=15))
        ecticket_jobs.notices_due(clock.now().isoformat())
    [notice] = _notices()
    assert (notice.status, notice.attempts) == (NoticeStatus.SUCCEEDED, 3)
    tries = notices.attempts_of(notice)
    assert [t.succeeded for t in tries] == [True, False, False]
    assert "HTTP 500" in tries[2].error and "1|OK" in tries[1].error
    answer, _ = envelope.encrypt_json({"RtnCode": 1, "RtnMsg": "OK"}, PAIR.hash_key, PAIR.hash_iv)
    with MerchantServer(script=[(200, json.dumps({"TransCode": 1, "Data": answer}))]) as merchant:
        _with_urls([b], merchant.url)
        actions.perform(Action.REDEEM, owner, store, b)
        db.session.commit()
    assert _notices()[-1].status is NoticeStatus.SUCCEEDED


def test_the_list_the_attempts_the_resend_and_another_stores_404(shop, client) -> None:  # noqa: ANN001
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    with MerchantServer(script=[(500, "down"), (200, "1|OK")]) as merchant:
        _with_urls([ticket], merchant.url)
        actions.perform(Action.REDEEM, owner, store, ticket)
        db.session.commit()
        [notice] = _notices()
        login(client, owner.username)
        page = client.get("/vendor/integration/ecticket-notices").get_data(as_text=True)
        assert ticket.serial in page and "通知中" not in page and "待通知" in page
        excel = client.get("/vendor/integration/ecticket-notices?format=xlsx")
        assert excel.status_code == 200 and excel.mimetype.endswith("spreadsheetml.sheet")
        detail = client.get(f"/vendor/integration/ecticket-notices/{notice.id}")
        assert "HTTP 500" in detail.get_data(as_text=True)
        resent = client.post(f"/vendor/integration/ecticket-notices/{notice.id}/resend")
        assert resent.status_code in (302, 303)
    [notice] = _notices()
    assert notice.status is NoticeStatus.SUCCEEDED
    assert db.session.scalar(select(TicketNoticeAttempt.trigger).where(
        TicketNoticeAttempt.succeeded)) == "manual"
    other = make_store()
    stranger = make_account(other, username="stranger01")
    db.session.commit()
    client.post("/logout")
    login(client, stranger.username)
    assert client.get(f"/vendor/integration/ecticket-notices/{notice.id}").status_code == 404
    assert client.post(f"/vendor/integration/ecticket-notices/{notice.id}/resend").status_code == 404
    assert ticket.serial not in client.get("/vendor/integration/ecticket-notices").get_data(
        as_text=True)


def test_the_notice_is_sealed_with_the_shared_pair_when_there_is_no_ticket_pair(app, ctx) -> None:  # noqa: ANN001
    app.config.update(ECTICKET_NOTICE_ALLOW_HTTP_LOOPBACK=True)
    store, owner, pickup, _ = ready_store()
    keys.install_pair(store.id, PAIR)
    db.session.commit()
    [ticket] = issue(owner, store, pickup)
    with MerchantServer() as merchant:
        _with_urls([ticket], merchant.url)
        actions.perform(Action.REDEEM, owner, store, ticket)
        db.session.commit()
    assert _opened(merchant.requests[0].body)[1]["UseStatus"] == 2
    assert re.fullmatch(r"[0-9A-F]{64}", json.loads(merchant.requests[0].body)["CheckMacValue"])
