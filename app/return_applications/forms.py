"""電子票券退貨申請 forms: the query (GET, no CSRF), 退貨 and 不予退貨.

The return form is the counter's: a reason (pre-filled with the consumer's), the optional
handling fee, and the status the page showed (`seen`), so a ticket that changed since is shown
again rather than returned blind. Whether the reason is required and the fee's range are the
ticket services' rules; their messages are placed on these fields.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.forms import strip
from app.return_applications.models import ApplicationStatus
from app.tickets.forms import fee_field, reason_field, seen_field

STALE_FORM = "表單已過期，請重新整理頁面後再試"


STATUSES = [*[SelectChoice(s.value, s.label) for s in ApplicationStatus], SelectChoice("", "全部")]


class ApplicationQueryForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField("處理狀態", choices=STATUSES, default=ApplicationStatus.PENDING.value,
                         validate_choice=True)
    order_no = StringField("ECT訂單編號", filters=[strip], validators=[Length(max=24)])
    serial = StringField("票券序號", filters=[strip], validators=[Length(max=16)])
    start = StringField("申請日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("申請日期（迄）", filters=[strip], validators=[Length(max=10)])

    def chosen_status(self) -> ApplicationStatus | None:
        return ApplicationStatus(self.status.data) if self.status.data else None

    def searches_few(self) -> bool:
        """Pending applications (the work queue), an order or a serial: no date limit unless
        dates are typed."""
        return bool(self.status.data == ApplicationStatus.PENDING.value or self.order_no.data
                    or self.serial.data)


class ReturnForm(FlaskForm):
    seen = seen_field(STALE_FORM)
    reason = reason_field("退貨原因")
    fee = fee_field()


class DeclineForm(FlaskForm):
    reason = TextAreaField("不予退貨原因", filters=[strip],
                           validators=[Length(max=500, message="原因最多 500 字")],
                           render_kw={"maxlength": 500, "rows": 2})
