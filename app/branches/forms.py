"""7-1 票券分店與綁定子帳號 forms: input shape and messages (the services check again)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, ValidationError

from app.bounds import INT_MAX, whole_number
from app.branches import rules
from app.forms import Rule, strip

STATUS_CHOICES = [SelectChoice(rules.ENABLED, "啟用"), SelectChoice(rules.DISABLED, "停用")]


def _branch_id(value: object) -> int:
    """A chosen branch id; anything not a number becomes 0, which no branch has (→ 404)."""
    text = "" if value is None else str(value).strip()
    return whole_number(text, 0, INT_MAX) or 0


class _StatusMixin:
    status = SelectField("分店狀態", choices=STATUS_CHOICES, default=rules.ENABLED)

    @property
    def enabled(self) -> bool:
        return self.status.data == rules.ENABLED


class NewBranchForm(_StatusMixin, FlaskForm):
    code = StringField("分店編號", filters=[strip], validators=[Rule(rules.code_problem)])
    name = StringField("分店名稱", filters=[strip], validators=[Rule(rules.name_problem)])


class EditBranchForm(_StatusMixin, FlaskForm):
    """Name and status only: the code is shown read-only and never read from the request."""

    name = StringField("分店名稱", filters=[strip], validators=[Rule(rules.name_problem)])


class StatusForm(_StatusMixin, FlaskForm):
    """The 啟用／停用 button of a list row."""


class BranchChoiceForm(FlaskForm):
    """Choose a branch (綁定子帳號, 重設分店). The id is loaded through the acting store, so a
    forged id answers 404; the sub-accounts ticked are read from the request by the view."""

    branch_id = SelectField("選擇分店", coerce=_branch_id, validate_choice=False,
                            validators=[InputRequired("請選擇分店")])

    def validate_branch_id(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError("請選擇分店")


class UnbindForm(FlaskForm):
    """A bare POST carrying the CSRF token; the ticked `account_ids` are read by the view."""
