"""A small escrow bank (價金保管銀行) to talk to: a separate WSGI app for tests and the demo.

It speaks the protocol of `app.escrow.bank.HttpEscrowBank`:

- `POST /entries` {"entries": [{key, kind, ticket_serial, merchant_code, amount, fee}, ...]}
  → {"answers": [{key, accepted, bank_ref, reason}, ...]}. A key it has seen before is the same
  entry: it is answered exactly as the first time and moves no money again.
- `GET /entries` → what it holds: every entry by key, its answer and how often it was received.
- `POST /control` {"fail": bool, "reject_serials": [...], "require_deposit": bool,
  "reset": bool} → the control state. `fail` answers 503 to every submission (the bank is
  down); a serial in `reject_serials` is rejected; `require_deposit` rejects a release or a
  refund whose deposit the bank does not hold; `reset` forgets every entry.

Like a real bank it also refuses to move a ticket's money twice under different keys (a second
deposit, or a second release/refund), and rejects malformed amounts.

Plain Werkzeug, nothing from the ectix app: `make_simulator(state_path)` builds one (entries
kept in memory, and in a JSON file when a path is given); `python -m app.escrow.simulator
--port 5055 [--state instance/bank.json]` serves one (point ESCROW_BANK_URL at it). For a
process without a separate bank, `app.escrow.bank.use_bank(app, InProcessBank(simulator))`
talks to one in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from app.escrow.bank import BankUnavailable, parse_answers

KINDS = ("deposit", "release", "refund")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


class BankSimulator:
    """The WSGI app. Thread-safe: one lock around its state."""

    url_map = Map([
        Rule("/", endpoint="health", methods=["GET"]),
        Rule("/entries", endpoint="entries", methods=["GET", "POST"]),
        Rule("/control", endpoint="control", methods=["GET", "POST"]),
    ])

    def __init__(self, state_path: str | os.PathLike[str] | None = None, key: str | None = None) -> None:
        self.state_path = Path(state_path) if state_path else None
        self.key = key or ""
        self.lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}  # key → {"entry", "answer", "received"}
        self.received: list[str] = []  # every key received, in order (repeats included)
        self.fail = False
        self.reject_serials: set[str] = set()
        self.require_deposit = False
        self.seq = 0
        self._load()

    # State ---------------------------------------------------------------------------------

    def _load(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            return
        data = json.loads(self.state_path.read_text(encoding="utf-8"))
        self.entries = data.get("entries", {})
        self.received = data.get("received", [])
        self.seq = int(data.get("seq", 0))
        control = data.get("control", {})
        self.fail = bool(control.get("fail", False))
        self.reject_serials = set(control.get("reject_serials", []))
        self.require_deposit = bool(control.get("require_deposit", False))

    def _save(self) -> None:
        if self.state_path is None:
            return
        data = {"entries": self.entries, "received": self.received, "seq": self.seq,
                "control": self.control_state()}
        tmp = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def control_state(self) -> dict[str, Any]:
        return {"fail": self.fail, "reject_serials": sorted(self.reject_serials),
                "require_deposit": self.require_deposit}

    def received_count(self, key: str) -> int:
        with self.lock:
            return self.received.count(key)

    def accepted(self, serial: str, kind: str) -> list[dict[str, Any]]:
        """The accepted entries of one kind for one ticket (money the bank moved)."""
        with self.lock:
            return [r["entry"] for r in self.entries.values()
                    if r["answer"]["accepted"] and r["entry"]["ticket_serial"] == serial
                    and r["entry"]["kind"] == kind]

    # Deciding ------------------------------------------------------------------------------

    def _moved(self, merchant_code: str, serial: str, kinds: tuple[str, ...]) -> bool:
        return any(r["answer"]["accepted"] and r["entry"]["kind"] in kinds
                   and r["entry"]["ticket_serial"] == serial
                   and r["entry"]["merchant_code"] == merchant_code
                   for r in self.entries.values())

    def _refusal(self, entry: dict[str, Any]) -> str:
        kind, amount, fee = entry.get("kind"), entry.get("amount"), entry.get("fee", 0)
        serial, merchant = str(entry.get("ticket_serial") or ""), str(entry.get("merchant_code") or "")
        if kind not in KINDS:
            return "不明的交易類別"
        if not serial or not merchant:
            return "缺少票券序號或商店代號"
        if type(amount) is not int or type(fee) is not int or amount < 0 or fee < 0:
            return "金額格式錯誤"
        if kind != "refund" and (amount == 0 or fee != 0):
            return "金額須大於 0"
        if kind == "refund" and amount + fee == 0:
            return "退款與手續費合計須大於 0"
        if serial in self.reject_serials:
            return f"銀行拒絕此票券（{serial}）"
        if kind == "deposit":
            if self._moved(merchant, serial, ("deposit",)):
                return "此票券的價金已存入（重複存入）"
            return ""
        if self.require_deposit and not self._moved(merchant, serial, ("deposit",)):
            return "查無此票券的價金存入紀錄"
        if self._moved(merchant, serial, ("release", "refund")):
            return "此票券的價金已撥付或退款（重複交易）"
        return ""

    def _answer(self, entry: dict[str, Any]) -> dict[str, Any]:
        key = str(entry.get("key") or "")
        self.received.append(key)
        if key in self.entries:  # the same entry again: the first answer, no money moved
            self.entries[key]["received"] += 1
            return self.entries[key]["answer"]
        reason = self._refusal(entry)
        if reason:
            answer = {"key": key, "accepted": False, "bank_ref": "", "reason": reason}
        else:
            self.seq += 1
            answer = {"key": key, "accepted": True, "bank_ref": f"ESB{self.seq:08d}", "reason": ""}
        if key:
            self.entries[key] = {"entry": entry, "answer": answer, "received": 1,
                                 "at": datetime.now(UTC).isoformat()}
        return answer

    # Routes --------------------------------------------------------------------------------

    def on_health(self, request: Request) -> Response:
        return _json({"ok": True})

    def on_entries(self, request: Request) -> Response:
        if request.method == "GET":
            serial = request.args.get("serial")
            with self.lock:
                rows = [{"key": k, **v} for k, v in self.entries.items()
                        if serial is None or v["entry"].get("ticket_serial") == serial]
            return _json({"entries": rows})
        if self.key and request.headers.get("Authorization") != f"Bearer {self.key}":
            return _json({"error": "unauthorised"}, 401)
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list) \
                or not all(isinstance(e, dict) for e in data["entries"]):
            return _json({"error": "expected {\"entries\": [...]}"}, 400)
        with self.lock:
            if self.fail:
                return _json({"error": "service unavailable"}, 503)
            answers = [self._answer(entry) for entry in data["entries"]]
            self._save()
        return _json({"answers": answers})

    def on_control(self, request: Request) -> Response:
        if request.method == "POST":
            data = request.get_json(silent=True) or {}
            if not isinstance(data, dict):
                return _json({"error": "expected an object"}, 400)
            with self.lock:
                if data.get("reset"):
                    self.entries, self.received, self.seq = {}, [], 0
                if "fail" in data:
                    self.fail = bool(data["fail"])
                if "reject_serials" in data:
                    self.reject_serials = {str(s) for s in data["reject_serials"] or []}
                if "require_deposit" in data:
                    self.require_deposit = bool(data["require_deposit"])
                self._save()
        with self.lock:
            return _json(self.control_state())

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, _ = adapter.match()
            response = getattr(self, f"on_{endpoint}")(request)
        except (NotFound, MethodNotAllowed) as exc:
            response = _json({"error": exc.name}, exc.code or 404)
        except HTTPException as exc:  # e.g. a body too large to read
            response = _json({"error": exc.name}, exc.code or 400)
        return response(environ, start_response)


def make_simulator(state_path: str | os.PathLike[str] | None = None,
                   key: str | None = None) -> BankSimulator:
    """A simulated bank; its entries are kept in `state_path` (JSON) when given."""
    return BankSimulator(state_path, key)


class InProcessBank:
    """An `EscrowBank` that talks to a simulator in this process (no socket), through the same
    JSON protocol: for a demo that runs without a separate bank process."""

    def __init__(self, simulator: BankSimulator) -> None:
        self.simulator = simulator
        self.client = Client(simulator)

    def submit(self, entries: list[Any]) -> list[Any]:
        headers = {"Authorization": f"Bearer {self.simulator.key}"} if self.simulator.key else {}
        response = self.client.post("/entries", json={"entries": [asdict(e) for e in entries]},
                                    headers=headers)
        if response.status_code // 100 != 2:
            raise BankUnavailable(f"銀行回應 HTTP {response.status_code}")
        return parse_answers(response.get_data())


def main(argv: list[str] | None = None) -> None:
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="ectix 價金保管銀行模擬器")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--state", default=None, help="JSON file keeping the entries across restarts")
    parser.add_argument("--key", default=os.environ.get("ESCROW_BANK_KEY", ""),
                        help="bearer key required on submissions (default: $ESCROW_BANK_KEY)")
    args = parser.parse_args(argv)
    run_simple(args.host, args.port, make_simulator(args.state, args.key or None), threaded=True)


if __name__ == "__main__":
    main()
