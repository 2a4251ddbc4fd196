"""A tiny SMTP server for tests (the standard library's smtpd is gone in 3.12).

It speaks enough SMTP for smtplib: EHLO/HELO, AUTH PLAIN (optional), MAIL FROM, RCPT TO, DATA,
RSET, NOOP, QUIT; it records every message it accepts. It does not offer STARTTLS, so a client
that requires it must refuse to go on.

    with SmtpTestServer() as smtp:               # or SmtpTestServer(credentials=("u", "p"))
        ... send to ("127.0.0.1", smtp.port) ...
        smtp.messages[0].message["Subject"]
"""

from __future__ import annotations

import base64
import socketserver
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    username: str | None = None

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str | None:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else None


@dataclass
class SmtpTestServer:
    credentials: tuple[str, str] | None = None  # when set: AUTH PLAIN offered and required
    rcpt_reply: tuple[int, str] | None = None  # e.g. (550, "no such user"): refuse recipients
    data_reply: tuple[int, str] | None = None  # e.g. (451, "try again later"): refuse messages
    messages: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # the verbs received, in order
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SmtpTestServer:
        owner = self

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = False  # server_close() joins the handlers: no socket left open
            block_on_close = True

        self._server = Server(("127.0.0.1", 0), _Handler)
        self._server.owner = owner  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)


class _Handler(socketserver.StreamRequestHandler):
    timeout = 5

    def reply(self, code: int, text: str) -> None:
        self.wfile.write(f"{code} {text}\r\n".encode())

    def replies(self, code: int, lines: list[str]) -> None:
        for i, line in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            self.wfile.write(f"{code}{sep}{line}\r\n".encode())

    def readline(self) -> str | None:
        raw = self.rfile.readline(65536)
        if not raw:
            return None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self) -> None:
        server: SmtpTestServer = self.server.owner  # type: ignore[attr-defined]
        self.reply(220, "test.local ESMTP ready")
        mail_from: str | None = None
        rcpts: list[str] = []
        user: str | None = None
        while (line := self.readline()) is not None:
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            server.commands.append(verb)
            if verb == "EHLO":
                features = ["test.local", "8BITMIME", "SMTPUTF8"]
                if server.credentials:
                    features.append("AUTH PLAIN")
                self.replies(250, features)
            elif verb == "HELO":
                self.reply(250, "test.local")
            elif verb == "AUTH":
                user = self._auth(server, arg)
            elif verb == "MAIL":
                if server.credentials and user is None:
                    self.reply(530, "5.7.0 Authentication required")
                    continue
                mail_from = _address(arg)
                rcpts = []
                self.reply(250, "OK")
            elif verb == "RCPT":
                if mail_from is None:
                    self.reply(503, "need MAIL first")
                elif server.rcpt_reply:
                    self.reply(*server.rcpt_reply)
                else:
                    rcpts.append(_address(arg))
                    self.reply(250, "OK")
            elif verb == "DATA":
                if not rcpts:
                    self.reply(503, "need RCPT first")
                    continue
                self.reply(354, "end with <CRLF>.<CRLF>")
                data = self._read_data()
                if data is None:
                    return
                if server.data_reply:
                    self.reply(*server.data_reply)
                else:
                    server.record(Received(mail_from or "", rcpts, data, user))
                    self.reply(250, f"OK queued as {len(server.messages)}")
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.reply(250, "OK")
            elif verb == "NOOP":
                self.reply(250, "OK")
            elif verb == "QUIT":
                self.reply(221, "bye")
                return
            else:
                self.reply(502, "command not implemented")

    def _auth(self, server: SmtpTestServer, arg: str) -> str | None:
        mechanism, _, initial = arg.partition(" ")
        if not server.credentials or mechanism.upper() != "PLAIN":
            self.reply(504, "mechanism not supported")
            return None
        if not initial:
            self.reply(334, "")
            initial = self.readline() or ""
        try:
            _, username, password = base64.b64decode(initial).decode("utf-8").split("\0")
        except (ValueError, UnicodeDecodeError):
            self.reply(501, "malformed AUTH PLAIN")
            return None
        if (username, password) != server.credentials:
            self.reply(535, "5.7.8 Authentication credentials invalid")
            return None
        self.reply(235, "2.7.0 Authentication successful")
        return username

    def _read_data(self) -> bytes | None:
        lines: list[bytes] = []
        while True:
            raw = self.rfile.readline(1 << 20)
            if not raw:
                return None
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            if raw.startswith(b".."):
                raw = raw[1:]  # dot-stuffing
            lines.append(raw)


def _address(arg: str) -> str:
    """The address in `FROM:<a@b> SIZE=…` / `TO:<a@b>`."""
    _, _, rest = arg.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1:rest.index(">")] if ">" in rest else rest[1:]
    return rest.split(" ")[0]
