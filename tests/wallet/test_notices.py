"""Notices say the right thing (issue 16, item 8): a holder without a mobile is told, on the
entry page, in the refusal of an unconfirmed post and in the issuance e-mail, to use the e-mailed
code (never the mobile's last four digits); the wallet pages carry the favicon and the script
that keeps confirm boxes after the browser's checks."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.db import db
from app.notifications.models import Channel, Message
from tests.wallet.helpers import confirm, issue_order, tickets_of


def _email_only(bought):  # noqa: ANN001, ANN202
    return issue_order(bought.owner, bought.store, bought.pickup, quantity=1, mobile="",
                       email="nomobile@example.com")


def _notice(order) -> str:  # noqa: ANN001
    return db.session.scalar(select(Message.body).where(
        Message.order_id == order.id, Message.kind == "issuance_notice",
        Message.channel == Channel.EMAIL).execution_options(unscoped=True))


def test_an_e_mail_only_holder_is_told_to_type_the_e_mailed_code(bought, client):
    order = _email_only(bought)
    html = client.get(f"/t/{order.link_token}").get_data(as_text=True)
    assert "輸入電子郵件中的驗證碼" in html and "手機末四碼" not in html
    ticket = tickets_of(order)[0]
    for path, data in (("transfer", {"ticket_ids": ticket.id, "name": "陳大文", "email": "a@example.com"}),
                       ("return", {"ticket_ids": ticket.id, "reason": "不想要了"})):
        response = client.post(f"/t/{order.link_token}/{path}", data=data)
        text = response.get_data(as_text=True)
        assert response.status_code == 403, path
        assert "請先輸入電子郵件中的驗證碼確認身分" in text and "手機末四碼" not in text


def test_a_holder_with_a_mobile_is_still_asked_for_the_last_four_digits(bought, client):
    ticket = tickets_of(bought.order)[0]
    response = client.post(f"/t/{bought.token}/return", data={"ticket_ids": ticket.id})
    text = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "請先輸入手機末四碼確認身分" in text and "驗證碼確認身分" not in text


def test_the_issuance_e_mail_names_the_way_the_holder_confirms(bought):
    with_mobile = _notice(bought.order)
    assert "開啟時需輸入手機末四碼確認身分" in with_mobile
    without = _notice(_email_only(bought))
    assert "輸入電子郵件中的驗證碼確認身分" in without and "末四碼" not in without
    assert "寄送驗證碼至 Email" in without  # the button the entry page shows


def test_the_wallet_pages_carry_the_favicon_and_the_form_errors_script(bought, client):
    for html in (client.get(f"/t/{bought.token}").get_data(as_text=True),
                 client.get(confirm(client, bought.token).headers["Location"]).get_data(as_text=True)):
        assert re.search(r'<link rel="icon" href="/static/favicon\.svg', html)
        assert 'src="/static/js/form-errors.js"' in html
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.get_data(as_text=True).startswith("<svg")
    icon.close()


def test_the_return_form_asks_for_a_ticket_before_its_confirm_box(bought, client):
    confirm(client, bought.token)
    html = client.get(f"/t/{bought.token}").get_data(as_text=True)
    form = html[html.index('data-testid="return-form"'):]
    assert form.index('data-require-one="請選擇要申請退貨的票券"') < form.index("data-confirm=")
