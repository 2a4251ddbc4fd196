"""Extension singletons, bound to an app in create_app()."""

from flask_babel import Babel
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from app import forms as _forms  # noqa: F401  (WTForms messages in zh_TW)
from app.db import db

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
htmx = HTMX()

__all__ = ["db", "migrate", "login_manager", "csrf", "babel", "htmx"]
