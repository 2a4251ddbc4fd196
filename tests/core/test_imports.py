"""Imports point down the layers: no feature package imports one above it, no two packages import
each other (directly or round a circle), and no import is hidden inside a function to dodge that.

The graph is read from the source (every `import` and `from … import`, wherever it stands), at
package level: `app.tickets.models` and `app.tickets.actions` are both `tickets`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

# Bottom to top; a package may import its own layer (without a circle) and the ones below.
LAYERS = [
    # platform
    {"stores", "auth", "accounts", "uploads", "settings", "notifications", "news", "billing",
     "saved_filters", "ecpay"},
    # catalog
    {"branches", "products"},
    # the ticket core
    {"tickets"},
    # features built on tickets
    {"issuance", "orders", "transfers", "return_applications", "printing", "escrow", "partners",
     "sms", "installments", "bills", "checkout", "credit", "unissued"},
    # screens and protocol adapters
    {"counter", "home", "reports", "wallet", "operator", "merchant", "api", "search", "ecticket",
     "demo_shop"},
    # what the people running the service see of all of it (logs read the wallet's redaction)
    {"observability"},
]
LAYER_OF = {pkg: n for n, layer in enumerate(LAYERS) for pkg in layer}

# Function-level imports of app modules that are allowed, and why.
COMPOSITION_ROOTS = {
    "__init__.py": "create_app builds the app from every feature; importing them at the top of "
                   "the package every module imports would load the whole app for `app.clock`",
}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "app" and len(parts) > 1 else None


def _imports(tree: ast.AST) -> list[tuple[ast.AST, list[str]]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = ([f"app.{a.name}" for a in node.names] if node.module == "app"
                     else [node.module])
            found.append((node, names))
        elif isinstance(node, ast.Import):
            found.append((node, [a.name for a in node.names]))
    return found


def _graph() -> dict[str, dict[str, set[str]]]:
    """{package: {imported package: {file:line, …}}} between the packages of app/."""
    packages = {p.name for p in APP.iterdir() if (p / "__init__.py").exists()}
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in APP.rglob("*.py"):
        rel = path.relative_to(APP)
        if len(rel.parts) < 2:
            continue  # core modules of app/ itself
        source = rel.parts[0]
        for node, modules in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            for module in modules:
                target = _package(module)
                if target in packages and target != source:
                    graph[source][target].add(f"{rel}:{node.lineno}")
    return graph


def _cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_package_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b": set()}, "b": {"c": set()}, "c": {"a": set()}}) == [["a", "b", "c"]]


def test_every_package_has_a_layer():
    packages = {p.name for p in APP.iterdir() if (p / "__init__.py").exists()}
    assert packages - set(LAYER_OF) == set()


def test_imports_point_down_the_layers():
    upward = sorted(f"{source} → {target} ({', '.join(sorted(where))})"
                    for source, targets in _graph().items() for target, where in targets.items()
                    if LAYER_OF[target] > LAYER_OF[source])
    assert upward == []


def test_no_app_import_is_hidden_in_a_function():
    hidden = []
    for path in APP.rglob("*.py"):
        rel = str(path.relative_to(APP))
        if rel in COMPOSITION_ROOTS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node, modules in _imports(fn):
                    if any(m == "app" or m.startswith("app.") for m in modules):
                        hidden.append(f"{rel}:{node.lineno}")
    assert sorted(set(hidden)) == []


def test_the_app_never_imports_the_demo_data():
    """The demo loaders live outside the request-serving package (`demodata`, a Flask plugin
    command); nothing in app/ imports them."""
    importers = sorted(str(path.relative_to(APP)) for path in APP.rglob("*.py")
                       if any(m == "demodata" or m.startswith("demodata.")
                              for _, modules in _imports(ast.parse(path.read_text(encoding="utf-8")))
                              for m in modules))
    assert importers == []
