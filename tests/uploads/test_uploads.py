"""Uploads: images only, checked by content; stored outside the code tree; served with their type."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from app.db import db
from app.errors import InvalidInput
from app.uploads.models import UploadPurpose
from app.uploads.services import MAX_BYTES, path_of, save_image
from tests.factories import make_store


def _png(size=(20, 10), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def _file(data: bytes, name: str = "x.png", content_type: str = "image/png") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type=content_type)


def test_a_png_is_stored_outside_the_code_tree_and_served(app, ctx, client):
    store = make_store()
    upload = save_image(store.id, _file(_png()), UploadPurpose.LOGO)
    db.session.commit()
    assert (upload.width, upload.height, upload.content_type) == (20, 10, "image/png")
    assert path_of(upload).parent == Path(app.config["UPLOAD_FOLDER"])  # not in the code tree
    assert not path_of(upload).is_relative_to(Path(app.root_path))
    response = client.get(f"/media/{upload.token}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(response.data)).size == (20, 10)


def test_a_jpeg_named_png_is_judged_by_content(ctx):
    upload = save_image(make_store().id, _file(_png(fmt="JPEG"), "photo.png"), UploadPurpose.PRODUCT)
    assert upload.content_type == "image/jpeg" and upload.token.endswith(".jpg")


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "a.png"),
        (b"%PDF-1.4 not an image", "a.jpg"),
        (b"GIF89a" + b"\x00" * 10, "a.gif"),  # a truncated image
        (b"", "empty.png"),
    ],
)
def test_non_images_are_refused_whatever_their_name(ctx, data, name):
    with pytest.raises(InvalidInput):
        save_image(make_store().id, _file(data, name), UploadPurpose.LOGO)


def test_oversize_files_are_refused(ctx):
    with pytest.raises(InvalidInput, match="不可超過"):
        save_image(make_store().id, _file(b"\x89PNG" + b"0" * MAX_BYTES), UploadPurpose.LOGO)


def test_decompression_bombs_are_refused(ctx):
    with pytest.raises(InvalidInput, match="尺寸過大"):
        save_image(make_store().id, _file(_png(size=(5000, 5000))), UploadPurpose.BANNER)


def test_unknown_media_is_404(client):
    assert client.get("/media/nope.png").status_code == 404
