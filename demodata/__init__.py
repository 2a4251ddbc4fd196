"""Demo data and the bulk loader, outside the request-serving package `app`.

- `stores`: the demo stores, logins, products and settings (idempotent), loaded by `make run`;
- `tickets`: the demo's tickets in every status, made through the real services;
- `loadgen`: millions of tickets with a realistic spread, for the benchmarks;
- `cli`: the `flask demo-data` command, registered as a Flask plugin command (pyproject.toml's
  `flask.commands` entry point), so `app` never imports this package.
"""
