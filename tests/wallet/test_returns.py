"""申請退貨 from the purchaser's wallet when the merchant offers it: choose unused tickets and a
reason; they show 退貨申請中; the merchant is e-mailed; a second application is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.notifications.models import Message
from app.return_applications.models import ApplicationStatus, ReturnApplication
from app.settings.services import settings_for
from app.tickets import services as ticket_services
from tests.wallet.helpers import confirm, give, tickets_of


@pytest.fixture
def holder(bought, client):  # noqa: ANN001, ANN201
    assert confirm(client, bought.token).status_code == 303
    return bought


def _applications() -> list[ReturnApplication]:
    db.session.expire_all()
    return list(db.session.scalars(select(ReturnApplication).order_by(ReturnApplication.id)
                                   .execution_options(unscoped=True)))


def _apply(client, token, ids, reason="買錯了"):  # noqa: ANN001, ANN202
    return client.post(f"/t/{token}/return", data={"ticket_ids": [str(i) for i in ids], "reason": reason})


def test_the_purchaser_applies_and_sees_the_pending_tickets(holder, client):
    first, second, third = tickets_of(holder.order)
    response = _apply(client, holder.token, [first.id, second.id])
    assert response.status_code == 303 and response.headers["Location"].endswith("#returns")
    made = _applications()
    assert [(a.ticket_id, a.reason, a.status) for a in made] == [
        (first.id, "買錯了", ApplicationStatus.PENDING), (second.id, "買錯了", ApplicationStatus.PENDING)]
    assert made[0].applicant_name == "林小美" and made[0].applicant_mobile == "0912345678"
    mail = db.session.scalar(select(Message).where(Message.kind == "return_application")
                             .execution_options(unscoped=True))
    assert mail is not None and holder.order.order_no in mail.subject
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已送出 2 張票券的退貨申請" in html
    assert html.count('data-testid="return-pending"') == 2
    form = html.split('data-testid="return-form"')[1].split("</form>")[0]
    assert f'value="{third.id}"' in form and f'value="{first.id}"' not in form
    transfer_form = html.split('data-testid="transfer-form"')[1].split("</form>")[0]
    assert f'value="{first.id}"' not in transfer_form  # pending tickets are not offered for transfer


def test_a_second_application_for_the_same_ticket_is_refused(holder, client):
    first = tickets_of(holder.order)[0]
    assert _apply(client, holder.token, [first.id]).status_code == 303
    response = _apply(client, holder.token, [first.id], reason="再申請一次")
    assert response.status_code == 409 and "此票券已申請退貨，商店處理中" in response.get_data(as_text=True)
    assert len(_applications()) == 1


def test_a_pending_ticket_cannot_be_transferred(holder, client):
    first = tickets_of(holder.order)[0]
    _apply(client, holder.token, [first.id])
    response = client.post(f"/t/{holder.token}/transfer", data={
        "ticket_ids": first.id, "name": "陳大文", "mobile": "0922333444",
        "email": "friend@example.com", "step": "confirm"})
    assert response.status_code == 409 and "票券已申請退貨，無法轉贈" in response.get_data(as_text=True)


@pytest.mark.parametrize(("reason", "message"), [("", "請輸入退貨原因"), ("字" * 501, "退貨原因最多 500 字")])
def test_a_reason_is_required(holder, client, reason, message):
    first = tickets_of(holder.order)[0]
    response = _apply(client, holder.token, [first.id], reason=reason)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and 'data-testid="return-form"' in html
    assert _applications() == []


def test_nothing_chosen_used_and_given_tickets_are_refused(holder, client):
    first, second, third = tickets_of(holder.order)
    assert _apply(client, holder.token, []).status_code == 422
    ticket_services.redeem(holder.owner, holder.store, second)
    db.session.commit()
    give(holder.order, [third])
    response = _apply(client, holder.token, [second.id])
    assert response.status_code == 409 and "只有未使用的票券可以申請退貨" in response.get_data(as_text=True)
    response = _apply(client, holder.token, [third.id])
    assert response.status_code == 409
    html = client.get(f"/t/{holder.token}").get_data(as_text=True)
    form = html.split('data-testid="return-form"')[1].split("</form>")[0]
    assert f'value="{first.id}"' in form and f'value="{second.id}"' not in form
    assert f'value="{third.id}"' not in form
    assert _applications() == []


def test_not_offered_means_no_button_and_the_post_is_refused(holder, client):
    settings = settings_for(holder.store)
    settings.online_return_application = False
    db.session.commit()
    html = client.get(f"/t/{holder.token}").get_data(as_text=True)
    assert "送出退貨申請" not in html and 'id="returns"' not in html
    response = _apply(client, holder.token, [tickets_of(holder.order)[0].id])
    assert response.status_code == 409
    assert "本商店未開放線上申請退貨" in response.get_data(as_text=True)
    assert _applications() == []


def test_the_recipient_is_not_offered_returns(app, holder, client):
    first = tickets_of(holder.order)[0]
    made = give(holder.order, [first])
    recipient = app.test_client()
    confirm(recipient, made.link_token, "3444")
    html = recipient.get(f"/t/{made.link_token}").get_data(as_text=True)
    assert 'data-testid="return-form"' not in html
    response = _apply(recipient, made.link_token, [first.id])
    assert response.status_code == 409 and "只有購買人的票券連結" in response.get_data(as_text=True)
    assert _applications() == []
