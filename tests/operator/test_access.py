import pytest
from sqlalchemy import func, select

from app.auth.models import AccountKind
from app.auth.permissions import Function, Level
from app.db import db
from app.jobs import ScheduledRun
from app.news.models import NewsItem
from app.stores.models import Store
from tests.factories import login, make_account, make_store

SAFE = {"HEAD", "OPTIONS"}


def _operator_requests(app, store, news_id):  # noqa: ANN001, ANN202
    values = {"store_id": store.id, "contract_id": store.contracts[0].id, "news_id": news_id,
              "name": "prune_login_events", "domain_id": 1, "notice_id": 1, "rate_id": 1,
              "account_id": 1, "transaction_id": 1}
    adapter = app.url_map.bind("localhost")
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("operator."):
            continue
        url = adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments})
        out += [(method, url) for method in sorted(rule.methods - SAFE)]
    return out


@pytest.mark.parametrize("kind", [AccountKind.MAIN, AccountKind.SUB])
def test_merchant_accounts_get_403_on_every_operator_route(app, client, ctx, kind):
    store = make_store("商店甲")
    grants = {f: Level.MODIFY for f in Function} if kind is AccountKind.SUB else None
    make_account(store, kind=kind, username="merchant77", grants=grants)
    item = NewsItem(title="公告", body="內容", category="公告")
    db.session.add(item)
    db.session.commit()
    login(client, "merchant77")
    requests = _operator_requests(app, store, item.id)
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("operator.")}
    assert {"operator.stores", "operator.new_store", "operator.store_detail",
            "operator.new_contract", "operator.edit_contract", "operator.news",
            "operator.new_news", "operator.edit_news", "operator.delete_news",
            "operator.scheduled_runs", "operator.run_job"} <= endpoints
    assert len(requests) >= len(endpoints)
    for method, url in requests:
        response = client.open(url, method=method, data={"name": "x", "title": "x"})
        assert response.status_code == 403, (method, url)
    assert db.session.scalar(select(func.count(NewsItem.id))) == 1
    assert db.session.scalar(select(func.count(Store.id))) == 1
    assert db.session.scalar(select(func.count(ScheduledRun.id))) == 0


def test_anonymous_visitors_are_sent_to_login(client, ctx):
    response = client.get("/operator/stores")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_operator_lands_on_the_console_with_its_menu(client, ctx):
    from tests.operator.helpers import operator_logged_in

    operator_logged_in(client)
    response = client.get("/")
    assert response.headers["Location"] == "/operator/overview"
    html = client.get("/operator/stores").get_data(as_text=True)
    for label in ("商店與合約", "最新消息", "排程作業"):
        assert label in html
