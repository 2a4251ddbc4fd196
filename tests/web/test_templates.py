"""Page templates must render as HTMX fragments too: jinja2-fragments renders only the block,
so macros must be imported inside `{% block content %}`, never above it."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def test_page_templates_import_macros_inside_their_content_block():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if "{% block content %}" not in text:
            continue
        head = text.split("{% block content %}", 1)[0]
        if re.search(r"{%-?\s*(from|import)\s", head):
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []
