"""The real app as the benchmark serves it: `app:create_app()`, its database pool sized to the
requests a worker serves at once (bench/gunicorn_conf.py POOL_SIZE) rather than SQLAlchemy's
default 5 + 10 overflow, so no worker opens connections it cannot use."""

from __future__ import annotations

from flask import Flask

from app import create_app
from bench import gunicorn_conf


def api_app() -> Flask:
    return create_app({"SQLALCHEMY_ENGINE_OPTIONS": {
        "pool_size": gunicorn_conf.POOL_SIZE, "max_overflow": 0}})
