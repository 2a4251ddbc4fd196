from datetime import UTC, datetime

from sqlalchemy import func, select

from app import clock, history
from app.db import db
from app.news.models import NewsItem
from tests.factories import login, make_account, make_store
from tests.operator.helpers import operator_logged_in


def _news(**overrides: str) -> dict[str, str]:
    data = {"title": "系統維護公告", "body": "11/30 02:00-04:00 系統維護。", "category": "維護",
            "published_at": "2026-11-21T09:00"}
    data.update(overrides)
    return data


def test_published_news_appears_in_the_merchants_message_centre(app, client):
    # No `ctx`: a second client in one pushed app context would share Flask-Login's cached user.
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 0))
    with app.app_context():
        make_account(make_store(), username="merchant01")
        operator_logged_in(client)
    response = client.post("/operator/news/new", data=_news())
    assert response.status_code == 303
    assert response.headers["Location"] == "/operator/news"
    listing = client.get("/operator/news").get_data(as_text=True)
    assert "系統維護公告" in listing and "已發佈" in listing and "消息已發佈" in listing

    merchant = app.test_client()
    login(merchant, "merchant01")
    home = merchant.get("/home").get_data(as_text=True)
    centre = home[home.index('data-testid="message-centre"'):]
    assert "系統維護公告" in centre and "維護" in centre
    with app.app_context():
        item = db.session.scalar(select(NewsItem))
        assert item.published_at == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 09:00 Taipei
        assert [e.action for e in history.entries_for(item)] == ["created"]
    assert merchant.get(f"/vendor/news/{item.id}").status_code == 200


def test_news_form_defaults_to_now_and_a_future_time_is_scheduled(client, ctx):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 5))
    operator = operator_logged_in(client)
    form = client.get("/operator/news/new").get_data(as_text=True)
    assert 'value="2026-11-21T10:05"' in form
    response = client.post("/operator/news/new", data=_news(title="新功能上線",
                                                            published_at="2026-12-01T08:00"))
    assert response.status_code == 303
    item = db.session.scalar(select(NewsItem))
    assert item.published_at > clock.now() and item.created_by_id == operator.id
    listing = client.get("/operator/news").get_data(as_text=True)
    assert "排程中" in listing and "2026/12/01 08:00" in listing
    assert "消息已排程發佈" in listing


def test_edit_news_writes_history(client, ctx):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 0))
    operator_logged_in(client)
    client.post("/operator/news/new", data=_news())
    item = db.session.scalar(select(NewsItem))
    page = client.get(f"/operator/news/{item.id}").get_data(as_text=True)
    assert 'value="2026-11-21T09:00"' in page and "系統維護公告" in page
    response = client.post(f"/operator/news/{item.id}", data=_news(title="系統維護延期",
                                                                  category="公告"))
    assert response.status_code == 303
    db.session.expire_all()
    assert (item.title, item.category) == ("系統維護延期", "公告")
    entry = history.entries_for(item)[0]
    assert entry.action == "updated"
    assert entry.changes == {"title": ["系統維護公告", "系統維護延期"],
                             "category": ["維護", "公告"]}


def test_delete_news_needs_post_and_removes_it(client, ctx):
    operator_logged_in(client)
    client.post("/operator/news/new", data=_news())
    item_id = db.session.scalar(select(NewsItem.id))
    page = client.get("/operator/news").get_data(as_text=True)
    assert "data-confirm=" in page and f"/operator/news/{item_id}/delete" in page
    assert client.get(f"/operator/news/{item_id}/delete").status_code == 405
    assert client.post(f"/operator/news/{item_id}/delete", csrf=False).status_code == 400
    response = client.post(f"/operator/news/{item_id}/delete")
    assert response.status_code == 303
    assert db.session.scalar(select(func.count(NewsItem.id))) == 0
    assert client.post(f"/operator/news/{item_id}/delete").status_code == 404


def test_bad_news_is_refused(client, ctx):
    operator_logged_in(client)
    cases = [
        (_news(title="長" * 121), "標題至多 120 字"),
        (_news(title=""), "請輸入標題"),
        (_news(body=""), "請輸入內容"),
        (_news(category="廣告"), "請選擇類別"),
        (_news(published_at="明天"), "時間格式不正確"),
    ]
    for data, message in cases:
        response = client.post("/operator/news/new", data=data)
        assert response.status_code == 422, message
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(NewsItem.id))) == 0
