"""Response headers every page carries: a Content-Security-Policy that lets no inline script run,
HSTS over https, and `Cache-Control: no-store` on every page and fragment (they hold personal data
or a CSRF token), while static files stay cacheable. The templates hold no inline script or
handler, so the policy breaks nothing."""

from __future__ import annotations

import re
from pathlib import Path

from app.db import db
from tests.factories import login, make_account, make_store

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def _directives(header: str) -> dict[str, list[str]]:
    parts = (p.split() for p in header.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def test_every_page_forbids_inline_scripts_and_framing(client):
    csp = _directives(client.get("/login").headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert "'unsafe-eval'" not in csp["script-src"] and "'unsafe-inline'" not in csp["script-src"]


def test_signed_in_pages_and_fragments_are_never_stored(client, ctx):
    make_account(make_store(), username="owner-cache")
    db.session.commit()
    login(client, "owner-cache")
    assert client.get("/home").headers["Cache-Control"] == "no-store"
    fragment = client.get("/home", headers={"HX-Request": "true"})
    assert fragment.headers["Cache-Control"] == "no-store"
    assert client.get("/login").headers["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable(client):
    with client.get("/static/js/app.js") as response:
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")
        assert "Content-Security-Policy" in response.headers


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_templates_hold_no_inline_script_or_handler():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    handler = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
    javascript_url = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for pattern in (inline_script, handler, javascript_url):
            offenders += [f"{path.relative_to(TEMPLATES)}: {m.group(0)[:60]}"
                          for m in pattern.finditer(text)]
    assert offenders == []
