from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

_HINT = "可輸入多組，以半形分號(;)分隔"


class ContactsForm(FlaskForm):
    """帳務／業務／技術聯絡人 e-mails; the service checks each address."""

    finance_emails = StringField("帳務聯絡人電子信箱", validators=[Length(max=1000)],
                                 description=_HINT)
    sales_emails = StringField("業務聯絡人電子信箱", validators=[Length(max=1000)],
                               description=_HINT)
    technical_emails = StringField("技術聯絡人電子信箱", validators=[Length(max=1000)],
                                   description=_HINT)


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
