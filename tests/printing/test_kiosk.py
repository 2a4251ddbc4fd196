"""The convenience-store kiosk page /cvs/<pickup code>: public, no login; shows the order's
tickets with the paper ticket's content (QR as inline SVG); 列印 answers the PDF and marks the
tickets printed, once; invalid and unknown codes get one 404 page and count toward a per-IP
limit; responses are never cached and send no referrer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.issuance.presentation import faces_for
from app.orders import services as orders
from app.printing import kiosk_views, services
from app.printing.models import PrintKind
from app.tickets.models import Order, Ticket
from tests.issuance.helpers import ready_store
from tests.printing.helpers import CVS, paper_tickets, pdf_text, qr_codes, runs

LIMIT = int(kiosk_views.PICKUP_CODE_PER_IP.limit.split("/")[0])


def _html(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


@pytest.fixture
def cvs_order(ctx):
    store, owner, pickup, gift = ready_store()
    tickets = paper_tickets(owner, store, pickup, 2, method=CVS)
    order = db.session.get(Order, tickets[0].order_id)
    return store, owner, order, tickets


def _private(response) -> None:  # noqa: ANN001
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_page_shows_every_ticket_like_the_paper_ticket(cvs_order, client):
    store, owner, order, tickets = cvs_order
    response = client.get(f"/cvs/{order.pickup_code}")
    assert response.status_code == 200
    _private(response)
    page = _html(response)
    for face in faces_for(tickets):
        assert face.serial in page and face.code_display in page
        assert face.product_name in page and face.issuer_name in page
        assert face.validity_text in page
    assert "NT$150" in page and "(02) 2655-1775 #123" in page and "價金已依法交付信託" in page
    assert page.count("<svg") == 2 and 'aria-label="核銷代碼' in page
    assert 'data-testid="kiosk-print-form"' in page


@pytest.mark.parametrize("code", ["abc", "012345678901", "123456789012", "1234567890123"])
def test_invalid_and_unknown_codes_get_the_same_404(cvs_order, client, code):
    response = client.get(f"/cvs/{code}")
    assert response.status_code == 404
    _private(response)
    assert "取票代碼無效" in _html(response)
    response = client.post(f"/cvs/{code}/print")
    assert response.status_code == 404 and "取票代碼無效" in _html(response)
    assert runs() == []


def test_failed_lookups_are_limited_per_ip(cvs_order, client, app):
    store, owner, order, tickets = cvs_order
    for n in range(LIMIT):
        assert client.get(f"/cvs/{100000000000 + n}").status_code == 404
    refused = client.get(f"/cvs/{order.pickup_code}")  # even the right code, from this IP
    assert refused.status_code == 429
    _private(refused)
    assert "次數過多" in _html(refused) and int(refused.headers["Retry-After"]) > 0
    assert client.post(f"/cvs/{order.pickup_code}/print").status_code == 429
    other_ip = app.test_client()
    assert other_ip.get(f"/cvs/{order.pickup_code}",
                        environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200


def test_valid_codes_do_not_count_as_failures(cvs_order, client):
    store, owner, order, tickets = cvs_order
    for _ in range(LIMIT + 5):
        assert client.get(f"/cvs/{order.pickup_code}").status_code == 200


def test_printing_answers_the_pdf_and_marks_the_tickets_printed(cvs_order, client, tmp_path):
    store, owner, order, tickets = cvs_order
    response = client.post(f"/cvs/{order.pickup_code}/print")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    _private(response)
    data = response.get_data()
    text = pdf_text(data, tmp_path)
    assert all(t.serial in text for t in tickets)
    assert qr_codes(data, tmp_path, first=1, last=2) == [[t.code] for t in tickets]
    [run] = runs()
    assert (run.kind, run.store_id, run.ticket_count) == (PrintKind.KIOSK, store.id, 2)
    db.session.expire_all()
    printed = db.session.scalars(select(Ticket).where(Ticket.order_id == order.id)).all()
    assert all(t.printed_at is not None and t.print_count == 1 for t in printed)

    # the page no longer shows the codes; a second print is refused
    page = _html(client.get(f"/cvs/{order.pickup_code}"))
    assert 'data-testid="kiosk-printed"' in page and "<svg" not in page
    assert all(t.serial in page and faces_for([t])[0].code_display not in page for t in tickets)
    again = client.post(f"/cvs/{order.pickup_code}/print")
    assert again.status_code == 409 and services.ALREADY_PRINTED_AT_KIOSK in _html(again)
    assert len(runs()) == 1

    # and 已發行訂單管理 refuses to change the purchaser or re-send
    from app.errors import DomainError

    with pytest.raises(DomainError, match="票券已列印"):
        orders.change_purchaser(owner, store, order.id, name="新購買人", mobile="0987654321", email="")
    db.session.rollback()
    with pytest.raises(DomainError, match="票券已列印"):
        orders.resend_notice(owner, store, order.id)


def test_after_a_change_of_purchaser_the_old_code_is_invalid(cvs_order, client):
    store, owner, order, tickets = cvs_order
    old = order.pickup_code
    orders.change_purchaser(owner, store, order.id, name="新購買人", mobile="0987654321", email="")
    db.session.commit()
    assert client.get(f"/cvs/{old}").status_code == 404
    db.session.expire_all()
    assert client.get(f"/cvs/{db.session.get(Order, order.id).pickup_code}").status_code == 200


def test_printing_needs_the_csrf_token(cvs_order, client):
    store, owner, order, tickets = cvs_order
    assert client.post(f"/cvs/{order.pickup_code}/print", csrf=False).status_code == 400
    assert runs() == []


def test_malformed_and_unknown_codes_take_one_path(cvs_order, client, count_queries):
    """The same-answer rule (docs/tickets.md): a malformed code is looked up like an unknown one,
    so the page, its status and the SQL statements are the same."""
    answers = {}
    for code in ("123456789012", "012345678901", "12345678901x"):
        db.session.remove()
        count_queries.clear()
        response = client.get(f"/cvs/{code}")
        answers[code] = (response.status_code, _html(response), list(count_queries))
    unknown = answers["123456789012"]
    assert unknown[0] == 404 and "取票代碼無效" in unknown[1] and unknown[2]
    assert all(answer == unknown for answer in answers.values())
