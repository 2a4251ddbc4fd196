"""Full page or fragment from one template (htmx book's pattern, via jinja2-fragments).

A page template extends base.html and puts its body in `{% block content %}`. A normal,
boosted or history-restore request gets the whole page; any other HTMX request gets only the
block it targets (default `content`), so there is one markup source for both.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, render_template, request
from jinja2_fragments.flask import render_block


def is_fragment_request() -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(template: str, *, block: str = "content", **context: Any) -> str:
    if is_fragment_request():
        return render_block(template, block, **context)
    return render_template(template, **context)


def redirect_to(url: str) -> Response:
    """Redirect that HTMX follows with a full navigation (HX-Redirect) and browsers with 303."""
    if request.headers.get("HX-Request") == "true":
        response = Response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    response = Response("", 303)
    response.headers["Location"] = url
    return response


def init_app(app: Flask) -> None:
    @app.after_request
    def vary_on_htmx(response: Response) -> Response:
        # Set directly when the view named no Vary (nearly always): `response.vary` parses the
        # header into a set and writes it back, measurable on the API's hottest path.
        if "Vary" in response.headers:
            response.vary.add("HX-Request")
        else:
            response.headers["Vary"] = "HX-Request"
        return response
