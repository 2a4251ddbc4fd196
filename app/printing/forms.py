"""紙本票券列印 forms: the ticket query and the print-run query (GET forms, no CSRF; the print
buttons are plain POST forms under the app-wide CSRF check)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from app.forms import strip
from app.printing.queries import PRINTED, UNPRINTED

PRINTED_CHOICES = [SelectChoice("", "全部"), SelectChoice(UNPRINTED, "未列印"),
                   SelectChoice(PRINTED, "已列印")]


class TicketQueryForm(FlaskForm):
    class Meta:
        csrf = False

    start = StringField("發行日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("發行日期（迄）", filters=[strip], validators=[Length(max=10)])
    product = SelectField("商品", choices=[SelectChoice("", "全部")], default="", validate_choice=True)
    printed = SelectField("列印狀態", choices=PRINTED_CHOICES, default="", validate_choice=True)
    number = StringField("票券序號／訂單編號", filters=[strip], validators=[Length(max=30)],
                         description="票券序號、ECT訂單編號或廠商訂單編號")


class RunQueryForm(FlaskForm):
    class Meta:
        csrf = False

    start = StringField("列印日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("列印日期（迄）", filters=[strip], validators=[Length(max=10)])


STATE_CHOICES = PRINTED_CHOICES


class PlatformQueryForm(FlaskForm):
    class Meta:
        csrf = False

    state = SelectField("列印狀態", choices=STATE_CHOICES, default=UNPRINTED, validate_choice=True)
    q = StringField("商店代號／名稱／匯入單號", filters=[strip], validators=[Length(max=100)])
