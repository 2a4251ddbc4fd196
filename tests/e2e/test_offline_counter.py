"""Browser: the counter offline (離線核銷), as pretixSCAN's offline mode.

A branch clerk opens 票券核銷 while online: the page keeps the branch's signed snapshot and the
service worker keeps the page. The network goes (Playwright's offline switch): the page reopens
from the worker, the clerk redeems two codes from the snapshot and is told 「離線中 — 連線後將
同步」. Meanwhile the second ticket is redeemed at another counter. The network comes back: the
first redemption syncs, the second is a conflict, said to the clerk and listed for the merchant.
The page refuses a kept snapshot whose signature is wrong, and one too old to trust.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.counter.models import Conflict, OfflineRedemption, Outcome
from app.db import db
from app.history import HistoryEntry
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.counter.helpers import browser_login as _login
from tests.counter.helpers import clerk, dashed
from tests.counter.helpers import ready as _ready
from tests.counter.helpers import scan as _scan
from tests.factories import login, make_branch
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

pytestmark = pytest.mark.browser


@pytest.fixture
def counter(app, live_server):  # noqa: ANN001, ANN201
    """A store with a branch, two of its clerks, and two unused tickets: (code, serial, id)."""
    with app.app_context():
        store, owner, pickup, _ = ready_store("offe2eowner")
        branch = make_branch(store, "E01", "離線門市")
        clerk(store, "offe2eclerk", branch)
        clerk(store, "offe2eother", branch)
        tickets = [(t.code, t.serial, t.id) for t in issue(owner, store, pickup, quantity=2)]
        db.session.remove()
    return tickets


def _open_counter(page, base: str) -> object:  # noqa: ANN001
    """The redeem page, once it keeps a verified snapshot and the worker keeps the page."""
    page.goto(f"{base}/counter/redeem")
    _ready(page)
    panel = page.get_by_test_id("offline-panel")
    expect(panel).to_have_attribute("data-snapshot-state", "ready")
    expect(panel).to_have_attribute("data-shell", "kept")
    return panel


def _redeem_offline(page, code: str) -> None:  # noqa: ANN001
    _scan(page, code)
    card = page.get_by_test_id("offline-card")
    expect(card).to_contain_text("咖啡券")
    expect(card).to_contain_text("未使用")
    expect(page.get_by_test_id("offline-act")).to_be_focused()
    page.keyboard.press("Enter")  # 【離線核銷】 has the focus
    expect(page.get_by_test_id("counter-success")).to_contain_text("已離線核銷 — 離線中，連線後將同步")
    expect(page.locator("#counter-code")).to_be_focused()


def test_offline_redemptions_sync_and_a_conflict_is_reported(app, live_server, page, counter):
    (first_code, first_serial, first_id), (second_code, second_serial, second_id) = counter
    _login(page, live_server, "offe2eclerk")
    panel = _open_counter(page, live_server)
    expect(page.get_by_test_id("offline-status")).to_contain_text("共 2 張可核銷票券")
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()

    page.context.set_offline(True)
    expect(page.get_by_test_id("offline-banner")).to_have_text("離線中 — 連線後將同步")
    reopened = page.reload()  # no network: the service worker's copy of the page
    assert reopened is not None and reopened.from_service_worker
    _ready(page)
    expect(panel).to_have_attribute("data-snapshot-state", "ready")

    # typed as a clerk might: lower case, dashes, o for 0 and l for 1 (normalised as the server does)
    _redeem_offline(page, dashed(first_code).replace("0", "o").replace("1", "l"))
    _redeem_offline(page, second_code)
    expect(page.get_by_test_id("offline-banner")).to_have_text("離線中 — 連線後將同步（待同步 2 筆）")
    _scan(page, first_code)  # the same ticket again, on this device
    expect(page.get_by_test_id("counter-error")).to_contain_text("離線核銷，尚待同步")

    # meanwhile the second ticket is redeemed at another counter, online
    other = app.test_client()
    login(other, "offe2eother")
    done = other.post("/counter/act", data={"action": "redeem", "code": second_code,
                                            "ticket_id": second_id, "seen": "unused"})
    assert done.status_code == 200

    page.context.set_offline(False)
    expect(page.get_by_test_id("offline-synced")).to_have_text("已同步 1 筆離線核銷")
    conflict = page.get_by_test_id("offline-conflict")
    expect(conflict).to_have_count(1)
    expect(conflict).to_contain_text(second_serial)
    expect(conflict).to_contain_text("已在他處核銷")
    expect(conflict).to_contain_text("offe2eother")
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()
    expect(panel).to_have_attribute("data-pending", "0")

    with app.app_context():
        first, second = (db.session.get(Ticket, i) for i in (first_id, second_id))
        assert first.status is S.USED and second.status is S.USED
        redeemed = db.session.scalars(select(HistoryEntry).where(
            HistoryEntry.action == "redeemed", HistoryEntry.subject_type == "tickets",
            HistoryEntry.subject_id.in_((first_id, second_id)))
            .order_by(HistoryEntry.subject_id)).all()
        assert [(e.subject_id, e.actor_label) for e in redeemed] == [
            (first_id, "offe2eclerk"), (second_id, "offe2eother")]  # each once
        assert "離線核銷（裝置 " in redeemed[0].reason
        records = {r.claimed_ticket_id: r for r in db.session.scalars(select(OfflineRedemption))}
        assert records[first_id].outcome is Outcome.SYNCED
        assert records[second_id].conflict is Conflict.REDEEMED_ELSEWHERE
        device = records[first_id].device_id
        assert device in redeemed[0].reason
        db.session.remove()

    # the merchant's list of conflicts
    page.get_by_role("button", name="登出").click()
    page.wait_for_url(lambda url: "/login" in url)
    _login(page, live_server, "offe2eowner")
    page.goto(f"{live_server}/counter/offline/conflicts")
    rows = page.get_by_test_id("conflict-rows").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(second_serial)
    expect(rows).to_contain_text("已在他處核銷")
    expect(rows).to_contain_text(device)
    expect(rows).to_contain_text("offe2eclerk")
    expect(rows).not_to_contain_text(first_serial)


TAMPER = """async () => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open("ectix-counter-offline", 1);
    r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error);
  });
  const tx = db.transaction("snapshots", "readwrite");
  const store = tx.objectStore("snapshots");
  const all = await new Promise(ok => { const r = store.getAll(); r.onsuccess = () => ok(r.result); });
  for (const kept of all) {
    kept.envelope.payload = kept.envelope.payload.replace('"count":2', '"count":3');
    store.put(kept);
  }
  await new Promise(ok => { tx.oncomplete = ok; });
  return all.length;
}"""


def test_the_page_refuses_a_snapshot_whose_signature_or_age_is_wrong(live_server, page, counter):
    (first_code, _, _), _ = counter
    _login(page, live_server, "offe2eclerk")
    panel = _open_counter(page, live_server)

    # a kept snapshot changed on the device: its signature no longer verifies
    page.context.set_offline(True)
    assert page.evaluate(TAMPER) == 1
    page.reload()
    _ready(page)
    expect(panel).to_have_attribute("data-snapshot-state", "refused")
    expect(page.get_by_test_id("offline-status")).to_contain_text("簽章不符")
    _scan(page, first_code)
    expect(page.get_by_test_id("counter-error")).to_contain_text("簽章不符，無法離線核銷")
    expect(page.get_by_test_id("offline-card")).to_have_count(0)

    # online again: a fresh snapshot; then a day and more offline: too old to redeem from
    page.context.set_offline(False)
    page.reload()
    _ready(page)
    expect(panel).to_have_attribute("data-snapshot-state", "ready")
    page.context.set_offline(True)
    page.clock.set_system_time(datetime.now() + timedelta(hours=24, minutes=5))
    page.locator("#counter-code").focus()
    _scan(page, first_code)
    expect(page.get_by_test_id("counter-error")).to_contain_text("超過 24 小時未更新，無法離線核銷")
    expect(page.get_by_test_id("offline-card")).to_have_count(0)
    expect(panel).to_have_attribute("data-snapshot-state", "refused")


KEPT = """async () => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open("ectix-counter-offline", 1);
    r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error);
  });
  const snapshots = await new Promise(ok => {
    const r = db.transaction("snapshots").objectStore("snapshots").count();
    r.onsuccess = () => ok(r.result);
  });
  const page = await caches.match("/counter/redeem");
  return {snapshots, page: Boolean(page)};
}"""


def test_logging_out_forgets_the_snapshot_and_the_kept_page(live_server, page, counter):
    _login(page, live_server, "offe2eclerk")
    _open_counter(page, live_server)
    assert page.evaluate(KEPT) == {"snapshots": 1, "page": True}
    page.get_by_role("button", name="登出").click()
    page.wait_for_url(lambda url: "/login" in url)
    # the worker forgets them (it outlives the page that logged out): soon after, not at once
    deadline = time.monotonic() + 10
    while page.evaluate(KEPT) != {"snapshots": 0, "page": False} and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert page.evaluate(KEPT) == {"snapshots": 0, "page": False}
