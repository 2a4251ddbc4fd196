"""Form posts: a service's refusal shown on the form, and the one commit of a post.

`committed(form)` wraps a view's service call: the request's one commit when the call returns;
on a DomainError, a rollback, the error's field messages under the form's fields
(`place_field_errors`) and the rest of it (message, status) for the view to show; a NotFound
still answers 404. `saved(form, work, done=…, to=…)` is a form post's usual end on top of it:
the form checked, the work committed, a flash and a redirect; or None and the form's errors.

WTForms' own messages (e.g. 「不是有效的整數值」) in Traditional Chinese: Flask-WTF asks Babel
for the `zh_Hant_TW` catalogue, which Babel resolves to WTForms' `zh` (Simplified) catalogue;
WTForms ships `zh_TW`. Every FlaskForm gets that one instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from flask import Response, flash
from flask_wtf import FlaskForm
from wtforms.i18n import get_translations

from app.db import db
from app.errors import DomainError, NotFound
from app.htmx import redirect_to

T = TypeVar("T")
Done = str | tuple[str, str]  # a flash message, or (message, category)

_TRANSLATIONS = get_translations(["zh_TW"])


def _traditional_chinese(self, form):  # noqa: ANN001, ANN202
    return _TRANSLATIONS


FlaskForm.Meta.get_translations = _traditional_chinese  # type: ignore[method-assign]


def place_field_errors(form: FlaskForm, err) -> bool:  # noqa: ANN001 - a DomainError
    """Put a service's field messages (`err.fields`) under the form's fields; False when none
    of them names a field of this form (the caller then shows `err.message` its own way)."""
    placed = False
    for name, message in err.fields.items():
        field = form._fields.get(name)
        if field is not None:
            if message not in field.errors:
                field.errors = [*field.errors, message]
            placed = True
    return placed


@dataclass
class Outcome:
    """How a `committed` block ended."""

    form: FlaskForm | None = None
    saved: bool = False  # the call returned and its work is committed
    error: str | None = None  # the refusal's message, unless the form's fields took it
    status: int = 200  # the refusal's HTTP status (422 for InvalidInput)
    refusal: DomainError | None = None  # the refusal itself, for a view that tells kinds apart

    @property
    def refused(self) -> bool:
        return not self.saved

    def flash_error(self) -> None:
        """The refusal's message as a flash, when no field of the form took it."""
        if self.error:
            flash(self.error, "danger")

    def error_on_form(self) -> None:
        """The refusal's message at the top of the form, when no field of it took it."""
        if self.error and self.form is not None:
            self.form.form_errors.append(self.error)


@contextmanager
def committed(form: FlaskForm | None = None, *,
              refusals: type[DomainError] = DomainError) -> Iterator[Outcome]:
    """Commit what the block did; on a refusal (a DomainError, or only `refusals`: say
    InvalidInput, leaving the others to the error pages), roll back and show it: its field
    messages under `form`'s fields, its message in `error` when no field took it, its status.

        with committed(form) as outcome:
            services.rename(actor, thing, form.name.data)
        if outcome.saved:
            flash("已更新", "success")
            return redirect_to(...)
        return render(..., error=outcome.error), outcome.status
    """
    outcome = Outcome(form)
    try:
        yield outcome
    except refusals as err:
        db.session.rollback()
        if isinstance(err, NotFound):  # an id that is not this store's: the 404 page
            raise
        placed = form is not None and place_field_errors(form, err)
        outcome.refusal, outcome.error = err, None if placed else err.message
        outcome.status = err.status
        return
    except Exception:  # anything else: nothing of it is kept, and the error pages answer
        db.session.rollback()
        raise
    db.session.commit()
    outcome.saved = True


def saved(form: FlaskForm, work: Callable[[], T], *, done: Done | Callable[[T], Done],
          to: str | Callable[[T], str], refusals: type[DomainError] = DomainError,
          refusal_on_form: bool = False) -> Response | None:
    """Validate a posted form and run `work` (the service call) inside `committed(form)`. Saved:
    flash `done` (a message, or (message, category)) and redirect to `to`; either may be a
    function of what `work` returned. Otherwise None, and the view renders the form: its
    fields' messages, a refusal no field took as a flash (at the top of the form with
    `refusal_on_form`)."""
    if not form.validate_on_submit():
        return None
    with committed(form, refusals=refusals) as outcome:
        result = work()
    if outcome.refused:
        outcome.error_on_form() if refusal_on_form else outcome.flash_error()
        return None
    said = done(result) if callable(done) else done
    message, category = (said, "success") if isinstance(said, str) else said
    flash(message, category)
    return redirect_to(to(result) if callable(to) else to)


def form_status(form: FlaskForm) -> int:
    """The status of a page showing a form again: 422 once it was posted (with its messages)."""
    return 422 if form.is_submitted() else 200
