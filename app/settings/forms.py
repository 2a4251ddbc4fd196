"""7-1 操作設定管理 forms. The rules live in app/settings/rules.py; the fields check them so every
problem is shown next to its field at once, and the services check them again."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TextAreaField

from app.forms import Rule
from app.settings import rules
from app.settings.services import TicketPageFields


def _url_rule(label: str) -> Rule:
    return Rule(lambda value: rules.url_problem(value, label))


class BasicSettingsForm(FlaskForm):
    sms_on = BooleanField("開啟簡訊發送")
    online_return_application = BooleanField("開啟電子票券申請退貨")


class OfflineSettingsForm(FlaskForm):
    offline_enabled = BooleanField("開啟櫃台離線核銷")


class TicketPageForm(FlaskForm):
    cs_phone = StringField("客服電話", validators=[Rule(rules.phone_problem)],
                           render_kw={"maxlength": rules.PHONE_MAX, "inputmode": "tel"})
    cs_email = StringField("客服 E-mail", validators=[Rule(rules.email_problem)],
                           render_kw={"maxlength": rules.EMAIL_MAX, "type": "email"})
    line_url = StringField("LINE", validators=[_url_rule("LINE")],
                           render_kw={"maxlength": rules.URL_MAX, "placeholder": "https://"})
    facebook_url = StringField("Facebook", validators=[_url_rule("Facebook")],
                               render_kw={"maxlength": rules.URL_MAX, "placeholder": "https://"})
    instagram_url = StringField("Instagram", validators=[_url_rule("Instagram")],
                                render_kw={"maxlength": rules.URL_MAX, "placeholder": "https://"})
    rights_statement = TextAreaField("權益說明", validators=[Rule(rules.rights_problem)],
                                     render_kw={"rows": 8, "maxlength": rules.RIGHTS_MAX})
    logo = FileField("Logo", render_kw={"accept": "image/png,image/jpeg,image/gif,image/webp"})
    remove_logo = BooleanField("移除目前的 Logo")
    banner = FileField("橫幅圖片", render_kw={"accept": "image/png,image/jpeg,image/gif,image/webp"})
    remove_banner = BooleanField("移除目前的橫幅圖片")

    def fields_for_service(self) -> TicketPageFields:
        return TicketPageFields(
            cs_phone=self.cs_phone.data or "", cs_email=self.cs_email.data or "",
            line_url=self.line_url.data or "", facebook_url=self.facebook_url.data or "",
            instagram_url=self.instagram_url.data or "",
            rights_statement=self.rights_statement.data or "",
        )
