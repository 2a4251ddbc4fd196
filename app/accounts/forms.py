"""四、後台帳號管理 forms: sub-accounts, passwords and API tokens.

The account rules live in app/auth/rules.py; the fields here check them too so every problem is
shown next to its field at once, and the services check them again as the authority.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.auth import rules
from app.auth.permissions import Function, Level
from app.forms import Rule, strip

_CONFIRM = "兩次輸入的密碼不一致"


class NewSubAccountForm(FlaskForm):
    username = StringField("帳號", filters=[strip], validators=[
        DataRequired("請輸入帳號"), Rule(rules.sub_username_problem)])
    password = PasswordField("密碼", validators=[DataRequired("請輸入密碼"),
                                               Rule(rules.sub_password_problem)])
    confirm = PasswordField("確認密碼", validators=[DataRequired("請再次輸入密碼"),
                                                EqualTo("password", _CONFIRM)])
    remark = StringField("備註", filters=[strip], validators=[Rule(rules.remark_problem)])


class GrantsForm(FlaskForm):
    """The permission matrix itself is read from the request by `grants_from`."""


class SubPasswordForm(FlaskForm):
    password = PasswordField("新密碼", validators=[DataRequired("請輸入新密碼"),
                                                Rule(rules.sub_password_problem)])
    confirm = PasswordField("確認新密碼", validators=[DataRequired("請再次輸入新密碼"),
                                                   EqualTo("password", _CONFIRM)])


class RemarkForm(FlaskForm):
    remark = StringField("備註", filters=[strip], validators=[Rule(rules.remark_problem)])


class DeleteForm(FlaskForm):
    """A bare POST carrying the CSRF token (delete, revoke)."""


class OwnPasswordForm(FlaskForm):
    current_password = PasswordField("目前密碼", validators=[DataRequired("請輸入目前密碼"),
                                                          Length(max=128)])
    new_password = PasswordField("新密碼", validators=[DataRequired("請輸入新密碼"),
                                                    Length(max=128)])
    confirm = PasswordField("確認新密碼", validators=[DataRequired("請再次輸入新密碼"),
                                                   EqualTo("new_password", _CONFIRM)])

    def __init__(self, *args: object, password_rule: Callable[[str], str | None],
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.new_password.validators = [*self.new_password.validators, Rule(password_rule)]


class ApiTokenForm(FlaskForm):
    name = StringField("金鑰名稱", filters=[strip],
                       validators=[DataRequired("請輸入金鑰名稱"),
                                   Length(max=50, message="名稱至多 50 字")])


VIEW_FIELD = "grant_view"
MODIFY_FIELD = "grant_modify"


def grants_from(formdata: Mapping, functions: Iterable[Function]) -> dict[Function, Level]:
    """The ticked matrix: 修改 where ticked (and the function has it), else 查詢 where ticked.

    Ticking 修改 implies 查詢. Values for functions not offered are ignored.
    """
    view = set(formdata.getlist(VIEW_FIELD))  # type: ignore[attr-defined]
    modify = set(formdata.getlist(MODIFY_FIELD))  # type: ignore[attr-defined]
    out: dict[Function, Level] = {}
    for fn in functions:
        if fn.value in modify and fn.info.has_modify:
            out[fn] = Level.MODIFY
        elif fn.value in view or fn.value in modify:
            out[fn] = Level.VIEW
    return out


class LoginIpsForm(FlaskForm):
    """登入後台 IP設定: checked by app.auth.twofactor_rules.parse_ip_list in the service."""

    login_ips = StringField("允許登入的 IP", filters=[strip], validators=[Length(max=1000)])
