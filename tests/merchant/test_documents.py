"""3-4 廠商文件下載區: the downloads a store's account may use, each link answering 200 with its
type; the manual rendered from the merchant-facing docs/ pages, sanitised, print-friendly, and as
one Markdown file."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from app.auth.permissions import Function, Level
from app.db import db
from app.merchant import manual
from tests.factories import login, make_account, make_installment_store, make_store, make_sub

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Links(HTMLParser):
    def __init__(self, testid: str) -> None:
        super().__init__()
        self.testid, self.inside, self.found = testid, 0, []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        attrs = dict(attrs)
        if self.inside:
            self.inside += 1
            if tag == "a":
                self.found.append((attrs.get("data-testid"), attrs["href"]))
        elif attrs.get("data-testid") == self.testid:
            self.inside = 1

    def handle_endtag(self, tag):  # noqa: ANN001
        if self.inside:
            self.inside -= 1


def _links(html: str) -> dict[str, str]:
    parser = _Links("downloads")
    parser.feed(html)
    return {testid.removeprefix("download-"): href for testid, href in parser.found}


EXPECTED_TYPES = {"issuance-template": XLSX, "issuance-my-template": XLSX, "installment-template": XLSX,
                  "manual": "text/html", "manual-md": "text/markdown", "openapi": "application/json"}


def _follow(client, links: dict[str, str]) -> dict[str, bytes]:  # noqa: ANN001
    bodies = {}
    for name, href in links.items():
        response = client.get(href)
        assert response.status_code == 200, (name, href)
        assert response.mimetype == EXPECTED_TYPES[name], (name, response.mimetype)
        bodies[name] = response.data
    return bodies


def test_every_link_of_a_redeem_after_use_store_opens_with_its_type(client, ctx):
    store = make_store()
    make_account(store, username="docs001")
    db.session.commit()
    login(client, "docs001")
    page = client.get("/vendor/documents")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "廠商文件下載區" in html and 'href="/vendor/documents"' in html  # in the menu
    links = _links(html)
    assert list(links) == ["issuance-template", "issuance-my-template", "manual", "manual-md", "openapi"]
    bodies = _follow(client, links)
    assert bodies["issuance-template"][:2] == b"PK"  # a workbook
    assert "ECTicket 發行管理平台操作手冊" in bodies["manual"].decode()
    assert bodies["manual-md"].decode().startswith("# ECTicket 發行管理平台操作手冊")
    assert b'"openapi"' in bodies["openapi"]


def test_an_installment_store_gets_its_own_template(client, ctx):
    store = make_installment_store()
    make_account(store, username="docs002")
    db.session.commit()
    login(client, "docs002")
    links = _links(client.get("/vendor/documents").get_data(as_text=True))
    assert list(links) == ["installment-template", "manual", "manual-md", "openapi"]
    assert _follow(client, links)["installment-template"][:2] == b"PK"


def test_a_sub_account_without_the_issuance_right_sees_no_template(client, ctx):
    store = make_store()
    make_sub(store, username="docs003", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    login(client, "docs003")
    links = _links(client.get("/vendor/documents").get_data(as_text=True))
    assert list(links) == ["manual", "manual-md", "openapi"]
    assert client.get("/issuance/template").status_code == 403  # and the server agrees
    assert set(_follow(client, links)) == {"manual", "manual-md", "openapi"}


def test_the_manual_holds_the_merchant_pages_only_and_every_inner_link_lands(client, ctx):
    store = make_store()
    make_account(store, username="docs004")
    db.session.commit()
    login(client, "docs004")
    html = client.get("/vendor/documents/manual").get_data(as_text=True)
    docs = Path(ctx.root_path).parent / "docs"
    for name in manual.CHAPTERS:
        title = (docs / f"{name}.md").read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
        assert f'<section id="{name}"' in html and title in html
    assert "operations.md" not in manual.CHAPTERS and "# Operations" not in html
    ids = set(re.findall(r'id="([^"]+)"', html))
    inner = re.findall(r'href="#([^"]+)"', html)
    assert len(inner) > 20 and [h for h in inner if h not in ids] == []
    assert "data-print-page" in html and "<script>" not in html  # the print button's script is a file
    download = client.get("/vendor/documents/manual.md")
    assert "ECTicket%E6%93%8D%E4%BD%9C%E6%89%8B%E5%86%8A.md" in download.headers["Content-Disposition"]
    assert download.headers["Content-Disposition"].startswith('attachment; filename="ECTicket.md"')
    text = download.get_data(as_text=True)
    assert all((docs / f"{n}.md").read_text(encoding="utf-8").strip() in text for n in manual.CHAPTERS)


def test_the_manual_asks_for_a_login(client, ctx):
    assert client.get("/vendor/documents/manual").status_code in (302, 303, 401)
    assert client.get("/vendor/documents").status_code in (302, 303, 401)


def test_rendering_shows_raw_html_as_text_and_drops_unsafe_links():
    html = manual.render(
        "# T\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[a](javascript:alert(1)) [b](operations.md#x) [c](tickets.md#kinds) [d](#here) "
        "[e](https://example.com/)\n\n| h |\n|---|\n| v |\n", "billing")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html
    assert 'href="#tickets-kinds"' in html and 'href="#billing-here"' in html
    assert "<a data-outside-manual=\"\">b</a>" in html
    assert 'href="https://example.com/"' in html
    assert '<h1 id="billing-t">T</h1>' in html and "<table>" in html
