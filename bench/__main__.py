"""`make bench`: run the benchmarks on PostgreSQL and Redis, print a table, record the figures.

Each benchmark runs against a fresh PostgreSQL database (created from ECTIX_BENCH_PG_URL, then
dropped) migrated with the real migrations, with jobs going through Redis (ECTIX_BENCH_REDIS_URL)
to a real `python worker.py` process. Results go to bench/results/<UTC time>-<commit>.json with
the machine and the commit.

    python -m bench                 # all benchmarks
    python -m bench issuance        # one of them
    python -m bench redemption      # bare statement, framework ceiling, API, counter (wrk)
    python -m bench installments    # a 1000-order installment upload, confirm → done
    python -m bench reports         # 1M tickets (ECTIX_BENCH_TICKETS), report pages, export
    python -m bench print           # a 1000-ticket paper print to PDF
    python -m bench installment-redemption   # the daily job over 100,000 due periods
    python -m bench billing         # monthly bills for 1,000 stores over 10⁶ tickets

A figure is {"name", "value", "unit", "target"} (and anything else worth keeping): it meets its
target when value <= target, or value >= target with "better": "higher".
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    billing,
    installment_redemption,
    installments,
    issuance,
    paper_print,
    redemption,
    reports,
)
from bench.support import machine_info

BENCHMARKS = {"issuance": issuance.run, "installments": installments.run,
              "redemption": redemption.run, "reports": reports.run, "print": paper_print.run,
              "installment-redemption": installment_redemption.run, "billing": billing.run}
RESULTS = Path(__file__).resolve().parent / "results"


def _ok(figure: dict) -> str:
    """A figure meets its target: at most the target, or at least it where "better" is "higher"
    (a rate, a ratio). Empty without a target."""
    target = figure.get("target")
    if target is None:
        return ""
    higher = figure.get("better") == "higher"
    return "yes" if (figure["value"] >= target if higher else figure["value"] <= target) else "NO"


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    info = machine_info()
    figures: list[dict] = []
    for name in names:
        print(f"== {name}", flush=True)
        figures.extend(BENCHMARKS[name]())
    print()
    width = max([60, *(len(f["name"]) for f in figures)])
    print(f"{'benchmark':<{width}} {'figure':>10} {'unit':<5} {'target':>8}  ok")
    for f in figures:
        target = f.get("target")
        print(f"{f['name']:<{width}} {f['value']:>10.3f} {f['unit']:<5} "
              f"{'' if target is None else target:>8}  {_ok(f)}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-{info['commit'][:8]}.json"
    out.write_text(json.dumps({"recorded_at": stamp, "machine": info, "figures": figures},
                              ensure_ascii=False, indent=2) + "\n")
    print(f"\nrecorded in {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
