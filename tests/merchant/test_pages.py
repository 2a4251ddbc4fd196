from datetime import timedelta

from app import clock
from app.db import db
from app.news.models import NewsItem
from app.stores.models import DeliveryMethod, RedemptionMode
from tests.factories import login, make_account, make_store


def test_news_list_and_item_render_for_a_merchant(client, ctx):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 9, 0))
    make_account(make_store(), username="owner31")
    old = NewsItem(title="系統維護公告", body="11/30 凌晨維護\n請提前作業", category="維護",
                   published_at=clock.now() - timedelta(days=3))
    new = NewsItem(title="新功能上線", body="分店報表已上線", category="公告",
                   published_at=clock.now())
    db.session.add_all([old, new])
    db.session.commit()
    login(client, "owner31")
    html = client.get("/vendor/news").get_data(as_text=True)
    assert html.index("新功能上線") < html.index("系統維護公告")  # newest first
    assert "2026/11/18" in html and "維護" in html
    item = client.get(f"/vendor/news/{old.id}")
    assert item.status_code == 200
    text = item.get_data(as_text=True)
    assert "11/30 凌晨維護" in text and "2026/11/18 09:00" in text
    assert client.get("/vendor/news/999999").status_code == 404


def test_contract_page_renders_the_current_contract(client, ctx):
    store = make_store(methods=[DeliveryMethod.IMMEDIATE, DeliveryMethod.MERCHANT_PRINT],
                       sms_enabled=False)
    make_account(store, username="owner32")
    db.session.commit()
    login(client, "owner32")
    response = client.get("/vendor/contract")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "目前合約" in html and "2020/01/01" in html and "2099/12/31" in html
    assert "使用後核銷" in html and "即期票券" in html and "廠商列印" in html
    assert "並未開通此服務" in html  # SMS off


def test_contract_page_for_installment_mode(client, ctx):
    store = make_store(mode=RedemptionMode.INSTALLMENT)
    store.contracts[0].escrow_type = "信託"
    store.contracts[0].installment_period_days = 30
    store.contracts[0].installment_period_count = 12
    make_account(store, username="owner33")
    db.session.commit()
    login(client, "owner33")
    html = client.get("/vendor/contract").get_data(as_text=True)
    assert "分期核銷" in html and "信託" in html and "12 期，每期 30 天" in html


def test_vendor_menu_entries_for_the_main_account(client, ctx):
    make_account(make_store(), username="owner34")
    db.session.commit()
    login(client, "owner34")
    html = client.get("/vendor/news").get_data(as_text=True)
    for endpoint_url in ("/vendor/profile", "/vendor/login-history", "/vendor/contract"):
        assert f'href="{endpoint_url}"' in html
