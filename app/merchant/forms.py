from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

_HINT = "可輸入多組，以半形分號(;)分隔"


class ContactsForm(FlaskForm):
    """帳務／業務／技術聯絡人 e-mails; the service checks each address."""

    finance_emails = StringField("帳務聯絡人電子信箱", validators=[Length(max=1000)],
                                 description=_HINT)
    sales_emails = StringField("業務聯絡人電子信箱", validators=[Length(max=1000)],
                               description=_HINT)
    technical_emails = StringField("技術聯絡人電子信箱", validators=[Length(max=1000)],
                                   description=_HINT)
