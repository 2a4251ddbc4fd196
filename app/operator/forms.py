"""Operator console forms: input shape and messages. The rules themselves live in
`app.operator.rules` and are enforced by the services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app import clock
from app.auth import rules as auth_rules
from app.billing.rates import KINDS as RATE_KINDS
from app.bounds import INT_MAX, whole_number
from app.forms import Rule, TwDateField, TwDateTimeField, TwIntegerField
from app.operator import rules
from app.operator.services import ContractTerms, NewsFields, StoreFields
from app.stores.models import DeliveryMethod, RedemptionMode


def _emails_problem(value: str) -> str | None:
    return rules.normalise_emails(value)[1]


def _store_id(value: object) -> int:
    """A select's store id; anything else becomes -1, which the service answers as not found."""
    if value is None or value == "":
        return 0
    text = str(value)
    number = whole_number(text, 0, INT_MAX)
    return -1 if number is None else number


class StoreForm(FlaskForm):
    merchant_code = StringField("商店代號", validators=[DataRequired("請輸入商店代號"),
                                                       Rule(rules.merchant_code_problem, strip=True)],
                                description="7-10 位數字")
    name = StringField("商店名稱", validators=[DataRequired("請輸入商店名稱"), Length(max=100)])
    tax_id = StringField("統一編號", validators=[DataRequired("請輸入統一編號"),
                                                 Rule(rules.tax_id_problem, strip=True)],
                         description="8 位數字")
    responsible_person = StringField("負責人", validators=[Length(max=50)])
    address = StringField("地址", validators=[Length(max=200)])
    website = StringField("商店網址", validators=[Length(max=200),
                                                  Rule(rules.website_problem, strip=True)])
    parent_id = SelectField("母商店", coerce=_store_id, validate_choice=False, default=0)
    finance_emails = StringField("帳務聯絡人電子信箱", validators=[Rule(_emails_problem, strip=True)],
                                 description="多組請以半形分號 ; 分隔")
    sales_emails = StringField("業務聯絡人電子信箱", validators=[Rule(_emails_problem, strip=True)],
                               description="多組請以半形分號 ; 分隔")
    technical_emails = StringField("技術聯絡人電子信箱", validators=[Rule(_emails_problem, strip=True)],
                                   description="多組請以半形分號 ; 分隔")
    require_two_factor = BooleanField(
        "要求雙因子驗證", description="勾選後，此商店所有後台帳號登入後須先完成雙因子驗證設定")

    def store_fields(self) -> StoreFields:
        return StoreFields(
            merchant_code=self.merchant_code.data or "",
            name=self.name.data or "",
            tax_id=self.tax_id.data or "",
            responsible_person=self.responsible_person.data or "",
            address=self.address.data or "",
            website=self.website.data or "",
            parent_id=self.parent_id.data if self.parent_id.data else None,
            finance_emails=self.finance_emails.data or "",
            sales_emails=self.sales_emails.data or "",
            technical_emails=self.technical_emails.data or "",
            require_two_factor=bool(self.require_two_factor.data),
        )


def _default_start() -> date:
    return clock.business_day()


def _default_end() -> date:
    start = clock.business_day()
    try:
        return start.replace(year=start.year + 1) - timedelta(days=1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + 1, day=28)


class ContractForm(FlaskForm):
    start_date = TwDateField("合約開始日", validators=[InputRequired("請輸入合約開始日")],
                             default=_default_start)
    end_date = TwDateField("合約結束日", validators=[InputRequired("請輸入合約結束日")],
                           default=_default_end)
    issuance_active = BooleanField("ECT發行服務狀態：已開通")
    redemption_mode = SelectField(
        "核銷方式", choices=[SelectChoice(m.value, m.label) for m in RedemptionMode],
        default=RedemptionMode.REDEEM_AFTER_USE.value, validate_choice=False,
    )
    enabled_methods = SelectMultipleField(
        "ECT發行方式", choices=[SelectChoice(m.value, m.label) for m in DeliveryMethod],
        validate_choice=False,
    )
    sms_enabled = BooleanField("簡訊加值服務：已開通")
    payout_delay_days = TwIntegerField("撥款天期（天）",
                                       validators=[InputRequired("請輸入撥款天期")], default=7)
    escrow_bank = StringField("價金保管銀行", validators=[Length(max=50)])
    escrow_type = StringField("價金保管類型（分期核銷）", validators=[Length(max=50)])
    installment_period_count = TwIntegerField("核銷設定：期數（分期核銷）",
                                              validators=[Optional()],
                                              description=f"每筆訂單的期數，1 至 {rules.PERIOD_COUNT_MAX} 期")
    installment_period_days = TwIntegerField("核銷設定：每期天數（分期核銷）",
                                             validators=[Optional()])
    note = TextAreaField("備註", validators=[Length(max=2000)])

    def contract_terms(self) -> ContractTerms:
        return ContractTerms(
            start_date=self.start_date.data,
            end_date=self.end_date.data,
            issuance_active=bool(self.issuance_active.data),
            redemption_mode=self.redemption_mode.data or "",
            enabled_methods=list(self.enabled_methods.data or []),
            sms_enabled=bool(self.sms_enabled.data),
            payout_delay_days=self.payout_delay_days.data,
            escrow_bank=self.escrow_bank.data or "",
            escrow_type=self.escrow_type.data or "",
            installment_period_days=self.installment_period_days.data,
            installment_period_count=self.installment_period_count.data,
            note=self.note.data or "",
        )


class NewStoreForm(StoreForm, ContractForm):
    """A merchant, its first contract and its main account (管理者), in one form."""

    username = StringField("管理者帳號", validators=[DataRequired("請輸入管理者帳號"),
                                       Rule(rules.main_username_problem, strip=True)],
                           description="6-20 位英文或數字")
    password = PasswordField("初始密碼", validators=[DataRequired("請輸入初始密碼"),
                                       Rule(auth_rules.main_password_problem, strip=False)],
                             description="6-20 位英文、數字或符號至少兩種之混合")


def _now_on_taipei_clock() -> datetime:
    return clock.taipei().replace(tzinfo=None, second=0, microsecond=0)


class NewsForm(FlaskForm):
    title = StringField("標題", validators=[DataRequired("請輸入標題"),
                                           Length(max=rules.NEWS_TITLE_MAX,
                                                  message="標題至多 120 字")])
    body = TextAreaField("內容", validators=[DataRequired("請輸入內容")])
    category = SelectField("類別", choices=[SelectChoice(c) for c in rules.NEWS_CATEGORIES],
                           validate_choice=False)
    published_at = TwDateTimeField("發佈時間", validators=[InputRequired("請輸入發佈時間")],
                                   default=_now_on_taipei_clock,
                                   format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S",
                                           "%Y-%m-%d %H:%M"],
                                   description="台北時間；設定未來時間即為排程發佈")

    def news_fields(self) -> NewsFields:
        at = self.published_at.data.replace(tzinfo=clock.TAIPEI).astimezone(UTC)
        return NewsFields(title=self.title.data or "", body=self.body.data or "",
                          category=self.category.data or "", published_at=at)

    def load(self, published_at: datetime) -> None:
        """Show a stored UTC instant on the Taipei wall clock."""
        self.published_at.data = clock.taipei(published_at).replace(tzinfo=None)


class RefundDomainForm(FlaskForm):
    """A domain opened for a store's refund-notification URL (URL Domain 防火牆)."""

    host = StringField("網域", validators=[DataRequired("請輸入網域")],
                       render_kw={"maxlength": 253, "placeholder": "api.example.com.tw",
                                  "autocomplete": "off"})


# Billing: fee rates, payments and adjustments ---------------------------------------------------

class RateForm(FlaskForm):
    """A fee rate (費率): a fixed amount per unit or, for the return fee, a percentage."""

    kind = SelectField("費用項目", choices=[SelectChoice(k.value, k.label) for k in RATE_KINDS],
                       validate_choice=False)
    effective_from = TwDateField("生效日", validators=[InputRequired("請輸入生效日")],
                                 default=_default_start, description="今天或之後的日期")
    amount = TwIntegerField("固定金額（元，含稅）", validators=[Optional()],
                            description="每單位的整數金額")
    percent = StringField("或百分比（%，僅退貨作業費）", validators=[Length(max=10)],
                          description="例如 1.5 代表 1.5%，至多小數點後 2 位",
                          render_kw={"inputmode": "decimal", "autocomplete": "off"})


class PaymentForm(FlaskForm):
    """A payment the operator records (登錄繳費)."""

    amount = TwIntegerField("繳費金額（元）", validators=[InputRequired("請輸入繳費金額")])
    paid_on = TwDateField("繳費日期", validators=[InputRequired("請輸入繳費日期")],
                          default=_default_start)
    reference = StringField("匯款帳號末五碼／交易編號",
                            validators=[Length(max=60, message="至多 60 字")])
    note = StringField("備註", validators=[Length(max=200, message="備註至多 200 字")])


class AdjustmentForm(FlaskForm):
    """A correction carried on the store's next bill (正數：加收；負數：折抵)."""

    amount = TwIntegerField("調整金額（元）", validators=[InputRequired("請輸入調整金額")],
                            description="正數為加收、負數為折抵，列入下期帳單")
    reason = StringField("調整原因", validators=[DataRequired("請輸入調整原因"),
                                             Length(max=200, message="調整原因至多 200 字")])
