"""Saving and serving uploaded images.

An upload is accepted only if Pillow recognises its content as PNG, JPEG, GIF or WebP (the name
and the browser's content type are ignored), within a byte and a pixel limit. It is re-encoded
(which drops metadata and anything smuggled after the image data) and stored under
UPLOAD_FOLDER, outside the code tree, named by a random token.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from pathlib import Path

from flask import current_app
from PIL import Image, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from app.db import db
from app.errors import InvalidInput
from app.history import current_actor
from app.uploads.models import Upload, UploadPurpose

MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
ACCEPTED = {"PNG", "JPEG", "GIF", "WEBP"}
NOT_AN_IMAGE = "僅接受 PNG、JPG、GIF 或 WebP 圖片檔"


def upload_folder() -> Path:
    folder = Path(current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _read_limited(file: FileStorage) -> bytes:
    data = file.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"圖片檔案不可超過 {MAX_BYTES // (1024 * 1024)} MB")
    if not data:
        raise InvalidInput("請選擇圖片檔案")
    return data


def _decode(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED:
                raise InvalidInput(NOT_AN_IMAGE)
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidInput("圖片尺寸過大（最多 4096×4096 像素）")
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(NOT_AN_IMAGE) from None


def save_image(store_id: int, file: FileStorage, purpose: UploadPurpose) -> Upload:
    """Check, re-encode and store an uploaded image of a store; add its Upload row (flushed)."""
    image = _decode(_read_limited(file))
    out = io.BytesIO()
    if image.format == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
        content_type, ext = "image/jpeg", "jpg"
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
        content_type, ext = "image/png", "png"
    data = out.getvalue()
    token = f"{secrets.token_urlsafe(24)}.{ext}"
    (upload_folder() / token).write_bytes(data)
    upload = Upload(store_id=store_id, token=token, purpose=purpose, content_type=content_type,
                    size=len(data), width=image.width, height=image.height,
                    sha256=hashlib.sha256(data).hexdigest(),
                    original_name=(file.filename or "")[:200],
                    created_by_id=current_actor().account_id)
    db.session.add(upload)
    db.session.flush()
    return upload


def path_of(upload: Upload) -> Path:
    return upload_folder() / upload.token
