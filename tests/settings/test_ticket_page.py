"""票券頁面資訊: issuer info read-only, customer service, rights statement, logo and banner."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select

from app.db import db
from app.history import HistoryEntry
from app.settings import services
from app.settings.models import StoreSettings
from app.uploads.models import Upload, UploadPurpose
from app.uploads.services import NOT_AN_IMAGE
from tests.factories import login
from tests.settings.helpers import RIGHTS, TICKET_PAGE, png, store_with_owner


def _settings(store):
    db.session.expire_all()
    return db.session.scalar(select(StoreSettings).where(StoreSettings.store_id == store.id))


def _post(client, data=None, **files):
    body = dict(TICKET_PAGE) | (data or {})
    body |= {name: (io.BytesIO(content), filename) for name, (content, filename) in files.items()}
    return client.post("/settings/ticket-page", data=body, content_type="multipart/form-data")


def test_form_shows_issuer_info_read_only_and_where_items_show(client, ctx):
    store = store_with_owner("owner41", name="好吃餅舖")
    login(client, "owner41")
    response = client.get("/settings/ticket-page")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in ("好吃餅舖", "王大明", store.tax_id, "台北市南港區經貿二路 1 號",
                 "https://shop.example.tw", "如需調整，請聯繫所屬業務", "消費者保護法",
                 "僅顯示於提貨券上", "超商票券", "通知信", "電子票券核銷登入頁"):
        assert text in html
    for name in ("name", "tax_id", "responsible_person", "address", "website"):
        assert f'name="{name}"' not in html  # operator-kept data has no inputs
    for name in ("cs_phone", "cs_email", "line_url", "facebook_url", "instagram_url",
                 "rights_statement", "logo", "banner"):
        assert f'name="{name}"' in html
    assert 'enctype="multipart/form-data"' in html


def test_save_with_logo_then_the_image_is_served(client, ctx):
    store = store_with_owner("owner42")
    login(client, "owner42")
    response = _post(client, {"rights_statement": RIGHTS.replace("\n", "\r\n")},
                     logo=(png((40, 20)), "logo.png"))
    assert response.status_code == 303, response.get_data(as_text=True)
    settings = _settings(store)
    assert settings.cs_phone == "(02) 2655-1775 #123"
    assert settings.cs_email == "service@shop.example.tw"
    assert settings.line_url == "https://line.me/R/ti/p/@shop"
    assert settings.instagram_url == "http://instagram.com/shop"
    assert settings.rights_statement == RIGHTS  # stored with Unix line ends
    assert settings.ticket_page_completed_at is not None
    assert settings.banner_upload_id is None
    logo = settings.logo
    assert logo.purpose is UploadPurpose.LOGO and logo.store_id == store.id
    assert (logo.width, logo.height) == (40, 20)

    page = client.get("/settings/").get_data(as_text=True)
    assert "票券頁面資訊已儲存" in page
    assert f'src="/media/{logo.token}"' in page
    assert "(02) 2655-1775 #123" in page and "service@shop.example.tw" in page
    image = client.get(f"/media/{logo.token}")
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (40, 20)

    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.action == "ticket_page_updated"))
    assert entry.store_id == store.id and entry.actor_label == "owner42"
    assert entry.changes["cs_phone"] == ["", "(02) 2655-1775 #123"]
    assert entry.changes["rights_statement"] == ["", RIGHTS]
    assert entry.changes["logo_upload_id"] == [None, logo.id]
    assert "banner_upload_id" not in entry.changes
    # Basic settings were never saved, so issuance is still blocked by them.
    assert services.issuance_blocker(store) == services.BASIC_MISSING


def test_banner_replaced_and_logo_removed(client, ctx):
    store = store_with_owner("owner43")
    login(client, "owner43")
    _post(client, logo=(png(), "logo.png"), banner=(png((300, 100)), "banner.png"))
    first = _settings(store)
    old_logo, old_banner = first.logo_upload_id, first.banner_upload_id
    assert old_logo and old_banner
    html = client.get("/settings/ticket-page").get_data(as_text=True)
    assert 'data-testid="logo-preview"' in html and 'data-testid="banner-preview"' in html
    response = _post(client, {"remove_logo": "y"}, banner=(png((600, 200)), "new.png"))
    assert response.status_code == 303
    settings = _settings(store)
    assert settings.logo_upload_id is None
    assert settings.banner_upload_id not in (None, old_banner)
    assert settings.banner.width == 600
    last = db.session.scalars(select(HistoryEntry).order_by(HistoryEntry.id.desc())).first()
    assert last.changes == {"logo_upload_id": [old_logo, None],
                            "banner_upload_id": [old_banner, settings.banner_upload_id]}


def test_a_non_image_is_refused_and_nothing_changes(client, ctx):
    store = store_with_owner("owner44")
    login(client, "owner44")
    _post(client, logo=(png(), "logo.png"))
    before = _settings(store)
    saved = (before.cs_phone, before.logo_upload_id, before.rights_statement)
    response = _post(client, {"cs_phone": "0800-000-123"},
                     logo=(b"%PDF-1.4 not an image", "logo.png"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert NOT_AN_IMAGE in html
    assert 'value="0800-000-123"' in html  # the typed values are kept for another try
    after = _settings(store)
    assert (after.cs_phone, after.logo_upload_id, after.rights_statement) == saved
    assert db.session.scalar(select(func.count(Upload.id))) == 1
    assert db.session.scalar(select(func.count(HistoryEntry.id))) == 1


def test_an_svg_banner_is_refused(client, ctx):
    store = store_with_owner("owner45")
    login(client, "owner45")
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    response = _post(client, banner=(svg, "banner.png"))
    assert response.status_code == 422
    assert NOT_AN_IMAGE in response.get_data(as_text=True)
    assert _settings(store) is None
    assert db.session.scalar(select(func.count(Upload.id))) == 0


def test_every_bad_field_is_named_and_nothing_is_saved(client, ctx):
    store = store_with_owner("owner46")
    login(client, "owner46")
    response = _post(client, {
        "cs_phone": "call me", "cs_email": "not-an-email",
        "line_url": "javascript:alert(1)", "facebook_url": "www.facebook.com/x",
        "instagram_url": "", "rights_statement": "甲" * 2001,
    }, logo=(png(), "logo.png"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in ("客服電話僅可輸入數字", "「not-an-email」不是有效的電子信箱",
                    "LINE網址必須是", "Facebook網址必須是", "權益說明至多 2000 字"):
        assert message in html
    assert _settings(store) is None
    assert db.session.scalar(select(func.count(Upload.id))) == 0  # the good logo was not kept


def test_required_fields(client, ctx):
    store = store_with_owner("owner47")
    login(client, "owner47")
    response = _post(client, {"cs_phone": "", "rights_statement": "  "})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "請輸入客服電話" in html and "請輸入權益說明" in html
    assert _settings(store) is None
    # Optional fields may stay empty.
    response = _post(client, {"cs_email": "", "line_url": "", "facebook_url": "",
                              "instagram_url": ""})
    assert response.status_code == 303
    assert _settings(store).cs_email == ""


def test_both_sections_saved_lift_the_settings_block(client, ctx):
    store = store_with_owner("owner48")
    login(client, "owner48")
    client.post("/settings/basic", data={})
    _post(client)
    assert services.issuance_blocker(store) is None
    html = client.get("/settings/").get_data(as_text=True)
    assert 'data-testid="issuance-blocker"' not in html
    assert html.count("已完成") == 2


def test_history_page_lists_both_sections(client, ctx):
    store_with_owner("owner49")
    login(client, "owner49")
    empty = client.get("/settings/history")
    assert empty.status_code == 200 and "尚無歷程" in empty.get_data(as_text=True)
    client.post("/settings/basic", data={"online_return_application": "y"})
    _post(client)
    html = client.get("/settings/history").get_data(as_text=True)
    assert "修改基本設定" in html and "修改票券頁面資訊" in html
    assert "owner49" in html and "電子票券申請退貨" in html  # field labels, not raw keys
    assert "(02) 2655-1775 #123" in html


def test_a_good_logo_with_a_bad_banner_leaves_no_file_behind(app, client, ctx):
    from pathlib import Path

    store = store_with_owner("owner4a")
    login(client, "owner4a")
    response = _post(client, logo=(png(), "logo.png"), banner=(b"GIF89a" + b"\0" * 10, "b.gif"))
    assert response.status_code == 422
    assert "橫幅圖片" in response.get_data(as_text=True)
    assert _settings(store) is None
    assert db.session.scalar(select(func.count(Upload.id))) == 0
    folder = Path(app.config["UPLOAD_FOLDER"])
    assert not folder.exists() or list(folder.iterdir()) == []
