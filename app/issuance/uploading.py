"""The upload step every all-or-nothing batch page shares (tickets, installment orders): read and
check the file and keep the preview (the view commits); or roll back and put the refusal on the
upload form."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from app.db import db
from app.errors import DomainError
from app.issuance.forms import ImportForm

T = TypeVar("T")
UPLOADING_TWICE = "此匯入單號正在上傳中，請稍候再查看或重新上傳"


def prepared(form: ImportForm, prepare: Callable[[], T]) -> tuple[T | None, int]:
    """`prepare()`'s batch (for the view to commit) and 200; or None and the status of the
    refusal, which is placed on the form's import number, its file, or the form itself."""
    try:
        batch = prepare()
    except IntegrityError:  # the same new import number, uploaded twice at once
        db.session.rollback()
        form.import_no.errors = [*form.import_no.errors, UPLOADING_TWICE]
        return None, 409
    except DomainError as err:
        db.session.rollback()
        target = form.file if err.code == "invalid" and not err.fields else None
        if "import_no" in err.fields or err.code == "import_no_used":
            target = form.import_no
        if target is not None:
            target.errors = [*target.errors, err.message]
        else:
            form.form_errors.append(err.message)
        return None, 409 if err.status == 409 else 422
    return batch, 200
