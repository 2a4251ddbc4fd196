"""Forms: what every form shares — the `strip` filter, the `Rule` validator, date, time and
integer fields whose parse errors speak Traditional Chinese, a service's field messages placed
under the form's fields (`place_field_errors`; app.web.committed builds on it) — and WTForms' own
messages (e.g. 「不是有效的整數值」) in
Traditional Chinese: Flask-WTF asks Babel for the `zh_Hant_TW` catalogue, which Babel resolves
to WTForms' `zh` (Simplified) catalogue; WTForms ships `zh_TW`. Every FlaskForm gets that one
instead.
"""

from __future__ import annotations

from collections.abc import Callable

import wtforms
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, Field
from wtforms.i18n import get_translations
from wtforms.validators import ValidationError

from app.bounds import INT_MAX, RANGE_MESSAGE, whole_number

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


def strip(value: str | None) -> str | None:
    """A field filter: surrounding white space off."""
    return value.strip() if isinstance(value, str) else value


class Rule:
    """A validator from a rule function `value -> problem | None`, so every message is shown at
    once; the service checks the same rules again before anything is written. `strip=True`
    checks the value without its surrounding white space."""

    def __init__(self, problem: Callable[[str], str | None], *, strip: bool = False) -> None:
        self.problem = problem
        self.strip = strip

    def __call__(self, form: FlaskForm, field: Field) -> None:
        value = field.data or ""
        if (message := self.problem(value.strip() if self.strip else value)) is not None:
            raise ValidationError(message)


def _parsing(field: type[Field], message: str) -> type[Field]:
    """`field` whose parse error says `message` (WTForms' own is not in Traditional Chinese)."""

    def process_formdata(self: Field, valuelist: list[str]) -> None:
        try:
            field.process_formdata(self, valuelist)
        except ValueError as exc:
            raise ValueError(message) from exc

    return type(f"Tw{field.__name__}", (field,), {"process_formdata": process_formdata})


TwDateField = _parsing(DateField, "日期格式不正確（YYYY-MM-DD）")
TwDateTimeField = _parsing(DateTimeLocalField, "時間格式不正確")


class IntegerField(wtforms.IntegerField):
    """The app's one integer field (use it, never WTForms' own): a whole number within
    [`low`, `high`] (by default the range of an `Integer` column, so nothing posted can become
    a database error), its messages in Traditional Chinese. A value beyond the range is a
    field error, as is text that is not a whole number."""

    def __init__(self, label: str | None = None, validators=None, *,  # noqa: ANN001
                 low: int = -INT_MAX, high: int = INT_MAX, **kwargs: object) -> None:
        super().__init__(label, validators, **kwargs)
        self.low, self.high = low, high

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError("請輸入整數") from exc
        if self.data is not None and not self.low <= self.data <= self.high:
            self.data = None
            raise ValueError(RANGE_MESSAGE)


TwIntegerField = IntegerField


def bounded_int(value: object) -> int:
    """`coerce=` for a select of ids: a whole number within an `Integer` column's range, else
    ValueError (the select's own "not a valid choice")."""
    if (number := whole_number(value, -INT_MAX, INT_MAX)) is None:
        raise ValueError(RANGE_MESSAGE)
    return number
