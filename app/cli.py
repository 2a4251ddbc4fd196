"""Command-line entry points: `flask --app app demo-data [--tickets N] | jobs ... | api-token ...`."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from app.db import db


def init_app(app: Flask) -> None:
    @app.cli.command("demo-data")
    @click.option("--tickets", type=click.IntRange(min=1), default=None, metavar="N",
                  help="Then bulk-load N tickets with a realistic spread, for the benchmarks "
                       "(app/loadgen.py; once per database).")
    @click.option("--seed", type=int, default=None, help="Seed of the bulk load's spread.")
    def demo_data(tickets: int | None, seed: int | None) -> None:
        """Create the demo stores and logins (idempotent) and print the logins."""
        from flask import current_app

        from app.demo import DEMO_PASSWORD, load_demo

        current_app.config["JOBS_MODE"] = "inline"  # issue the demo batches now, in this process
        logins = load_demo()
        db.session.commit()
        click.echo(f"Demo logins (password {DEMO_PASSWORD}):")
        for username, what in logins:
            click.echo(f"  {username:<12} {what}")
        if tickets:
            from app.loadgen import AlreadyLoaded, describe, load_tickets

            try:
                summary = load_tickets(tickets, seed=seed, echo=click.echo)
            except AlreadyLoaded as err:
                raise click.ClickException(str(err)) from None
            for line in describe(summary):
                click.echo(line)

    jobs_group = click.Group("jobs", help="Recurring and background jobs.")
    app.cli.add_command(jobs_group)

    @jobs_group.command("list")
    def jobs_list() -> None:
        """The schedule table."""
        from app.schedule import SCHEDULE

        for rec in SCHEDULE:
            click.echo(f"{rec.name:<28} {rec.cron:<14} {rec.description}")

    @jobs_group.command("run")
    @click.argument("name")
    def jobs_run(name: str) -> None:
        """Run a recurring job now, in this process."""
        from app.jobs import run_now
        from app.schedule import SCHEDULE

        if name not in {r.name for r in SCHEDULE}:
            raise click.BadParameter(f"unknown job {name!r}; see `flask jobs list`")
        run = run_now(name)
        click.echo(f"{name}: {run.status}{(' ' + run.error) if run.error else ''}")
        if run.status != "done":
            raise SystemExit(1)

    @jobs_group.command("tick")
    def jobs_tick() -> None:
        """Enqueue recurring jobs that are due (what the worker does every 30 seconds)."""
        from flask import current_app

        from app.jobs import tick

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
        from app.auth.models import Account
        from app.auth.services import create_api_token

        account = db.session.scalar(select(Account).where(Account.username == username))
        if account is None or not account.is_active:
            raise click.BadParameter(f"no active account {username!r}")
        from app.errors import DomainError

        try:
            _, plain = create_api_token(account, name)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        db.session.commit()
        click.echo(plain)
