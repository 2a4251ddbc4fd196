"""Public image URLs: /media/<token>. Logos, banners and product images appear on public
e-ticket pages, so the URL is the capability: a random token, looked up exactly."""

from __future__ import annotations

from flask import Blueprint, Response, abort
from sqlalchemy import select

from app.db import db
from app.uploads.models import Upload
from app.uploads.services import path_of

bp = Blueprint("uploads", __name__)


@bp.route("/media/<token>")
def media(token: str):
    if len(token) > 64:
        abort(404)
    upload = db.session.scalar(
        select(Upload).where(Upload.token == token).execution_options(unscoped=True))
    if upload is None or not path_of(upload).exists():
        abort(404)
    # Images are small (<= 2 MB): read whole, so no file handle outlives the response.
    response = Response(path_of(upload).read_bytes(), mimetype=upload.content_type)
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def url_for_upload(upload: Upload | None) -> str | None:
    from flask import url_for

    return url_for("uploads.media", token=upload.token) if upload else None
