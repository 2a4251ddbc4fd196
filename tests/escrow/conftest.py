"""The bank simulator on loopback (a thread), and an app configured to talk to it."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from app.escrow.simulator import BankSimulator, make_simulator

BANK_KEY = "test-bank-key-123"


@dataclass
class Simulated:
    sim: BankSimulator
    url: str

    def control(self, **settings: object) -> dict:
        request = urllib.request.Request(
            f"{self.url}/control", data=json.dumps(settings).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def entries(self, serial: str | None = None) -> list[dict]:
        query = f"?serial={serial}" if serial else ""
        with urllib.request.urlopen(f"{self.url}/entries{query}", timeout=5) as response:
            return json.loads(response.read())["entries"]


@pytest.fixture
def simulator(tmp_path) -> Iterator[Simulated]:  # noqa: ANN001
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sim = make_simulator(tmp_path / "bank.json", key=BANK_KEY)
    server = make_server("127.0.0.1", 0, sim, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        handle = Simulated(sim, f"http://127.0.0.1:{server.server_port}")
        handle.control(require_deposit=True)  # the bank must hold a deposit before moving it
        yield handle
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
def bank(app, simulator) -> Simulated:  # noqa: ANN001
    app.config.update(ESCROW_BANK_URL=simulator.url, ESCROW_BANK_KEY=BANK_KEY,
                      ESCROW_BANK_TIMEOUT=5)
    return simulator
