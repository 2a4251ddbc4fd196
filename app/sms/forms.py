"""7-3 L 簡訊發送紀錄: the query form (GET, no CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from app.forms import strip
from app.notifications.models import MessageStatus

RESULTS = [SelectChoice("", "全部"), *[SelectChoice(s.value, s.label) for s in MessageStatus]]


class SmsQueryForm(FlaskForm):
    class Meta:
        csrf = False

    start = StringField("發送日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("發送日期（迄）", filters=[strip], validators=[Length(max=10)])
    phone = StringField("電話號碼", filters=[strip], validators=[Length(max=20)])
    order_no = StringField("ECT訂單編號", filters=[strip], validators=[Length(max=24)])
    status = SelectField("發送結果", choices=RESULTS, default="", validate_choice=True)

    def chosen_status(self) -> MessageStatus | None:
        return MessageStatus(self.status.data) if self.status.data else None
