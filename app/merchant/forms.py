from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from app.merchant.rules import CONTACT_ROLES

_HINT = "可輸入多組，以半形分號(;)分隔"
PHONE_HINT = "手機 09 開頭 10 碼，或市話含區碼，可加分機，例：02-2345-6789#123"
NOTICE_CHOICES = [SelectChoice("on", "開啟"), SelectChoice("off", "關閉")]


class ProfileForm(FlaskForm):
    """廠商基本資料: each contact's name, phone and e-mails, and 收付款通知設定. The shapes are
    checked here; the service checks each value (app.merchant.rules) and places its messages."""

    finance_name = StringField("帳務聯絡人姓名", validators=[Length(max=100)])
    finance_phone = StringField("帳務聯絡人電話", validators=[Length(max=100)])
    finance_emails = StringField("帳務聯絡人電子信箱", validators=[Length(max=1000)],
                                 description=_HINT)
    sales_name = StringField("業務聯絡人姓名", validators=[Length(max=100)])
    sales_phone = StringField("業務聯絡人電話", validators=[Length(max=100)])
    sales_emails = StringField("業務聯絡人電子信箱", validators=[Length(max=1000)],
                               description=_HINT)
    technical_name = StringField("技術聯絡人姓名", validators=[Length(max=100)])
    technical_phone = StringField("技術聯絡人電話", validators=[Length(max=100)])
    technical_emails = StringField("技術聯絡人電子信箱", validators=[Length(max=1000)],
                                   description=_HINT)
    payout_notice = RadioField("收款通知", choices=NOTICE_CHOICES, default="off")

    def contacts(self) -> dict[str, str | None]:
        return {name: self[name].data for role in CONTACT_ROLES
                for name in (f"{role}_name", f"{role}_phone", f"{role}_emails")}

    @property
    def notice_on(self) -> bool:
        return self.payout_notice.data == "on"


class LoginNoticesForm(FlaskForm):
    """3-5 登入通知設定: which login events are mailed, to which contacts."""

    notify_failures = BooleanField("登入失敗通知")
    failure_threshold = IntegerField("連續失敗幾次後通知", default=3, validators=[
        InputRequired("請輸入連續失敗次數"), NumberRange(1, 10, "連續失敗次數須為 1 至 10 次")])
    notify_new_device = BooleanField("不同裝置或瀏覽器登入通知")
    to_finance = BooleanField("帳務聯絡人")
    to_sales = BooleanField("業務聯絡人")
    to_technical = BooleanField("技術聯絡人")

    def settings(self) -> dict[str, object]:
        return {name: self[name].data for name in (
            "notify_failures", "failure_threshold", "notify_new_device", "to_finance",
            "to_sales", "to_technical")}
