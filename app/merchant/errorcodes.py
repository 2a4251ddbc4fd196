"""5-1 錯誤代碼查詢: every error code and message the pages and the API answer, read from the code.

Nothing here is typed by hand: the list is gathered from the application's own source, so a new
refusal appears by itself —
- the HTTP answers of app/errors.py (status, code, message);
- every `Refusal("Code", message)` (the rules' named refusals);
- every `raise …Error(message, code="…")` and API `_error(status, "code", message)` call.
A message named by a constant is looked up in its (already loaded) module; a message built at
run time (an f-string) is shown with … where the variable part goes.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app import errors
from app.refusal import Refusal

APP_DIR = Path(errors.__file__).resolve().parent
VARIES = "（訊息依實際情況顯示）"
_CLASS_STATUS = {"DomainError": errors.DomainError.status, "InvalidInput": errors.InvalidInput.status,
                 "Forbidden": errors.Forbidden.status, "NotFound": errors.NotFound.status}


@dataclass(frozen=True)
class ErrorCode:
    code: str
    message: str
    status: int | None  # the HTTP status, when known
    source: str  # the feature (package) that gives it

    def matches(self, query: str) -> bool:
        q = query.strip().lower()
        return not q or q in self.code.lower() or q in self.message.lower() or (
            q == str(self.status))


def _module_name(path: Path) -> str:
    rel = path.relative_to(APP_DIR.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _text(node: ast.AST | None, namespace: dict) -> str:
    """The message an expression stands for, as far as it can be known without running it."""
    if node is None:
        return VARIES
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "format":
        template = _text(node.func.value, namespace)
        return VARIES if template == VARIES else _blank_fields(template)
    value = _resolve(node, namespace)
    if isinstance(value, Refusal):
        return value.message
    return value if isinstance(value, str) and value else VARIES


def _blank_fields(template: str) -> str:
    out, depth = [], 0
    for ch in template:
        if ch == "{":
            depth += 1
            if depth == 1:
                out.append("…")
        elif ch == "}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _resolve(node: ast.AST, namespace: dict) -> object:
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else "")


def _from_source(path: Path) -> list[ErrorCode]:
    module = _module_name(path)
    namespace = vars(sys.modules[module]) if module in sys.modules else {}
    source = module.split(".")[1] if module.count(".") else "app"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        args = node.args
        if name == "Refusal" and args and isinstance(args[0], ast.Constant) \
                and isinstance(args[0].value, str):
            found.append(ErrorCode(args[0].value, _text(args[1] if len(args) > 1 else None,
                                                         namespace), None, source))
        elif name in ("_error", "json_error") and len(args) >= 3 \
                and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str):
            status = args[0].value if isinstance(args[0], ast.Constant) else None
            found.append(ErrorCode(args[1].value, _text(args[2], namespace), status, source))
        else:
            code = next((k.value for k in node.keywords if k.arg == "code"), None)
            if isinstance(code, ast.Constant) and isinstance(code.value, str) and code.value \
                    and (name in _CLASS_STATUS or name.endswith("Error")):
                found.append(ErrorCode(code.value, _text(args[0] if args else None, namespace),
                                       _CLASS_STATUS.get(name), source))
    return found


@cache
def all_codes() -> tuple[ErrorCode, ...]:
    """Every (code, message) once, HTTP answers first, then by code."""
    http = [ErrorCode(code, errors._HTTP_MESSAGES.get(status, ""), status, "http")
            for status, code in errors._HTTP_CODES.items()]
    rest: dict[tuple[str, str], ErrorCode] = {}
    for path in sorted(APP_DIR.rglob("*.py")):
        for item in _from_source(path):
            rest.setdefault((item.code, item.message), item)
    return (*http, *sorted(rest.values(), key=lambda e: (e.code.lower(), e.message)))


def search(query: str) -> list[ErrorCode]:
    return [e for e in all_codes() if e.matches(query)]
