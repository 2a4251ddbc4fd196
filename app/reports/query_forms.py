"""Query bars of the circulation, cross-store and branch reports (GET, no CSRF).

The form only renders what was asked; the report modules parse and check the same parameters
(so an Excel export or a hand-made URL is held to the same rules), and the store and branch
pickers offer what the report scope allows: a bound sub-account's branch is shown, locked.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from app.forms import strip
from app.products.models import ProductKind
from app.reports.branch import Operation
from app.reports.scope import ReportScope


class ReportQueryForm(FlaskForm):
    class Meta:
        csrf = False

    start = StringField("日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("日期（迄）", filters=[strip], validators=[Length(max=10)])
    store = SelectField("商店", choices=[], validate_choice=False)
    branch = SelectField("分店", choices=[], validate_choice=False)

    def offer(self, scope: ReportScope) -> None:
        """Fill the pickers from the scope; a bound sub-account's branch is the only choice."""
        self.store.choices = [SelectChoice("", "全部商店"),
                              *[SelectChoice(str(i), name) for i, name in scope.choices]]
        branches = [SelectChoice(str(b.id), b.label) for b in scope.branches()]
        if scope.branch_locked:
            self.branch.choices = branches
            self.branch.data = str(scope.branch_id)
        else:
            self.branch.choices = [SelectChoice("", "全部分店"), *branches]

    def show_period(self, start: str, end: str) -> None:
        self.start.data, self.end.data = start, end


class CirculationForm(ReportQueryForm):
    start = StringField("發行日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("發行日期（迄）", filters=[strip], validators=[Length(max=10)])
    kind = SelectField("票券類型", validate_choice=False, choices=[
        SelectChoice("", "全部"), *[SelectChoice(k.value, k.label) for k in ProductKind]])


class CrossStoreForm(ReportQueryForm):
    start = StringField("核銷日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("核銷日期（迄）", filters=[strip], validators=[Length(max=10)])
    branch = SelectField("核銷分店", choices=[], validate_choice=False)
    issuer = SelectField("發行商店", choices=[], validate_choice=False)


class BranchReportForm(ReportQueryForm):
    start = StringField("操作日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("操作日期（迄）", filters=[strip], validators=[Length(max=10)])
    operation = SelectField("操作類型", validate_choice=False, choices=[
        SelectChoice("", "全部"), *[SelectChoice(o.value, o.label) for o in Operation]])
