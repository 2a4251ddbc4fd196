"""The fields every form that performs a ticket action shares (the counter's action form, the
return of a return application): the status the person acting saw, the reason, the return
handling fee. Their shapes only; the action table checks what each action asks for."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from app.forms import IntegerField, strip
from app.tickets.actions import REASON_MAX, REASON_TOO_LONG


def seen_field(stale: str) -> StringField:
    """The status the page showed (hidden): `stale` when it is missing or forged."""
    return StringField(widget=HiddenInput(), validators=[InputRequired(stale),
                                                         Length(max=30, message=stale)])


def reason_field(label: str = "原因") -> StringField:
    # One line, so Enter in it presses the button.
    return StringField(label, filters=[strip],
                       validators=[Length(max=REASON_MAX, message=REASON_TOO_LONG)],
                       render_kw={"maxlength": REASON_MAX, "autocomplete": "off"})


def fee_field() -> IntegerField:
    return IntegerField("退貨手續費", validators=[
        Optional(), NumberRange(min=0, message="退貨手續費不可為負數")],
        render_kw={"min": 0, "step": 1, "inputmode": "numeric", "autocomplete": "off"})
