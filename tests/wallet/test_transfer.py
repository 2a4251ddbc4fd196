"""轉贈 from the purchaser's wallet: a confirm step, then the tickets are given; the recipient's
link shows them with their codes; the giver's shows them as 已轉贈 with 重新發送. Errors are
said in Chinese and change nothing; a second tab's submission is refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.db import db
from app.history import HistoryEntry
from app.notifications.models import Channel, Message
from app.tickets import services as ticket_services
from app.tickets.codes import display_code
from app.transfers.models import Transfer, TransferStatus
from tests.wallet.helpers import cancel_transfer, confirm, issue_order, tickets_of

RECIPIENT = {"name": "陳大文", "mobile": "0922333444", "email": "friend@example.com"}


@pytest.fixture
def giver(bought, client):  # noqa: ANN001, ANN201
    assert confirm(client, bought.token).status_code == 303
    return bought


def _post(client, token, ids, step="", **recipient):  # noqa: ANN001, ANN003, ANN202
    data = {"ticket_ids": [str(i) for i in ids], **(recipient or RECIPIENT)}
    if step:
        data["step"] = step
    return client.post(f"/t/{token}/transfer", data=data)


def _transfers() -> list[Transfer]:
    db.session.expire_all()
    return list(db.session.scalars(select(Transfer).execution_options(unscoped=True)))


def _cards(html: str) -> dict[int, str]:
    parts = re.split(r'(?=<article class="card)', html)
    return {int(re.search(r'data-ticket-id="(\d+)"', p).group(1)): p.split("</article>")[0]
            for p in parts if 'data-testid="ticket-card"' in p}


def test_the_confirm_step_shows_what_and_to_whom_and_changes_nothing(giver, client):
    first = tickets_of(giver.order)[0]
    response = _post(client, giver.token, [first.id])
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "確認轉贈" in html
    assert "陳大文" in html and "0922333444" in html and first.serial in html
    assert 'name="step" value="confirm"' in html
    assert _transfers() == []
    assert tickets_of(giver.order)[0].transfer_id is None
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.kind == "transfer_notice")
                             .execution_options(unscoped=True)) == 0
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry)
                             .where(HistoryEntry.action.in_(("transferred", "transfer_created")))
                             .execution_options(unscoped=True)) == 0


def test_a_transfer_moves_the_tickets_to_the_recipients_link(app, giver, client):
    first, second, third = tickets_of(giver.order)
    response = _post(client, giver.token, [first.id, third.id], step="confirm")
    assert response.status_code == 303 and response.headers["Location"].endswith("#transfers")
    [made] = _transfers()
    assert made.ticket_count == 2 and made.recipient_name == "陳大文"
    assert {t.id for t in tickets_of(giver.order) if t.transfer_id == made.id} == {first.id, third.id}

    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"已將 2 張票券轉贈給 陳○文（轉贈編號 {made.transfer_no}）" in html
    cards = _cards(html)
    for ticket in (first, third):
        assert 'data-testid="plain-status">已轉贈<' in cards[ticket.id]
        assert "<svg" not in cards[ticket.id] and display_code(ticket.code) not in cards[ticket.id]
        assert f"已轉贈給 陳○文（轉贈編號 {made.transfer_no}）" in cards[ticket.id]
    assert "<svg" in cards[second.id]
    # the form offers only the ticket still here; the record offers 重新發送
    form = html.split('data-testid="transfer-form"')[1].split("</form>")[0]
    assert f'value="{second.id}"' in form and f'value="{first.id}"' not in form
    assert made.transfer_no in html and 'data-testid="resend"' in html
    assert "陳大文" not in html  # the recipient's name is masked on the giver's page

    # the recipient was sent the new link, and it opens after the recipient's last four digits
    mails = db.session.scalars(select(Message).where(Message.kind == "transfer_notice")
                               .execution_options(unscoped=True)).all()
    assert {m.channel for m in mails} == {Channel.EMAIL}  # rule g: no SMS for a transfer
    link = re.search(r"/t/([A-Za-z0-9_-]+)", next(m for m in mails if m.channel is Channel.EMAIL).revealed_body).group(1)
    assert link == made.link_token
    recipient = app.test_client()
    assert confirm(recipient, link, "5678").status_code == 422  # the giver's digits are not theirs
    assert confirm(recipient, link, "3444").status_code == 303
    html = recipient.get(f"/t/{link}").get_data(as_text=True)
    cards = _cards(html)
    assert list(cards) == [first.id, third.id]
    for ticket in (first, third):
        assert "<svg" in cards[ticket.id] and display_code(ticket.code) in cards[ticket.id]
    assert "陳大文 的電子票券" in html and "由 林○美 轉贈" in html
    assert 'data-testid="transfer-form"' not in html and 'data-testid="return-form"' not in html


def test_the_recipients_used_ticket_stays_visible_with_its_status(app, giver, client):
    first = tickets_of(giver.order)[0]
    _post(client, giver.token, [first.id], step="confirm")
    [made] = _transfers()
    ticket_services.redeem(giver.owner, giver.store, tickets_of(giver.order)[0])
    db.session.commit()
    recipient = app.test_client()
    confirm(recipient, made.link_token, "3444")
    card = _cards(recipient.get(f"/t/{made.link_token}").get_data(as_text=True))[first.id]
    assert 'data-testid="plain-status">已使用<' in card and "<svg" not in card


def test_the_recipient_cannot_transfer_onwards(app, giver, client):
    first = tickets_of(giver.order)[0]
    _post(client, giver.token, [first.id], step="confirm")
    [made] = _transfers()
    recipient = app.test_client()
    confirm(recipient, made.link_token, "3444")
    response = _post(recipient, made.link_token, [first.id], step="confirm", name="第三人",
                     mobile="0977888999", email="")
    assert response.status_code == 409 and "只有購買人的票券連結" in response.get_data(as_text=True)
    assert len(_transfers()) == 1


def test_a_second_tab_cannot_give_the_same_ticket_again(giver, client):
    first = tickets_of(giver.order)[0]
    assert _post(client, giver.token, [first.id]).status_code == 200  # tab 1: confirm step
    assert _post(client, giver.token, [first.id]).status_code == 200  # tab 2: confirm step
    assert _post(client, giver.token, [first.id], step="confirm").status_code == 303
    second = _post(client, giver.token, [first.id], step="confirm", name="王小華", mobile="0966777888",
                   email="wang@example.com")
    html = second.get_data(as_text=True)
    assert second.status_code == 409 and "票券已轉贈或狀態已變更" in html
    [made] = _transfers()
    assert made.recipient_name == "陳大文"


@pytest.mark.parametrize(("recipient", "status", "message"), [
    ({"name": "陳大文", "mobile": "12345", "email": ""}, 422, "手機格式錯誤"),
    ({"name": "陳大文", "mobile": "", "email": "not-an-email"}, 422, "Email 格式錯誤"),
    ({"name": "", "mobile": "0922333444", "email": ""}, 422, "請填寫受贈人姓名"),
    ({"name": "陳大文", "mobile": "", "email": ""}, 422, ""),  # a contact is required
    ({"name": "自己", "mobile": "0912345678", "email": "me@example.com"}, 422, "不可轉贈給自己"),
])
def test_bad_recipients_are_refused_and_nothing_changes(giver, client, recipient, status, message):
    first = tickets_of(giver.order)[0]
    for step in ("", "confirm"):
        response = _post(client, giver.token, [first.id], step=step, **recipient)
        html = response.get_data(as_text=True)
        assert response.status_code == status
        assert message in html and 'data-testid="transfer-form"' in html
        assert 'class="invalid-feedback d-block"' in html or 'data-testid="transfer-error"' in html
    assert _transfers() == []
    assert all(t.transfer_id is None for t in tickets_of(giver.order))


def test_a_mobile_only_recipient_needs_an_email(giver, client):
    first = tickets_of(giver.order)[0]
    response = _post(client, giver.token, [first.id], name="陳大文", mobile="0922333444", email="")
    assert response.status_code == 422 and "請填寫受贈人 Email" in response.get_data(as_text=True)
    assert _post(client, giver.token, [first.id], step="confirm", name="陳大文", mobile="0922333444",
                 email="friend@example.com").status_code == 303


def test_nothing_chosen_and_untransferable_tickets_are_refused(ctx, giver, client):
    response = _post(client, giver.token, [])
    assert response.status_code == 422 and "請選擇要轉贈的票券" in response.get_data(as_text=True)
    used = tickets_of(giver.order)[1]
    ticket_services.redeem(giver.owner, giver.store, used)
    db.session.commit()
    response = _post(client, giver.token, [used.id], step="confirm")
    assert response.status_code == 409 and "只有未使用的電子提貨券可以轉贈" in response.get_data(as_text=True)
    gift_order = issue_order(giver.owner, giver.store, giver.gift, quantity=1)
    confirm(client, gift_order.link_token)
    gift = tickets_of(gift_order)[0]
    html = client.get(f"/t/{gift_order.link_token}").get_data(as_text=True)
    assert 'data-testid="transfer-form"' not in html  # gift vouchers are not offered
    response = _post(client, gift_order.link_token, [gift.id], step="confirm")
    assert response.status_code == 409
    assert _transfers() == []


def test_another_orders_ticket_is_not_found(giver, client):
    other = issue_order(giver.owner, giver.store, giver.pickup, quantity=1)
    response = _post(client, giver.token, [tickets_of(other)[0].id], step="confirm")
    assert response.status_code == 404
    assert _transfers() == []


def test_resend_sends_the_recipients_link_again_and_is_rate_limited(giver, client):
    _post(client, giver.token, [tickets_of(giver.order)[0].id], step="confirm")
    [made] = _transfers()

    def notices() -> int:
        db.session.expire_all()
        return db.session.scalar(select(func.count()).select_from(Message)
                                 .where(Message.kind == "transfer_notice", Message.channel == Channel.EMAIL)
                                 .execution_options(unscoped=True))

    assert notices() == 1
    for n in range(3):
        response = client.post(f"/t/{giver.token}/resend", data={"transfer_id": made.id})
        assert response.status_code == 303
        assert notices() == 2 + n
    html = client.get(f"/t/{giver.token}").get_data(as_text=True)
    assert f"已重新發送轉贈通知（Email）給 陳○文（轉贈編號 {made.transfer_no}）" in html
    last = db.session.scalars(select(Message).where(Message.kind == "transfer_notice")
                              .order_by(Message.id.desc()).execution_options(unscoped=True)).first()
    assert made.link_token in last.revealed_body and made.link_token not in last.body
    response = client.post(f"/t/{giver.token}/resend", data={"transfer_id": made.id})
    assert response.status_code == 429 and "重新發送次數過多" in response.get_data(as_text=True)
    assert notices() == 4


def test_resend_of_a_cancelled_or_anothers_transfer_is_refused(app, giver, client):
    _post(client, giver.token, [tickets_of(giver.order)[0].id], step="confirm")
    [made] = _transfers()
    other = issue_order(giver.owner, giver.store, giver.pickup, quantity=1, mobile="0955000111")
    confirm(client, other.link_token, "0111")
    assert client.post(f"/t/{other.link_token}/resend", data={"transfer_id": made.id}).status_code == 404
    cancel_transfer(app, giver.owner, giver.store, made.id)
    response = client.post(f"/t/{giver.token}/resend", data={"transfer_id": made.id})
    assert response.status_code == 409 and "此轉贈已取消" in response.get_data(as_text=True)


def test_a_cancelled_transfer_is_back_with_the_giver(app, giver, client):
    first = tickets_of(giver.order)[0]
    _post(client, giver.token, [first.id], step="confirm")
    [made] = _transfers()
    cancel_transfer(app, giver.owner, giver.store, made.id)
    assert _transfers()[0].status is TransferStatus.CANCELLED
    assert app.test_client().get(f"/t/{made.link_token}").status_code == 404
    html = client.get(f"/t/{giver.token}").get_data(as_text=True)
    card = _cards(html)[first.id]
    assert 'data-testid="plain-status">可使用<' in card and "<svg" in card
    form = html.split('data-testid="transfer-form"')[1].split("</form>")[0]
    assert f'value="{first.id}"' in form
    assert 'data-testid="resend"' not in html and "已取消" in html  # the record stays, without 重新發送
