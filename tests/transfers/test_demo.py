"""The demo data has an active transfer and a pending return application (made through the
services), so the two pages are not empty in `make run`."""

from __future__ import annotations

import re

from app.db import db
from tests.factories import login


def test_demo_has_a_transfer_and_a_pending_application(app, ctx, client):
    from demodata.stores import load_demo

    load_demo()
    db.session.commit()
    login(client, "issuer", "Demo1234")
    transfers = client.get("/transfers/").get_data(as_text=True)
    assert len(re.findall(r'data-testid="transfer-row"', transfers)) == 1
    assert "陳小華" in transfers and "轉贈中" in transfers and "2 張" in transfers
    applications = client.get("/return-applications/").get_data(as_text=True)
    assert len(re.findall(r'data-testid="application-row"', applications)) == 1
    assert "林美玲" in applications and "活動改期無法前往" in applications
