"""7-3 B 批次發行設定: the upload form (出券類型, 發行方式, 票券類型, 匯入單號, the xlsx file).
The import number and the file are `ImportForm`, which installment orders' upload uses too.

The delivery types and methods offered are those the store's contract enables (`offer`); the
form checks the input's shape and that the method belongs to the chosen type, the services
check every rule again (contract, settings, branch, rows) as the authority.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from app.forms import strip
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod, DeliveryType

IMPORT_NO_MAX = 30
IMPORT_NO_RULE = "匯入單號限英數字、- 或 _，最多 30 字"
WRONG_PAIR = "發行方式與出券類型不符，請重新選擇"


class ImportForm(FlaskForm):
    """匯入單號 and the xlsx file: what every batch upload asks (installment orders' too)."""

    import_no = StringField("匯入單號", filters=[strip], validators=[
        DataRequired("請填寫匯入單號"), Length(max=IMPORT_NO_MAX, message=IMPORT_NO_RULE),
        Regexp(r"^[A-Za-z0-9_-]+$", message=IMPORT_NO_RULE)],
        description="同一商店內不可重複；同一匯入單號不會重複發行。",
        render_kw={"maxlength": IMPORT_NO_MAX, "autocomplete": "off"})
    file = FileField("發行資料檔案（.xlsx）", validators=[FileRequired("請選擇要上傳的 xlsx 檔案")],
                     render_kw={"accept": ".xlsx,application/vnd.openxmlformats-officedocument"
                                          ".spreadsheetml.sheet"})


class UploadForm(ImportForm):
    delivery_type = RadioField("出券類型", choices=[], validators=[DataRequired("請選擇出券類型")])
    method = RadioField("發行方式", choices=[], validators=[DataRequired("請選擇發行方式")])
    kind = RadioField("票券類型", choices=[SelectChoice(k.value, k.label) for k in ProductKind],
                      validators=[DataRequired("請選擇票券類型")])

    def offer(self, methods: list[DeliveryMethod]) -> None:
        """Offer only the delivery types and methods the contract enables."""
        types = [t for t in DeliveryType if any(m.delivery_type is t for m in methods)]
        self.delivery_type.choices = [SelectChoice(t.value, t.label) for t in types]
        self.method.choices = [SelectChoice(m.value, m.label) for m in methods]
        if len(types) == 1 and not self.delivery_type.data:
            self.delivery_type.data = types[0].value

    def validate_method(self, field: RadioField) -> None:
        try:
            method = DeliveryMethod(field.data)
        except ValueError:
            return  # not a choice: RadioField's own message
        if self.delivery_type.data and method.delivery_type.value != self.delivery_type.data:
            raise ValidationError(WRONG_PAIR)

    def chosen_method(self) -> DeliveryMethod:
        return DeliveryMethod(self.method.data)

    def chosen_kind(self) -> ProductKind:
        return ProductKind(self.kind.data)
