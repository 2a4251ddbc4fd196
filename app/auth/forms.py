from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    username = StringField("帳號", validators=[DataRequired("請輸入帳號"), Length(max=40)])
    password = PasswordField("密碼", validators=[DataRequired("請輸入密碼"), Length(max=128)])
    next = HiddenField()


class SwitchStoreForm(FlaskForm):
    store_id = HiddenField(validators=[DataRequired()])


class ForgotPasswordForm(FlaskForm):
    username = StringField("帳號", validators=[DataRequired("請輸入帳號"), Length(max=40)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("新密碼", validators=[DataRequired("請輸入新密碼"),
                                                     Length(max=128)])
    confirm = PasswordField("確認新密碼", validators=[DataRequired("請再次輸入新密碼"),
                                                   EqualTo("new_password", "兩次輸入的密碼不一致")])


class TwoFactorCodeForm(FlaskForm):
    """One code: an authenticator's, an e-mailed one, or (where allowed) a recovery code."""

    code = StringField("驗證碼", validators=[DataRequired("請輸入驗證碼"), Length(max=20)])


class EmailCodePurposeForm(FlaskForm):
    purpose = HiddenField(validators=[DataRequired(), AnyOf(("remove", "recovery"))])
