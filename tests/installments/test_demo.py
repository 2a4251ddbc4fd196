"""The demo installment store (`make run`): about thirty orders with periods in every status, made
by the real services on a moving clock, one refund notice that failed twice and then succeeded,
and every menu entry of chapter 八 opening a working page for the `installment` login."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.db import db
from app.installments.models import InstallmentOrder, InstallmentPeriod, NoticeAttempt, RefundNotice
from app.installments.status import PeriodStatus
from demodata.stores import load_demo
from tests.factories import login


def test_the_demo_store_has_every_period_status_and_a_notice_that_succeeded_third_time(app, ctx, client):
    load_demo()
    db.session.commit()
    counts = dict(db.session.execute(select(InstallmentPeriod.status, func.count())
                                     .group_by(InstallmentPeriod.status)).all())
    assert set(counts) == set(PeriodStatus)
    assert 25 <= db.session.scalar(select(func.count()).select_from(InstallmentOrder)) <= 40
    [notice] = db.session.scalars(select(RefundNotice))
    tries = [(a.http_status, a.succeeded) for a in db.session.scalars(
        select(NoticeAttempt).where(NoticeAttempt.notice_id == notice.id).order_by(NoticeAttempt.id))]
    assert tries == [(500, False), (200, False), (200, True)]
    load_demo()  # idempotent
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(RefundNotice)) == 1

    login(client, "installment", "Demo1234")
    home = client.get("/home").get_data(as_text=True)
    menu = re.search(r"八、分期核銷(.*?)</ul>", home, re.S)
    assert menu is not None
    links = re.findall(r'href="(/installments/[^"]*)"', menu.group(1))
    assert len(links) == 5
    for link in links:
        page = client.get(link)
        assert page.status_code == 200, link
        assert "錯誤" not in page.get_data(as_text=True)[:200]
