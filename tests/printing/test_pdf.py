"""The paper-ticket PDF, read back with Debian's tools: pdftotext finds the facts (serials and
codes in standard fonts), pdftoppm + zbarimg decode each QR code to the redemption code, the
logo is embedded, a test print is marked as a sample, and 1000 tickets make 1000 pages."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from app.db import db
from app.issuance.presentation import TicketFace, faces_for
from app.printing import pdf, qr, services
from app.settings.services import settings_for
from app.tickets import services as tickets_service
from app.tickets.status import TicketStatus
from app.uploads.models import UploadPurpose
from app.uploads.services import save_image
from tests.issuance.helpers import ready_store
from tests.printing.helpers import (
    decode_png,
    images,
    need,
    page_count,
    paper_tickets,
    pdf_fonts,
    pdf_text,
    qr_codes,
)
from tests.settings.helpers import RIGHTS


@pytest.fixture
def shop(ctx):
    store, owner, pickup, gift = ready_store()
    settings = settings_for(store)
    settings.cs_email = "service@shop.example.tw"
    db.session.commit()
    return store, owner, pickup, gift


def _flat(text: str) -> str:
    return "".join(text.split())


def test_every_fact_of_the_ticket_is_on_its_page(shop, tmp_path):
    store, owner, pickup, gift = shop
    tickets = paper_tickets(owner, store, pickup, 2)
    job = services.print_tickets(owner, store, [t.id for t in tickets])
    data = services.tickets_pdf(job.tickets, services.footer_for(job.run))
    assert page_count(data, tmp_path) == 2
    pages = [pdf_text(data, tmp_path, first=n, last=n) for n in (1, 2)]
    for ticket, text in zip(job.tickets, pages, strict=True):
        face = faces_for([ticket])[0]
        flat = _flat(text)
        assert ticket.serial in text
        assert face.code_display in text
        for fact in (pickup.name, "NT$150", store.name, "(02)2655-1775#123", "service@shop.example.tw",
                     "價金保管迄日", f"{ticket.expires_on:%Y/%m/%d}", "提貨券", "核銷代碼", "票券序號",
                     _flat(RIGHTS.splitlines()[0]), f"#{job.run.id}"):
            assert fact in flat, fact
    assert [t.serial in pages[1] for t in job.tickets] == [False, True]  # one ticket per page


def test_the_qr_code_on_each_page_is_the_redemption_code(shop, tmp_path):
    store, owner, pickup, gift = shop
    tickets = paper_tickets(owner, store, pickup, 3)
    data = services.tickets_pdf(tickets)
    assert qr_codes(data, tmp_path, first=1, last=3) == [[t.code] for t in tickets]


def test_a_gift_voucher_has_no_rights_statement_and_shows_its_validity(shop, tmp_path):
    store, owner, pickup, gift = shop
    [ticket] = paper_tickets(owner, store, gift, 1)
    text = _flat(pdf_text(services.tickets_pdf([ticket]), tmp_path))
    assert "贈品券" in text and "使用期限" in text and "權益說明" not in text
    assert _flat(RIGHTS.splitlines()[0]) not in text


def test_a_ticket_no_longer_usable_says_so(shop, tmp_path):
    store, owner, pickup, gift = shop
    usable, returned = paper_tickets(owner, store, pickup, 2)
    tickets_service.return_ticket(owner, store, returned, reason="不需要了")
    db.session.commit()
    pages = pdf_text(services.tickets_pdf([usable, returned]), tmp_path).split("\f")
    assert "不可使用" not in pages[0]
    assert "待退貨（不可使用）" in _flat(pages[1])


def test_the_logo_is_embedded_once(shop, tmp_path):
    store, owner, pickup, gift = shop
    image = io.BytesIO()
    Image.new("RGB", (600, 200), (200, 40, 40)).save(image, "PNG")
    upload = save_image(store.id, FileStorage(io.BytesIO(image.getvalue()), "logo.png"),
                        UploadPurpose.LOGO)
    settings_for(store).logo_upload_id = upload.id
    db.session.commit()
    tickets = paper_tickets(owner, store, pickup, 3)
    data = services.tickets_pdf(tickets)
    assert images(data, tmp_path) == (3, 1)  # on every page, embedded once
    settings_for(store).logo_upload_id = None
    db.session.commit()
    assert images(services.tickets_pdf(tickets), tmp_path) == (0, 0)


def test_a_test_print_is_a_clearly_marked_sample(shop, tmp_path):
    store, owner, pickup, gift = shop
    run = services.record_test_print(owner, store)
    data = services.sample_pdf(store, run)
    text = pdf_text(data, tmp_path)
    assert "測試列印 SAMPLE — 不可使用" in text
    assert services.SAMPLE_CODE in text and store.name in text
    assert qr_codes(data, tmp_path) == [[services.SAMPLE_CODE]]


def test_without_a_truetype_cjk_font_the_built_in_cid_font_is_used(monkeypatch, tmp_path):
    monkeypatch.setattr(pdf, "TTF_CANDIDATES", ((tmp_path / "missing.ttc", 0),))
    face = TicketFace(
        ticket_id=1, serial="CB2SY20261122001", code="ABCDEFGH23456789", code_display="ABCD-EFGH-2345-6789",
        product_name="咖啡兌換券", description="", usage_instructions="", is_pickup=False, kind_label="贈品券",
        face_value=120, status=TicketStatus.UNUSED, status_label="未使用", usable=True, valid_from=None,
        valid_until=date(2027, 1, 31), issuer_name="示範商店", cs_phone="", cs_email="", line_url="",
        facebook_url="", instagram_url="", rights_statement="", image_upload_id=None, logo_upload_id=None,
        banner_upload_id=None)
    data = pdf.render([face])
    assert pdf.cjk_font() == pdf.CID_FALLBACK
    assert "MSung-Light" in pdf_fonts(data, tmp_path)
    text = pdf_text(data, tmp_path)
    assert "CB2SY20261122001" in text and "ABCD-EFGH-2345-6789" in text
    assert "咖啡兌換券" in text and "示範商店" in text  # Traditional Chinese, with the right CMap
    assert qr_codes(data, tmp_path) == [["ABCDEFGH23456789"]]


def test_the_installed_truetype_font_is_embedded(tmp_path):
    need("pdffonts")
    if not pdf.TTF_CANDIDATES[0][0].is_file():
        from tests.conftest import service_missing

        service_missing("fonts-arphic-uming not installed (apt-get install fonts-arphic-uming)")
    assert pdf.cjk_font() != pdf.CID_FALLBACK


def test_the_kiosk_qr_svg_decodes_to_the_code(tmp_path):
    """The inline SVG of the kiosk page, drawn path by path, is the code's QR code."""
    import re

    code = "7Q4K2M9ZX1C8B3VD"
    svg = str(qr.svg(code))
    total = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    scale = 8
    image = Image.new("L", (total * scale, total * scale), 255)
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        x, y, n = int(x), int(y), int(n)
        image.paste(0, (x * scale, y * scale, (x + n) * scale, (y + 1) * scale))
    png = tmp_path / "svg.png"
    image.save(png)
    assert decode_png(png) == [code]


WRAPS = [
    ("short", "短句", 100, 3, ("短句",)),
    ("cjk breaks anywhere", "一二三四五六七八九十", 30, 5, ("一二三", "四五六", "七八九", "十")),
    ("latin words stay whole", "aaa bbb ccc", 40, 5, ("aaa", "bbb", "ccc")),
    ("paragraphs kept", "甲\n乙", 100, 5, ("甲", "乙")),
    ("cut with an ellipsis", "一二三四五六七八九十", 30, 2, ("一二三", "四五…")),
    ("no line starts with a comma", "一二三，四五", 30, 5, ("一二三，", "四五")),
    ("a word longer than the line", "abcdefghij", 20, 5, ("abc", "def", "ghi", "j")),  # 6 pt each
]


@pytest.mark.parametrize(("name", "text", "width", "lines", "expected"), WRAPS, ids=[w[0] for w in WRAPS])
def test_wrap(name, text, width, lines, expected):
    font = pdf.cjk_font()
    if font == pdf.CID_FALLBACK:
        pytest.skip("widths below are those of the TrueType font")
    assert pdf.wrap(text, font if not text.isascii() else "Courier", 10, width, lines) == expected


def test_a_thousand_tickets_make_a_thousand_pages_with_every_serial(shop, tmp_path):
    store, owner, pickup, gift = shop
    tickets = paper_tickets(owner, store, pickup, 1000)
    job = services.print_tickets(owner, store, [t.id for t in tickets])
    db.session.commit()
    data = services.tickets_pdf(job.tickets, services.footer_for(job.run))
    assert page_count(data, tmp_path) == 1000
    pages = pdf_text(data, tmp_path).split("\f")
    for n, ticket in enumerate(job.tickets):
        assert ticket.serial in pages[n], n
    assert qr_codes(data, tmp_path, first=1000, last=1000) == [[job.tickets[-1].code]]
