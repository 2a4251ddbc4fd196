"""Forms of the cross-store pages: the input shape; the rules live in services/rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, SelectMultipleField
from wtforms.validators import InputRequired

from app.forms import bounded_int

STATUS_CHOICES = [SelectChoice("open", "開啟"), SelectChoice("dissolved", "解除關聯")]


class AddPartnersForm(FlaskForm):
    """The ticked search results (【確定】). Choices are not fixed: the service checks each id."""

    store_ids = SelectMultipleField("可核銷商店", coerce=bounded_int, validate_choice=False)
    q = HiddenField()


class StatusForm(FlaskForm):
    """The issuer's 【編輯】: the relation status, chosen by the button pressed."""

    status = RadioField("關聯狀態", choices=STATUS_CHOICES,
                        validators=[InputRequired("請選擇關聯狀態")])


class ConfirmForm(FlaskForm):
    """A bare POST carrying the CSRF token (partner-side dissolve, operator unblock)."""
