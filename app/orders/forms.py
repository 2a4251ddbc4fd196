"""7-3 C 已發行訂單管理 forms: the order query (GET, no CSRF) and 變更購買人.

The forms check the input's shape; `app.orders.services.clean_purchaser` normalises the mobile
and e-mail and checks what each delivery type needs, as the authority.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from app.forms import IntegerField, strip
from app.stores.models import DeliveryType

STALE_FORM = "表單已過期，請重新整理頁面後再試"
DELIVERY_TYPES = [SelectChoice("", "全部"), *[SelectChoice(t.value, t.label) for t in DeliveryType]]


class OrderQueryForm(FlaskForm):
    """查詢已發行訂單: read from the query string; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    order_no = StringField("ECT訂單編號", filters=[strip], validators=[Length(max=24)])
    merchant_order_no = StringField("廠商訂單編號", filters=[strip], validators=[Length(max=25)])
    import_no = StringField("匯入單號", filters=[strip], validators=[Length(max=30)])
    purchaser = StringField("購買人", filters=[strip], validators=[Length(max=100)],
                            description="姓名、手機或 Email（部分符合）")
    delivery_type = SelectField("出券類型", choices=DELIVERY_TYPES, default="",
                                validate_choice=True)
    start = StringField("發行日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("發行日期（迄）", filters=[strip], validators=[Length(max=10)])

    def searches_one(self) -> bool:
        """An exact order, merchant order or import number narrows the query by itself."""
        return bool(self.order_no.data or self.merchant_order_no.data or self.import_no.data)


class PurchaserForm(FlaskForm):
    name = StringField("購買人姓名", filters=[strip], validators=[
        DataRequired("請填寫購買人姓名"), Length(max=50, message="購買人姓名最多 50 字")],
        render_kw={"maxlength": 50, "autocomplete": "off"})
    mobile = StringField("購買人手機", filters=[strip], validators=[
        Optional(), Length(max=20, message="手機格式錯誤，須為 09 開頭的 10 碼數字")],
        render_kw={"maxlength": 20, "inputmode": "tel", "autocomplete": "off",
                   "placeholder": "0912345678"})
    email = StringField("購買人 Email", filters=[strip], validators=[
        Optional(), Length(max=200, message="Email 最多 200 字")],
        render_kw={"maxlength": 200, "inputmode": "email", "autocomplete": "off"})
    # How many changes the order had when the form was shown (a change in another tab since
    # then makes the service refuse this one).
    revision = IntegerField(widget=HiddenInput(), validators=[
        InputRequired(STALE_FORM), NumberRange(min=0, message=STALE_FORM)])
