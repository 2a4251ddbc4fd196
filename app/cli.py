"""Command-line entry points: `flask --app app jobs ... | api-token ...` (`demo-data` is the
demodata package's plugin command)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from sqlalchemy import select

from app import credentials, schedule
from app.auth.models import Account
from app.auth.protection_models import TwoFactor
from app.auth.services import create_api_token
from app.db import db
from app.ecpay import keys
from app.ecpay.models import KeyPair
from app.errors import DomainError
from app.jobs import run_now, tick
from app.reports import figures
from app.tickets.models import Order, Ticket
from app.transfers.models import Transfer


def init_app(app: Flask) -> None:
    _init_secrets(app)
    _init_figures(app)
    jobs_group = click.Group("jobs", help="Recurring and background jobs.")
    app.cli.add_command(jobs_group)

    @jobs_group.command("list")
    def jobs_list() -> None:
        """The schedule table."""
        for rec in schedule.SCHEDULE:
            click.echo(f"{rec.name:<28} {rec.cron:<14} {rec.description}")

    @jobs_group.command("run")
    @click.argument("name")
    def jobs_run(name: str) -> None:
        """Run a recurring job now, in this process."""
        if name not in {r.name for r in schedule.SCHEDULE}:
            raise click.BadParameter(f"unknown job {name!r}; see `flask jobs list`")
        run = run_now(name)
        click.echo(f"{name}: {run.status}{(' ' + run.error) if run.error else ''}")
        if run.status != "done":
            raise SystemExit(1)

    @jobs_group.command("tick")
    def jobs_tick() -> None:
        """Enqueue recurring jobs that are due (what the worker does every 30 seconds)."""
        if current_app.config["JOBS_MODE"] == "thread":
            current_app.config["JOBS_MODE"] = "inline"  # this process ends before a thread would run
        click.echo(", ".join(tick()) or "nothing due")

    token_group = click.Group("api-token", help="API bearer tokens.")
    app.cli.add_command(token_group)

    @token_group.command("create")
    @click.argument("username")
    @click.option("--name", default="cli", help="A label to recognise the token by.")
    def token_create(username: str, name: str) -> None:
        """Print a new API token for USERNAME (shown once; only its hash is stored)."""
        account = db.session.scalar(select(Account).where(Account.username == username))
        if account is None or not account.is_active:
            raise click.BadParameter(f"no active account {username!r}")
        try:
            _, plain = create_api_token(account, name)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        db.session.commit()
        click.echo(plain)


def _init_secrets(app: Flask) -> None:
    secrets_group = click.Group("secrets", help="The key of codes and links (docs/operations.md).")
    app.cli.add_command(secrets_group)

    @secrets_group.command("rotate")
    @click.option("--chunk", default=1000, show_default=True, help="Rows per transaction.")
    def secrets_rotate(chunk: int) -> None:
        """Move every code, link and pickup code made under a retired key to the current key,
        keeping their values, and seal the stores' integration keys and the authenticator keys
        anew; afterwards the retired ECTIX_CODE_KEY_<n> may be removed."""
        version = credentials.current_version()
        for model, attributes in ((Ticket, [Ticket.code]),
                                  (Order, [Order.link_token, Order.pickup_code]),
                                  (Transfer, [Transfer.link_token])):
            moved = 0
            while rows := list(db.session.scalars(
                    select(model).where(model.secret_version != version).order_by(model.id)
                    .limit(chunk).execution_options(unscoped=True))):
                moved += sum(credentials.move_to_current_key(row, attributes) for row in rows)
                db.session.commit()
            click.echo(f"{model.__tablename__}: {moved} moved to key version {version}")
        # secrets kept to be read again: few rows, sealed anew under the current key
        current = f"v{version}:"
        pairs = [row for row in db.session.scalars(select(KeyPair).execution_options(
            unscoped=True)) if not row.sealed.startswith(current)]
        for row in pairs:
            row.sealed = keys.seal(keys.unseal(row.sealed, row.store_id), row.store_id)
        factors = [row for row in db.session.scalars(select(TwoFactor))
                   if row.sealed_secret and not row.sealed_secret.startswith(current)]
        for row in factors:
            row.secret = row.secret
        db.session.commit()
        click.echo(f"integration keys: {len(pairs)}, authenticator keys: {len(factors)} "
                   f"sealed anew under key version {version}")


def _init_figures(app: Flask) -> None:
    @app.cli.command("recount-figures")
    def recount_figures() -> None:
        """Rebuild the reports' daily figures (app.reports.figures) from the tickets and orders:
        after loading rows with the triggers off, or to repair. Writers wait while it runs."""
        figures.recount()
        db.session.commit()
        click.echo("daily figures recounted from the tickets and orders")
