"""The sample shop's pages (/sample-shop/). The shop is a merchant's website: it signs an
AioCheckOut form with its own HashKey/HashIV and sends the browser to the cashier; ectix answers
it only by HTTP (the ReturnURL notice, the browser's OrderResultURL post)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from app import clock
from app.demo_shop import received, rules
from app.ecpay import checkmac
from app.extensions import csrf
from app.forms import Rule, strip
from app.web import CONTENT_SECURITY_POLICY

bp = Blueprint("demo_shop", __name__, url_prefix="/sample-shop")

MAC_ERROR_ANSWER = "0|CheckMacValue Error"
OK_ANSWER = "1|OK"


def init_app(app: Flask) -> None:
    """Register the shop when DEMO_SHOP asks for it on a debug or test app; its settings'
    defaults. Any other app ignores the flag (and says so in its log)."""
    if not app.config.get("DEMO_SHOP"):
        return
    if not (app.debug or app.testing):
        app.logger.warning("ECTIX_DEMO_SHOP is ignored: the sample shop runs only on a debug "
                           "or test server")
        return
    config = app.config
    config.setdefault("DEMO_SHOP_ITEMS", rules.DEFAULT_ITEMS)
    config.setdefault("DEMO_SHOP_MERCHANT_ID", rules.STAGE_MERCHANT_ID)
    config.setdefault("DEMO_SHOP_HASH_KEY", rules.STAGE_HASH_KEY)
    config.setdefault("DEMO_SHOP_HASH_IV", rules.STAGE_HASH_IV)
    config.setdefault("DEMO_SHOP_CASHIER_URL", None)  # None: this app's /Cashier/AioCheckOut/V5
    config.setdefault("DEMO_SHOP_RETURN_URL", None)  # None: the shop's own /sample-shop/notify
    config.setdefault("DEMO_SHOP_NOTICES_PATH",
                      str(Path(app.instance_path) / "demo-shop-notices.jsonl"))
    rules.items_of(config["DEMO_SHOP_ITEMS"])  # a malformed list stops the server at once
    app.register_blueprint(bp)


def _items() -> tuple[rules.Item, ...]:
    return rules.items_of(current_app.config["DEMO_SHOP_ITEMS"])


def _keys() -> tuple[str, str]:
    return current_app.config["DEMO_SHOP_HASH_KEY"], current_app.config["DEMO_SHOP_HASH_IV"]


class BuyForm(FlaskForm):
    item = SelectField("票券", coerce=int)
    quantity = SelectField("數量", coerce=int, default=1,
                           choices=[SelectChoice(n, f"{n} 張") for n in range(1, rules.MAX_QUANTITY + 1)])
    buyer_name = StringField("購買人姓名", filters=[strip], validators=[
        InputRequired("請輸入購買人姓名"),
        Length(max=rules.BUYER_NAME_MAX, message=f"姓名最多 {rules.BUYER_NAME_MAX} 字")])
    buyer_email = StringField("電子信箱", filters=[strip], validators=[
        InputRequired("請輸入電子信箱"),
        Length(max=rules.BUYER_EMAIL_MAX, message=f"電子信箱最多 {rules.BUYER_EMAIL_MAX} 字"),
        Rule(rules.email_problem)])

    def __init__(self, items: tuple[rules.Item, ...], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.item.choices = [SelectChoice(n, f"{item.name}（NT${item.price:,}）")
                             for n, item in enumerate(items)]


def _shop(form: BuyForm, status: int = 200) -> tuple[str, int]:
    return render_template("demo_shop/index.html", form=form, items=_items(),
                           label=rules.LABEL), status


@bp.get("/")
def index():
    return _shop(BuyForm(_items()))


@bp.post("/buy")
def buy():
    items = _items()
    form = BuyForm(items)
    if not form.validate_on_submit():
        return _shop(form, 422)
    config = current_app.config
    fields = rules.checkout_fields(
        merchant_id=str(config["DEMO_SHOP_MERCHANT_ID"]), at=clock.now(),
        item=items[form.item.data], quantity=form.quantity.data,
        return_url=config["DEMO_SHOP_RETURN_URL"] or url_for("demo_shop.notify", _external=True),
        result_url=url_for("demo_shop.result", _external=True),
        buyer_name=form.buyer_name.data, buyer_email=form.buyer_email.data)
    action = config["DEMO_SHOP_CASHIER_URL"] or url_for("cashier.aio_checkout", _external=True)
    response = make_response(render_template(
        "demo_shop/pay.html", fields=checkmac.signed(fields, *_keys()), action=action,
        label=rules.LABEL))
    parts = urlsplit(action)
    if parts.netloc and parts.netloc != request.host:  # a cashier elsewhere: the form may go there
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")
    return response


def _posted() -> dict[str, str]:
    return dict(request.form.items())  # a field posted twice: its first value


@bp.post("/notify")
@csrf.exempt
def notify():
    """The ReturnURL: ectix's server posts the payment result; the answer `1|OK` stops its
    retries. Every notice is kept, verified or not (the notices page shows which)."""
    fields = _posted()
    verified = checkmac.verify(fields, *_keys())
    received.append(current_app.config["DEMO_SHOP_NOTICES_PATH"], fields, verified=verified,
                    at=clock.now())
    return Response(OK_ANSWER if verified else MAC_ERROR_ANSWER, 200,
                    content_type="text/plain; charset=utf-8")


@bp.post("/result")
@csrf.exempt
def result():
    """The OrderResultURL: the consumer's browser posts the result after paying."""
    fields = _posted()
    verified = checkmac.verify(fields, *_keys())
    return render_template("demo_shop/result.html", fields=fields, verified=verified,
                           paid=verified and rules.succeeded(fields),
                           label=rules.LABEL), 200 if verified else 400


@bp.get("/notices")
def notices():
    return render_template("demo_shop/notices.html", label=rules.LABEL,
                           notices=received.latest(current_app.config["DEMO_SHOP_NOTICES_PATH"]))
