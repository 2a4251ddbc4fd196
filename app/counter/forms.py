"""Counter forms: the one code field, and the action form under the ticket card.

The forms check the input's shape; whether a reason is required, and the fee's range, are the
ticket services' rules (their messages are placed on these fields).
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import HiddenInput

from app.bounds import BIGINT_MAX
from app.forms import IntegerField, strip
from app.tickets.codes import length_message
from app.tickets.forms import fee_field, reason_field, seen_field

STALE_FORM = "表單已過期，請重新查詢核銷代碼"


def _long_enough(form: FlaskForm, field: StringField) -> None:
    """A short code is told its length before anything is said about its check character."""
    message = length_message(field.data or "")
    if message:
        raise ValidationError(message)


class CounterForm(FlaskForm):
    class Meta:
        # The app-wide CSRFProtect checks every POST's token before a view runs, and the page
        # renders it once (the `csrf` macro): a form of its own would check it a second time and
        # sign a fresh one at every scan.
        csrf = False


class LookupForm(CounterForm):
    """The code field's checks; counter/page.html writes the field itself."""

    code = StringField("核銷代碼", filters=[strip],
                       validators=[Length(max=64, message="核銷代碼過長，請確認是否輸入正確"),
                                   _long_enough])


class ActForm(CounterForm):
    """The button under the card: which ticket (its code again, and its id and the status the
    clerk saw, both checked against what the code finds), a reason and a fee where asked."""

    code = StringField(widget=HiddenInput(), filters=[strip],
                       validators=[InputRequired(STALE_FORM), Length(max=64, message=STALE_FORM)])
    ticket_id = IntegerField(widget=HiddenInput(), low=0, high=BIGINT_MAX,
                             validators=[InputRequired(STALE_FORM)])
    seen = seen_field(STALE_FORM)
    reason = reason_field()
    fee = fee_field()
    # Ticked by hand on pages that ask for it (取消核銷): a scan and two Enters cannot tick it.
    confirm = BooleanField()
