"""7-3 A 商品管理 forms: the product form (new, copy, edit) and the bulk (de)list form.

The fields check the input's shape and show each problem next to its field; the services
check every rule again (the partner and branch lists against the store's own) as the authority.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.forms import IntegerField, bounded_int, strip
from app.products.models import ProductKind
from app.products.services import FACE_VALUE_MAX, FACE_VALUE_RULE, NAME_MAX, TEXT_MAX, ProductInput


class IdList(SelectMultipleField):
    """Ticked ids. Choices are offered per request, but membership is the service's rule (so
    a forged id gets the service's message rather than a generic one)."""

    def __init__(self, label: str, **kwargs: object) -> None:
        super().__init__(label, coerce=bounded_int, validate_choice=False, choices=[], **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            self.data = [bounded_int(v) for v in valuelist if str(v).strip()]
        except ValueError:
            self.data = []
            raise ValueError("選項格式錯誤") from None


class ProductForm(FlaskForm):
    kind = RadioField("票券類型", choices=[SelectChoice(k.value, k.label) for k in ProductKind],
                      validators=[DataRequired("請選擇票券類型")])
    name = StringField("商品名稱", filters=[strip], validators=[
        DataRequired("請輸入商品名稱"), Length(max=NAME_MAX, message=f"商品名稱至多 {NAME_MAX} 字")])
    face_value = IntegerField("面額", validators=[
        InputRequired("請輸入面額"), NumberRange(1, FACE_VALUE_MAX, message=FACE_VALUE_RULE)])
    escrow_end = DateField("價金保管迄日（提貨券）", validators=[Optional()],
                           description="提貨券必填，須晚於今日；價金保管至該日 23:59:59 止")
    valid_until = DateField("使用期限（贈品券）", validators=[Optional()],
                            description="贈品券必填，不可早於今日；逾期後票券失效")
    description = TextAreaField("商品描述", filters=[strip], validators=[
        Length(max=TEXT_MAX, message=f"商品描述至多 {TEXT_MAX} 字")])
    usage_instructions = TextAreaField("使用說明", filters=[strip], validators=[
        Length(max=TEXT_MAX, message=f"使用說明至多 {TEXT_MAX} 字")])
    image = FileField("商品圖片", description="PNG、JPG、GIF 或 WebP，2 MB 以內；顯示於電子票券兌換頁")
    remove_image = BooleanField("移除目前的圖片")
    partner_stores = IdList("跨店核銷")
    redeem_branches = IdList("核銷分店")
    return_branches = IdList("退貨分店")
    copy_of = HiddenField()

    def product_input(self) -> ProductInput:
        kind = ProductKind(self.kind.data) if self.kind.data in {k.value for k in ProductKind} \
            else None
        return ProductInput(
            name=self.name.data or "", kind=kind, face_value=self.face_value.data,
            description=self.description.data or "",
            usage_instructions=self.usage_instructions.data or "",
            escrow_end=self.escrow_end.data, valid_until=self.valid_until.data,
            partner_store_ids=list(self.partner_stores.data or []),
            redeem_branch_ids=list(self.redeem_branches.data or []),
            return_branch_ids=list(self.return_branches.data or []),
        )

    def fill(self, data: ProductInput) -> None:
        """Pre-fill from a product's values (edit, or 複製商品)."""
        self.kind.data = data.kind.value if data.kind else None
        self.name.data = data.name
        self.face_value.data = data.face_value
        self.escrow_end.data = data.escrow_end
        self.valid_until.data = data.valid_until
        self.description.data = data.description
        self.usage_instructions.data = data.usage_instructions
        self.partner_stores.data = list(data.partner_store_ids)
        self.redeem_branches.data = list(data.redeem_branch_ids)
        self.return_branches.data = list(data.return_branch_ids)


class BulkListingForm(FlaskForm):
    """整批上架 / 整批下架: the ticked ids come as `ids`, the button as `action`."""

    action = RadioField(choices=[SelectChoice("list", "整批上架"),
                                 SelectChoice("delist", "整批下架")],
                        validators=[DataRequired("請選擇上架或下架")])
    ids = IdList("商品")
