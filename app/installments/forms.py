"""The forms of the installment order pages: finding an order, returning it, cancelling its
return. Shapes only; the services hold the rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from app.forms import IntegerField, TwIntegerField, strip
from app.installments.services import REASON_MAX

FEE_MAX = 100_000_000  # beyond any order: the service checks it against the unused amount
ORDER_NO_MAX = 25


class OrderLookupForm(FlaskForm):
    class Meta:
        csrf = False  # a GET query

    merchant_order_no = StringField("廠商訂單編號", filters=[strip],
                                    validators=[Optional(), Length(max=ORDER_NO_MAX,
                                                                   message="廠商訂單編號至多 25 碼")],
                                    render_kw={"maxlength": ORDER_NO_MAX, "autocomplete": "off"})


class _OrderActionForm(FlaskForm):
    order_id = IntegerField(widget=HiddenInput(), validators=[
        InputRequired("查無此訂單"), NumberRange(min=1, max=2**31 - 1, message="查無此訂單")])
    reason = StringField("原因", filters=[strip], validators=[
        InputRequired("請輸入原因"), Length(max=REASON_MAX, message=f"原因至多 {REASON_MAX} 字")],
        render_kw={"maxlength": REASON_MAX, "autocomplete": "off"})


class OrderReturnForm(_OrderActionForm):
    fee = TwIntegerField("退貨手續費", default=0, validators=[
        Optional(), NumberRange(min=0, max=FEE_MAX, message="退貨手續費不可為負數或超過訂單金額")],
        render_kw={"min": 0, "step": 1, "inputmode": "numeric", "autocomplete": "off"})


class CancelReturnForm(_OrderActionForm):
    pass
