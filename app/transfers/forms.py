"""電子票券轉贈紀錄 forms: the query (GET, no CSRF) and 取消轉贈 (a reason is required)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from app.forms import strip
from app.transfers.models import TransferStatus
from app.transfers.services import REASON_TOO_LONG

STATUSES = [SelectChoice("", "全部"), *[SelectChoice(s.value, s.label) for s in TransferStatus]]


class TransferQueryForm(FlaskForm):
    class Meta:
        csrf = False

    transfer_no = StringField("轉贈編號", filters=[strip], validators=[Length(max=24)])
    order_no = StringField("ECT訂單編號", filters=[strip], validators=[Length(max=24)])
    person = StringField("轉贈人／受贈人", filters=[strip], validators=[Length(max=50)],
                         description="姓名或手機（部分符合）")
    status = SelectField("狀態", choices=STATUSES, default="", validate_choice=True)
    start = StringField("轉贈日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("轉贈日期（迄）", filters=[strip], validators=[Length(max=10)])

    def searches_one(self) -> bool:
        """An exact transfer or order number narrows the query by itself."""
        return bool(self.transfer_no.data or self.order_no.data)

    def chosen_status(self) -> TransferStatus | None:
        return TransferStatus(self.status.data) if self.status.data else None


class CancelForm(FlaskForm):
    """The service requires the reason (its message goes on this field)."""

    reason = StringField("取消轉贈原因", filters=[strip],
                         validators=[Length(max=500, message=REASON_TOO_LONG)],
                         render_kw={"maxlength": 500, "autocomplete": "off"})
