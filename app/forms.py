"""Forms: a service's field messages placed under the form's fields (`place_field_errors`;
app.web.committed builds on it), and WTForms' own messages (e.g. 「不是有效的整數值」) in
Traditional Chinese: Flask-WTF asks Babel for the `zh_Hant_TW` catalogue, which Babel resolves
to WTForms' `zh` (Simplified) catalogue; WTForms ships `zh_TW`. Every FlaskForm gets that one
instead.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms.i18n import get_translations

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
