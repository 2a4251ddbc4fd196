"""WTForms' own messages (e.g. 「不是有效的整數值」) in Traditional Chinese.

Flask-WTF asks Babel for the `zh_Hant_TW` catalogue, which Babel resolves to WTForms' `zh`
(Simplified) catalogue; WTForms ships `zh_TW`. Every FlaskForm gets that one instead.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms.i18n import get_translations

_TRANSLATIONS = get_translations(["zh_TW"])


def _traditional_chinese(self, form):  # noqa: ANN001, ANN202
    return _TRANSLATIONS


FlaskForm.Meta.get_translations = _traditional_chinese  # type: ignore[method-assign]
