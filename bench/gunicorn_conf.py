"""The one gunicorn configuration of the redemption benchmark: the framework ceiling and the real
API run under exactly these settings (`gunicorn -c python:bench.gunicorn_conf ...`), so their
ratio compares apps, not servers. The apps read POOL_SIZE from here too, so each worker's
database pool matches the requests it can serve at once.

The default is the best worker model measured on the two-core bench machine (README,
Benchmarks); ECTIX_BENCH_WORKER_CLASS, ECTIX_BENCH_WORKERS and ECTIX_BENCH_THREADS try others
(`python -m bench.redemption compare` runs the API phase under each of MODELS).
"""

from __future__ import annotations

import math
import os

# name: (worker class, workers, threads per worker)
MODELS = {
    "sync": ("sync", 4, 1),
    "gthread": ("gthread", 3, 4),
    "gevent": ("gevent", 3, 1),
}
DEFAULT = "sync"
CLIENTS = 32  # the wrk connections every HTTP phase opens

worker_class = os.environ.get("ECTIX_BENCH_WORKER_CLASS") or MODELS[DEFAULT][0]
workers = int(os.environ.get("ECTIX_BENCH_WORKERS") or MODELS.get(worker_class, MODELS[DEFAULT])[1])
threads = int(os.environ.get("ECTIX_BENCH_THREADS") or MODELS.get(worker_class, MODELS[DEFAULT])[2])
bind = os.environ.get("ECTIX_BENCH_BIND", "127.0.0.1:5077")
loglevel = "warning"
accesslog = None
# The app's access line (one per request, app.observability.logs) is left out like gunicorn's:
# the framework ceiling (bench/ceiling.py) writes none, and its cost is measured apart (README,
# Production).
raw_env = ["ECTIX_LOG_LEVEL=WARNING"]
keepalive = 5  # wrk keeps its connections open (the sync worker closes them anyway)
backlog = 256
graceful_timeout = 5

# Requests a worker serves at once, so the connections its pool needs: its threads; with gevent,
# its share of the benchmark's connections (each a greenlet of its own).
POOL_SIZE = math.ceil(CLIENTS / workers) if worker_class == "gevent" else threads
