"""Where jobs and commits live: the schedule and every enqueue name entry points in a feature's
`jobs.py`, and only the edges (views, jobs, the API adapter, the command line) commit."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from app import jobs, schedule

APP = Path(jobs.__file__).resolve().parent
JOB_MODULE = re.compile(r"app\.[a-z_]+\.jobs")


def _module_of(path: str) -> str:
    return path.partition(":")[0]


def test_the_schedule_names_only_job_entry_points():
    for rec in schedule.SCHEDULE:
        module = jobs.resolve(rec.func).__module__
        assert module == _module_of(rec.func), rec.name
        assert JOB_MODULE.fullmatch(module), f"{rec.name}: {rec.func} is not in app.<feature>.jobs"


def _python_files() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def _dotted(path: Path) -> str:
    return ".".join(("app", *path.relative_to(APP).with_suffix("").parts))


def _calls(path: Path, name: str) -> list[ast.Call]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                found.append(node)
    return found


def test_every_enqueued_function_is_a_job_entry_point():
    targets: dict[str, str] = {}
    for path in _python_files():
        for call in _calls(path, "enqueue"):
            if not call.args:
                continue
            module = importlib.import_module(_dotted(path))
            # The function, its path, or a constant holding its path (ISSUE_JOB = "app....")
            value = eval(ast.unparse(call.args[0]), vars(module))  # noqa: S307 - our own source
            target = jobs.resolve(value) if isinstance(value, str) else value
            targets[f"{_dotted(path)}:{call.lineno}"] = target.__module__
    assert len(targets) >= 8  # issuance, notices, exports, messages, the sweepers, the scheduler
    for where, module in targets.items():
        assert module == "app.jobs" or JOB_MODULE.fullmatch(module), f"{where} enqueues {module}"


# The edges, where a transaction ends: views (modules serving routes: `@bp.get(...)`, the
# /api/v1 `@api_route(...)`), jobs, and these. Everything else (services, rules, queries) flushes.
EDGES = {
    "app/cli.py": "the command line",
    "app/web.py": "`committed`, a form post's one commit",
    "app/auth/request_cache.py": "the request cache's own session (a token's last use)",
    "app/jobs.py": "the job runner and the schedule's run records",
    "app/api/idempotency.py": "the /api/v1 decorator that commits once per request",
}
ROUTES = re.compile(r"^@(\w+\.(route|get|post|put|patch|delete)|api_route)\(", re.MULTILINE)


def _is_edge(path: Path) -> bool:
    relative = path.relative_to(APP.parent).as_posix()
    return relative in EDGES or path.name == "jobs.py" or bool(ROUTES.search(path.read_text()))


def test_only_the_edges_commit():
    committing = sorted(path.relative_to(APP.parent).as_posix() for path in _python_files()
                        if _calls(path, "commit") and not _is_edge(path))
    assert committing == []
