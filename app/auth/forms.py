from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField("帳號", validators=[DataRequired("請輸入帳號"), Length(max=40)])
    password = PasswordField("密碼", validators=[DataRequired("請輸入密碼"), Length(max=128)])
    next = HiddenField()


class SwitchStoreForm(FlaskForm):
    store_id = HiddenField(validators=[DataRequired()])
