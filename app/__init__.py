"""ectix: prepaid voucher issuance and redemption platform."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import config as app_config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error pages, CLI. No I/O here."""
    app = Flask(__name__, instance_path=str(app_config.INSTANCE), instance_relative_config=True)
    app.config.update(app_config.from_environment())
    if config:
        app.config.update(config)
    if proxies := int(app.config.get("TRUSTED_PROXIES") or 0):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client address (request.remote_addr: login throttling, history, rate limits) and
        # scheme come from the X-Forwarded-* headers the nearest `proxies` proxies appended.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    from app.observability import logs

    logs.init_app(app)  # request ids, JSON lines, the access line: first, so every line has them

    from app import credentials

    credentials.init_app(app)  # the key ring for codes and links; production needs its own key

    from app import htmx as htmx_helpers
    from app import web
    from app.bounds import BigIntConverter, IntConverter
    from app.db import REPORTS_BIND, engine_options, render_migration_item, replica_engine_options
    from app.errors import register_error_handlers
    from app.extensions import babel, csrf, db, htmx, login_manager, migrate

    # Before any rule is added: an id beyond its column's range is a 404, not a database error.
    app.url_map.converters.update(int=IntConverter, bigint=BigIntConverter)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if replica := app.config.get("REPORTS_DATABASE_URL"):
        # the reports' read replica, an engine beside the primary (app.db.RoutingSession)
        app.config["SQLALCHEMY_BINDS"] = {
            **(app.config.get("SQLALCHEMY_BINDS") or {}),
            REPORTS_BIND: replica_engine_options(replica, app.config["SQLALCHEMY_ENGINE_OPTIONS"])}
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app_config.ROOT / "migrations"),
                     render_as_batch=True, compare_type=True,
                     render_item=render_migration_item)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: "zh_Hant_TW",
                   timezone_selector=lambda: "Asia/Taipei")
    htmx.init_app(app)
    login_manager.init_app(app)
    htmx_helpers.init_app(app)
    register_error_handlers(app)
    web.init_app(app)

    _import_models()
    _connect_reactions()
    _register_blueprints(app)
    from app.observability import health, metrics

    health.init_app(app)  # /healthz, /readyz
    metrics.init_app(app)  # /metrics and the request counters
    from app.wallet.logredact import install as redact_link_tokens_in_logs

    redact_link_tokens_in_logs(app)

    from app import cli

    cli.init_app(app)
    return app


def _import_models() -> None:
    """Every model module, so metadata (and Alembic autogenerate) sees every table."""
    from app import history, jobs, ratelimit  # noqa: F401
    from app.api import models as _api  # noqa: F401
    from app.auth import models as _auth  # noqa: F401
    from app.auth import protection_models as _auth_protection  # noqa: F401
    from app.billing import models as _billing  # noqa: F401
    from app.bills import models as _bills  # noqa: F401
    from app.checkout import models as _checkout  # noqa: F401
    from app.counter import models as _counter  # noqa: F401
    from app.credit import models as _credit  # noqa: F401
    from app.credit import reject_models as _credit_reject  # noqa: F401
    from app.ecpay import models as _ecpay  # noqa: F401
    from app.ecticket import notice_models as _ecticket_notices  # noqa: F401
    from app.escrow import models as _escrow  # noqa: F401
    from app.installments import models as _installments  # noqa: F401
    from app.issuance import models as _issuance  # noqa: F401
    from app.news import models as _news  # noqa: F401
    from app.notifications import models as _notifications  # noqa: F401
    from app.printing import models as _printing  # noqa: F401
    from app.products import models as _products  # noqa: F401
    from app.reports import models as _reports  # noqa: F401
    from app.return_applications import models as _return_applications  # noqa: F401
    from app.saved_filters import models as _saved_filters  # noqa: F401
    from app.settings import models as _settings  # noqa: F401
    from app.stores import models as _stores  # noqa: F401
    from app.tickets import models as _tickets  # noqa: F401
    from app.transfers import models as _transfers  # noqa: F401
    from app.unissued import models as _unissued  # noqa: F401
    from app.uploads import models as _uploads  # noqa: F401


def _connect_reactions() -> None:
    """The features that react to a ticket's moves register with `app.tickets.reactions` (and
    the unissued ticket orders with checkout, issuance and credit) when imported; importing them
    here makes every process (web, worker, CLI) hear every move."""
    from app.credit import rejects as _rejects  # noqa: F401
    from app.ecticket import notices as _ecticket_notices  # noqa: F401
    from app.escrow import ledger as _ledger  # noqa: F401
    from app.installments import checkout_orders as _installment_checkouts  # noqa: F401
    from app.return_applications import services as _return_applications  # noqa: F401
    from app.transfers import services as _transfers  # noqa: F401
    from app.unissued import services as _unissued  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from app.accounts.views import bp as accounts_bp
    from app.api import bp as api_bp
    from app.auth.twofactor_views import bp as twofactor_bp
    from app.auth.views import bp as auth_bp
    from app.bills.views import bp as billing_bp
    from app.branches.views import bp as branches_bp
    from app.checkout.cashier_views import bp as cashier_bp
    from app.checkout.views import bp as checkout_bp
    from app.counter.views import bp as counter_bp
    from app.credit.api import bp as credit_api_bp
    from app.credit.reject_views import bp as credit_reject_bp
    from app.credit.views import bp as credit_bp
    from app.ecticket.notice_views import bp as ecticket_notices_bp
    from app.ecticket.views import bp as ecticket_bp
    from app.escrow.views import bp as escrow_bp
    from app.home.views import bp as home_bp
    from app.installments.views import bp as installments_bp
    from app.issuance.views import bp as issuance_bp
    from app.merchant.views import bp as merchant_bp
    from app.notifications.views import bp as delivery_receipts_bp
    from app.operator.outbox_views import bp as notifications_bp
    from app.operator.views import bp as operator_bp
    from app.orders.views import bp as orders_bp
    from app.partners.admin_views import bp as partners_admin_bp
    from app.partners.views import bp as partners_bp
    from app.printing.kiosk_views import bp as cvs_bp
    from app.printing.operator_views import bp as platform_print_bp
    from app.printing.views import bp as printing_bp
    from app.products.views import bp as products_bp
    from app.reports.export_views import bp as exports_bp
    from app.reports.ticket_page import bp as tickets_bp
    from app.reports.views import bp as reports_bp
    from app.return_applications.views import bp as return_applications_bp
    from app.saved_filters.views import bp as saved_filters_bp
    from app.search.views import bp as search_bp
    from app.settings.views import bp as settings_bp
    from app.sms.views import bp as sms_bp
    from app.transfers.views import bp as transfers_bp
    from app.unissued.views import bp as unissued_bp
    from app.uploads.views import bp as uploads_bp
    from app.wallet.views import bp as wallet_bp

    for bp in (auth_bp, home_bp, merchant_bp, accounts_bp, operator_bp, api_bp, uploads_bp,
               settings_bp, partners_bp, partners_admin_bp, branches_bp, products_bp,
               issuance_bp, notifications_bp, orders_bp, sms_bp, counter_bp, escrow_bp,
               tickets_bp, exports_bp, reports_bp, wallet_bp, transfers_bp,
               return_applications_bp, printing_bp, platform_print_bp, cvs_bp, installments_bp,
               billing_bp, search_bp, saved_filters_bp, twofactor_bp, cashier_bp, checkout_bp,
               unissued_bp, credit_bp, credit_api_bp, credit_reject_bp, ecticket_bp,
               delivery_receipts_bp):
        app.register_blueprint(bp)
    app.register_blueprint(ecticket_notices_bp)

    from app.demo_shop import views as demo_shop_views

    demo_shop_views.init_app(app)  # the sample shop: ECTIX_DEMO_SHOP=1 on a debug or test app
