"""Link tokens never reach the logs: werkzeug's request lines (read from a real server's log
output), gunicorn's access lines and the app's own error lines are masked."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server

from app.wallet.logredact import RedactSecrets, redact


@pytest.mark.parametrize(("line", "masked"), [
    ('"GET /t/AbC-_123xyz HTTP/1.1" 200 -', '"GET /t/*** HTTP/1.1" 200 -'),
    ('"POST /t/AbC-_123xyz/confirm HTTP/1.1" 303 -', '"POST /t/***/confirm HTTP/1.1" 303 -'),
    ('"GET /t/AbC?x=1 HTTP/1.1"', '"GET /t/***?x=1 HTTP/1.1"'),
    ('"GET /cvs/123456789012 HTTP/1.1" 200', '"GET /cvs/*** HTTP/1.1" 200'),
    ("Exception on /t/secret-token [GET]", "Exception on /t/*** [GET]"),
    ('"GET /tickets/5 HTTP/1.1" 200', '"GET /tickets/5 HTTP/1.1" 200'),  # other paths untouched
    ('"GET /static/t/x.css HTTP/1.1"', '"GET /static/t/*** HTTP/1.1"'),  # over-masking is harmless
])
def test_redact(line, masked):
    assert redact(line) == masked


def test_werkzeug_request_lines_hide_the_token(app, caplog):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = "SeCrEtToKeN_0123456789-abcdefgh"
    logger = logging.getLogger("werkzeug")
    level = logger.level
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in (f"/t/{token}", f"/t/{token}/confirm", f"/cvs/{token}"):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}", timeout=10)
                except urllib.error.HTTPError as err:  # 404: unknown link, and no such page
                    err.close()
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
        logger.setLevel(level)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len(lines) == 3, lines
    assert all(token not in line for line in lines) and token not in caplog.text
    assert '"GET /t/*** HTTP/1.1" 404' in caplog.text
    assert '"GET /t/***/confirm HTTP/1.1" 405' in caplog.text
    assert '"GET /cvs/*** HTTP/1.1" 404' in caplog.text


def test_gunicorn_access_lines_hide_the_token(app, caplog):
    atoms = {"h": "203.0.113.9", "r": "GET /t/SeCrEt_ToKeN_0123456789abcd HTTP/1.1", "s": "200"}
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        logging.getLogger("gunicorn.access").info('%(h)s "%(r)s" %(s)s', atoms)  # as gunicorn logs
    assert caplog.records[-1].getMessage() == '203.0.113.9 "GET /t/*** HTTP/1.1" 200'


def test_the_apps_error_lines_hide_the_token(app, caplog):
    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        app.logger.error("Exception on %s [%s]", "/t/SeCrEt_ToKeN_0123456789abcd", "POST")
    assert "SeCrEt" not in caplog.text and "Exception on /t/*** [POST]" in caplog.text


def test_installing_twice_adds_one_filter(app):
    from app.wallet.logredact import install

    install(app)
    werkzeug = logging.getLogger("werkzeug")
    assert sum(isinstance(f, RedactSecrets) for f in werkzeug.filters) == 1


def test_a_traceback_under_a_wallet_line_hides_the_token_too(app, caplog):
    token = "SeCrEt_ToKeN_0123456789abcd"
    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        try:
            raise RuntimeError(f"[parameters: ('{token}',)]")
        except RuntimeError:
            app.logger.exception("Exception on /t/%s [GET]", token)
    assert "RuntimeError" in caplog.text and "[parameters: ('***',)]" in caplog.text
    assert token not in caplog.text
