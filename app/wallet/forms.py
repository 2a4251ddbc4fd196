"""Wallet forms: the entry page's answer, the transfer's recipient, the return reason.

They check the input's shape only; the rules (and their messages) are the services'. The chosen
tickets are read from the posted `ticket_ids` by the view (a ticket given away in another tab
meanwhile must be answered "already given", not "not a valid choice").
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from app.forms import strip


class AnswerForm(FlaskForm):
    answer = StringField("手機末四碼", filters=[strip],
                         validators=[Length(max=20, message="請輸入正確的格式")],
                         render_kw={"autocomplete": "off", "inputmode": "numeric",
                                    "pattern": "[0-9]*", "maxlength": 6})


class RecipientForm(FlaskForm):
    name = StringField("受贈人姓名", filters=[strip], render_kw={"maxlength": 50, "autocomplete": "off"})
    mobile = StringField("受贈人手機", filters=[strip],
                         render_kw={"maxlength": 20, "inputmode": "tel", "autocomplete": "off",
                                    "placeholder": "09xxxxxxxx"})
    email = StringField("受贈人 Email", filters=[strip],
                        render_kw={"maxlength": 200, "inputmode": "email", "autocomplete": "off",
                                   "required": True})


class ReturnForm(FlaskForm):
    reason = TextAreaField("退貨原因", filters=[strip],
                           validators=[Length(max=500, message="退貨原因最多 500 字")],
                           render_kw={"maxlength": 500, "rows": 3})
