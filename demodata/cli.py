"""`flask --app app demo-data [--tickets N] [--seed S]`: the demo data, then optionally a bulk load."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.db import db
from demodata.loadgen import AlreadyLoaded, describe, load_tickets
from demodata.stores import DEMO_PASSWORD, load_demo


@click.command("demo-data")
@click.option("--tickets", type=click.IntRange(min=1), default=None, metavar="N",
              help="Then bulk-load N tickets with a realistic spread, for the benchmarks "
                   "(demodata/loadgen.py; once per database).")
@click.option("--seed", type=int, default=None, help="Seed of the bulk load's spread.")
@with_appcontext
def demo_data(tickets: int | None, seed: int | None) -> None:
    """Create the demo stores and logins (idempotent) and print the logins."""
    current_app.config["JOBS_MODE"] = "inline"  # issue the demo batches now, in this process
    logins = load_demo()
    db.session.commit()
    click.echo(f"Demo logins (password {DEMO_PASSWORD}):")
    for username, what in logins:
        click.echo(f"  {username:<12} {what}")
    if tickets:
        try:
            summary = load_tickets(tickets, seed=seed, echo=click.echo)
        except AlreadyLoaded as err:
            raise click.ClickException(str(err)) from None
        for line in describe(summary):
            click.echo(line)
