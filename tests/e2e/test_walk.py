"""Browser walk: as issuer, clerk1, operator and the installment-mode issuer, every entry of
the rendered menu at 1366 px answers without a console error, without horizontal overflow and
without a table cell squeezed to a one-character column; as a consumer on a phone (390×844) the
e-ticket wallet and the convenience-store kiosk page fit the screen. One browser context per
login."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import credentials
from app.db import db
from app.notifications.models import Channel, Message
from app.tickets.models import Order

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-TW",
           "timezone_id": "Asia/Taipei"}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "locale": "zh-TW", "timezone_id": "Asia/Taipei"}

# What a page's layout looks like to a reader: how far it overflows sideways, and the visible
# table cells with text that are squeezed: zero wide, their content spilling over the next cell,
# narrower than 2 em with 3+ characters, or wrapped one character per line.
LAYOUT = r"""() => {
  const em = parseFloat(getComputedStyle(document.documentElement).fontSize);
  const squeezed = [];
  for (const cell of document.querySelectorAll("th, td")) {
    if (!cell.checkVisibility()) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const tops = new Set();
    let text = "";
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.data.trim() || !node.parentElement.checkVisibility()) continue;
      text += node.data.replace(/\s+/g, "");
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
    }
    if (!text) continue;
    const label = `${cell.offsetWidth}px ${text.slice(0, 30)}`;
    if (cell.offsetWidth === 0 || cell.scrollWidth > cell.clientWidth + 1) squeezed.push(label);
    else if (text.length >= 3 && (cell.offsetWidth < 2 * em || (tops.size > 2 && tops.size >= text.length)))
      squeezed.push(label);
  }
  return {overflow: document.documentElement.scrollWidth - window.innerWidth, squeezed};
}"""


class Watch:
    """A browser context whose console errors and page errors are collected, page by page."""

    def __init__(self, browser, options: dict) -> None:  # noqa: ANN001
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}")
                     if r.status >= 400 else None)

    def _console(self, message) -> None:  # noqa: ANN001
        url = message.location.get("url", "")
        if message.type == "error":
            self.errors.append(f"{message.text} {url}")

    def visit(self, url: str) -> dict:
        self.errors.clear()
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status < 400, (url, response and response.status)
        self.page.wait_for_load_state("networkidle")
        layout = self.page.evaluate(LAYOUT)
        layout["errors"] = list(self.errors)
        return layout


def _login(watch: Watch, base: str, username: str) -> None:
    watch.page.goto(f"{base}/login")
    watch.page.get_by_label("帳號").fill(username)
    watch.page.get_by_label("密碼").fill("Demo1234")
    watch.page.get_by_role("button", name="登入").click()
    watch.page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def _menu_links(watch: Watch) -> list[str]:
    nav = watch.page.get_by_role("navigation", name="主選單")
    hrefs = nav.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
    return list(dict.fromkeys(hrefs))


@pytest.mark.parametrize("username", ["issuer", "clerk1", "operator", "installment"])
def test_every_menu_entry_reads_well_at_1366(live_server, browser_instance, username):
    watch = Watch(browser_instance, DESKTOP)
    try:
        _login(watch, live_server, username)
        links = _menu_links(watch)
        assert len(links) >= 3
        problems = {}
        for url in links:
            layout = watch.visit(url)
            found = {k: v for k, v in layout.items() if v}
            if layout["overflow"] <= 0:
                found.pop("overflow", None)
            if found:
                problems[url.removeprefix(live_server)] = found
        assert problems == {}
    finally:
        watch.context.close()


def test_consumer_pages_fit_a_phone(app, live_server, browser_instance):
    with app.app_context():
        bodies = db.session.scalars(
            select(Message.body).where(Message.channel == Channel.EMAIL,
                                       Message.kind == "issuance_notice")
            .order_by(Message.id).execution_options(unscoped=True)).all()
        bodies = [credentials.reveal_text(b) for b in bodies]  # as sent: links are sealed at rest
        pickup = db.session.scalar(select(Order).where(Order.pickup_code_digest.is_not(None))
                                   .execution_options(unscoped=True).limit(1)).pickup_code
        db.session.remove()
    links = [m.group(0) for b in bodies if (m := re.search(r"/t/[A-Za-z0-9_-]+", b))]
    assert links and pickup

    watch = Watch(browser_instance, PHONE)
    try:
        entry = watch.visit(f"{live_server}{links[0]}")
        assert (entry["overflow"], entry["errors"]) == (0, [])
        watch.page.get_by_label("手機末四碼").fill("5678")
        watch.page.get_by_role("button", name="確認").click()
        watch.page.get_by_test_id("wallet").wait_for()
        wallet = watch.page.evaluate(LAYOUT)
        assert (wallet["overflow"], list(watch.errors)) == (0, [])
        kiosk = watch.visit(f"{live_server}/cvs/{pickup}")
        assert (kiosk["overflow"], kiosk["errors"]) == (0, [])
    finally:
        watch.context.close()
