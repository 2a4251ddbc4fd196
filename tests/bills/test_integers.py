"""Money is integers end to end in billing: every money column of the billing tables is an
Integer or BigInteger, and no float (literal, `float(...)` call or `/` true division) appears in
the billing packages' sources."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import BigInteger, Integer

from app.billing.models import Charge, FeeRate
from app.bills.models import Bill, BillAdjustment, BillLine, Payment, ReturnFeeLine, SettlementRun
from app.db import db

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (ROOT / "app" / "bills", ROOT / "app" / "billing")

# every column that holds money (or a rate, a quantity or a count that money is computed from)
MONEY = {
    Bill: ("amount",),
    BillLine: ("unit_amount", "percent_bp", "quantity", "amount"),
    BillAdjustment: ("amount",),
    Payment: ("amount",),
    Charge: ("quantity", "unit_amount", "amount"),
    FeeRate: ("amount", "percent_bp"),
    ReturnFeeLine: ("base_amount", "fee_e4"),
    SettlementRun: ("stores", "lines"),
}
TABLES = {"bills", "bill_lines", "bill_adjustments", "payments", "charges", "fee_rates",
          "return_fee_lines", "settlement_runs"}


def test_every_billing_table_is_checked():
    assert {model.__tablename__ for model in MONEY} == TABLES
    assert TABLES <= set(db.metadata.tables)


@pytest.mark.parametrize(("model", "column"),
                         [(m, c) for m, cols in MONEY.items() for c in cols],
                         ids=lambda v: getattr(v, "__tablename__", v))
def test_money_columns_are_integers(model, column):
    kind = model.__table__.c[column].type
    assert isinstance(kind, (Integer, BigInteger)), f"{model.__tablename__}.{column} is {kind!r}"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_no_column_of_a_billing_table_is_a_float_or_numeric(table):
    from sqlalchemy import Float, Numeric

    for column in db.metadata.tables[table].columns:
        assert not isinstance(column.type, (Float, Numeric)), f"{table}.{column.name}"


def _sources() -> list[Path]:
    files = sorted(p for package in PACKAGES for p in package.glob("*.py"))
    assert files
    return files


def _floats(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"line {node.lineno}: float literal {node.value!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            found.append(f"line {node.lineno}: float(...)")
        elif isinstance(node, ast.Name) and node.id in {"Float", "Numeric", "Decimal"}:
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
            found.append(f"line {node.lineno}: true division /")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_float_in_the_billing_sources(path):
    assert _floats(ast.parse(path.read_text(), str(path))) == []


def test_the_check_finds_a_float():
    tree = ast.parse("a = 1.5\nb = float(x)\nc = x / 2\nd //= 2\n")
    assert len(_floats(tree)) == 3
