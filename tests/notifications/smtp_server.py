"""A tiny SMTP server for tests (the standard library's smtpd is gone in 3.12), acting as the
relay a real deployment hands its mail to, with a POP3 face for its local mailboxes.

It speaks enough SMTP for smtplib: EHLO/HELO, AUTH PLAIN (optional), MAIL FROM, RCPT TO, DATA,
RSET, NOOP, QUIT; it records every message it accepts. It does not offer STARTTLS, so a client
that requires it must refuse to go on. It offers DSN (RFC 3461) unless told not to.

    with SmtpTestServer() as smtp:               # or SmtpTestServer(credentials=("u", "p"))
        ... send to ("127.0.0.1", smtp.port) ...
        smtp.messages[0].message["Subject"]

Like a relay, it accepts a message for a recipient it cannot deliver to and then sends a
delivery status notification (RFC 3464) to the envelope sender; and when asked (NOTIFY=SUCCESS)
reports a delivery too. Mail for one of its `local_mailboxes` (the platform's bounce address)
stays here, and its POP3 server (`pop3_port`, USER <address> / PASS from `mailbox_passwords`)
serves it, deleting at QUIT what the client deleted:

    smtp = SmtpTestServer(local_mailboxes={"bounces@ectix.test"},
                          mailbox_passwords={"bounces@ectix.test": "pw"},
                          undeliverable={"nobody@example.com": ("5.1.1", "550 5.1.1 User unknown")})
"""

from __future__ import annotations

import base64
import socketserver
import threading
import uuid
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid

from app import clock


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
    dsn: bool = True  # offer the DSN extension (NOTIFY=, RET=)
    undeliverable: dict[str, tuple[str, str]] = field(default_factory=dict)  # rcpt → (5.1.1, why)
    local_mailboxes: set[str] = field(default_factory=set)  # addresses whose mail stays here
    mailbox_passwords: dict[str, str] = field(default_factory=dict)  # POP3 login per mailbox
    messages: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # the verbs received, in order
    mailboxes: dict[str, list[bytes]] = field(default_factory=dict)  # what POP3 serves
    reports: list[bytes] = field(default_factory=list)  # every DSN it wrote, delivered or not
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SmtpTestServer:
        owner = self

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = False  # server_close() joins the handlers: no socket left open
            block_on_close = True

        self._server = Server(("127.0.0.1", 0), _Handler)
        self._server.owner = owner  # type: ignore[attr-defined]
        self._pop3 = Server(("127.0.0.1", 0), _Pop3Handler)
        self._pop3.owner = owner  # type: ignore[attr-defined]
        self._threads = [threading.Thread(target=server.serve_forever,
                                          kwargs={"poll_interval": 0.05}, daemon=True)
                         for server in (self._server, self._pop3)]
        for thread in self._threads:
            thread.start()
        return self

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def pop3_port(self) -> int:
        return self._pop3.server_address[1]

    def stop(self) -> None:
        for server in (self._server, self._pop3):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)

    def deliver_local(self, address: str, data: bytes) -> None:
        with self._lock:
            self.mailboxes.setdefault(address.lower(), []).append(data)

    def mailbox(self, address: str) -> list[bytes]:
        with self._lock:
            return list(self.mailboxes.get(address.lower(), []))

    def report(self, sender: str, recipient: str, original: bytes, *, action: str,
               status: str, diagnostic: str = "", headers_only: bool = True) -> None:
        """Write a DSN about `recipient` to the envelope `sender`, as a relay does: into the
        sender's mailbox when it is one of ours (a DSN to the null sender `<>` is never sent)."""
        if not sender:
            return
        dsn = delivery_status_notification(sender, recipient, original, action=action,
                                           status=status, diagnostic=diagnostic,
                                           headers_only=headers_only)
        with self._lock:
            self.reports.append(dsn)
        if sender.lower() in self.local_mailboxes:
            self.deliver_local(sender, dsn)

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
        notify: dict[str, list[str]] = {}  # NOTIFY= of each recipient
        ret = "FULL"  # RET= of the message
        user: str | None = None
        while (line := self.readline()) is not None:
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            server.commands.append(verb)
            if verb == "EHLO":
                features = ["test.local", "8BITMIME", "SMTPUTF8"] + (["DSN"] if server.dsn else [])
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
                ret = _parameters(arg).get("RET", "FULL")
                rcpts, notify = [], {}
                self.reply(250, "OK")
            elif verb == "RCPT":
                if mail_from is None:
                    self.reply(503, "need MAIL first")
                elif server.rcpt_reply:
                    self.reply(*server.rcpt_reply)
                else:
                    rcpts.append(_address(arg))
                    notify[rcpts[-1]] = _parameters(arg).get("NOTIFY", "FAILURE").split(",")
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
                    self._deliver(server, mail_from or "", rcpts, notify, data, ret)
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

    def _deliver(self, server: SmtpTestServer, sender: str, rcpts: list[str],
                 notify: dict[str, list[str]], data: bytes, ret: str) -> None:
        """After the 250: deliver each recipient's copy, or report that it could not be."""
        for rcpt in rcpts:
            wanted = {n.upper() for n in notify.get(rcpt, ["FAILURE"])}
            if rcpt.lower() in server.local_mailboxes:
                server.deliver_local(rcpt, data)
                if "SUCCESS" in wanted:
                    server.report(sender, rcpt, data, action="delivered", status="2.0.0",
                                  headers_only=ret.upper() == "HDRS")
            elif rcpt.lower() in server.undeliverable:
                status, why = server.undeliverable[rcpt.lower()]
                if "FAILURE" in wanted:
                    server.report(sender, rcpt, data, action="failed", status=status,
                                  diagnostic=why, headers_only=ret.upper() == "HDRS")
            elif "SUCCESS" in wanted:
                server.report(sender, rcpt, data, action="delivered", status="2.0.0",
                              headers_only=ret.upper() == "HDRS")

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


def _parameters(arg: str) -> dict[str, str]:
    """The ESMTP parameters after the address: `TO:<a@b> NOTIFY=FAILURE` → {"NOTIFY": "FAILURE"}."""
    rest = arg[arg.index(">") + 1:] if ">" in arg else ""
    found = {}
    for word in rest.split():
        key, _, value = word.partition("=")
        found[key.upper()] = value
    return found


def delivery_status_notification(sender: str, recipient: str, original: bytes, *, action: str,
                                 status: str, diagnostic: str = "",
                                 headers_only: bool = True) -> bytes:
    """An RFC 3464 report as a relay writes it: a note for people, the machine-readable
    message/delivery-status, and the original's headers (RET=HDRS) or the whole of it."""
    boundary = f"dsn-{uuid.uuid4().hex}"
    date = format_datetime(clock.now())
    head, _, _ = original.replace(b"\r\n", b"\n").partition(b"\n\n")
    returned = (head if headers_only else original.replace(b"\r\n", b"\n")).decode("utf-8", "replace")
    subject = ("Undelivered Mail Returned to Sender" if action == "failed"
               else "Successful Mail Delivery Report")
    lines = [
        "From: Mail Delivery System <MAILER-DAEMON@test.local>",
        f"To: <{sender}>",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: {make_msgid(domain='test.local')}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"This is the mail system at host test.local. Your message to <{recipient}> "
        + ("could not be delivered." if action == "failed" else "was delivered."),
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; test.local",
        f"Arrival-Date: {date}",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        f"Original-Recipient: rfc822;{recipient}",
        f"Action: {action}",
        f"Status: {status}",
        *([f"Diagnostic-Code: smtp; {diagnostic}"] if diagnostic else []),
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers" if headers_only else "Content-Type: message/rfc822",
        "",
        returned.rstrip("\n"),
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")


class _Pop3Handler(socketserver.StreamRequestHandler):
    """POP3 (RFC 1939) over one of the server's local mailboxes: USER/PASS, STAT, LIST, UIDL,
    RETR, TOP, DELE, RSET, NOOP, QUIT; deletions happen at QUIT only."""

    timeout = 5

    def say(self, line: str) -> None:
        self.wfile.write(line.encode("utf-8") + b"\r\n")

    def handle(self) -> None:
        server: SmtpTestServer = self.server.owner  # type: ignore[attr-defined]
        self.say("+OK test.local POP3 ready")
        user: str | None = None
        box: list[bytes] | None = None  # the messages as the session found them
        deleted: set[int] = set()
        while raw := self.rfile.readline(4096):
            verb, _, arg = raw.decode("utf-8", "replace").strip().partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                if box is not None and deleted:
                    gone = [box[n - 1] for n in deleted]
                    with server._lock:
                        kept = server.mailboxes.get(user or "", [])
                        server.mailboxes[user or ""] = [m for m in kept
                                                        if not any(m is g for g in gone)]
                self.say("+OK bye")
                return
            if box is None:
                if verb == "USER":
                    user = arg.strip().lower()
                    self.say("+OK")
                elif verb == "PASS" and user is not None:
                    if server.mailbox_passwords.get(user) != arg:
                        self.say("-ERR [AUTH] invalid login")
                        user = None
                    else:
                        box = server.mailbox(user)
                        self.say(f"+OK {len(box)} messages")
                else:
                    self.say("-ERR log in first")
                continue
            number = int(arg.split()[0]) if arg.split() and arg.split()[0].isdigit() else 0
            present = 1 <= number <= len(box) and number not in deleted
            if verb == "STAT":
                live = [m for n, m in enumerate(box, 1) if n not in deleted]
                self.say(f"+OK {len(live)} {sum(len(m) for m in live)}")
            elif verb in ("LIST", "UIDL") and arg:
                if not present:
                    self.say("-ERR no such message")
                else:
                    value = len(box[number - 1]) if verb == "LIST" else f"uid{number}"
                    self.say(f"+OK {number} {value}")
            elif verb in ("LIST", "UIDL"):
                self.say("+OK")
                for n, m in enumerate(box, 1):
                    if n not in deleted:
                        self.say(f"{n} {len(m) if verb == 'LIST' else f'uid{n}'}")
                self.say(".")
            elif verb in ("RETR", "TOP"):
                if not present:
                    self.say("-ERR no such message")
                    continue
                text = box[number - 1].replace(b"\r\n", b"\n")
                lines = (text[:-1] if text.endswith(b"\n") else text).split(b"\n")
                if verb == "TOP":
                    parts = arg.split()
                    keep = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                    blank = lines.index(b"") if b"" in lines else len(lines)
                    lines = lines[:blank + 1 + keep]
                self.say(f"+OK {len(box[number - 1])} octets")
                for line in lines:
                    self.wfile.write((b"." + line if line.startswith(b".") else line) + b"\r\n")
                self.say(".")
            elif verb == "DELE":
                if not present:
                    self.say("-ERR no such message")
                else:
                    deleted.add(number)
                    self.say("+OK deleted")
            elif verb == "RSET":
                deleted.clear()
                self.say("+OK")
            elif verb == "NOOP":
                self.say("+OK")
            else:
                self.say("-ERR unknown command")
