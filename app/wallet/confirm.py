"""The entry page's check (電子票券核銷登入頁): is this browser the link's holder?

The holder types the last four digits of their mobile, or, when they have no mobile, a 6-digit
code e-mailed to them (an HMAC of the link, its holder and a 10-minute window under SECRET_KEY:
nothing to store). Wrong answers are counted atomically (app.ratelimit.take) per link and
address (5 in 15 minutes), per address across links (30), and per link from anywhere (10): past
a limit the page answers 429 (請稍後再試) without looking at the answer, until its fixed
15-minute window ends. So someone guessing a holder's digits locks out their own address, and
at worst the link for the rest of one window (a bounded lock): the holder's right answer from
their own address gets through again by the next window, however long the guessing goes on. A
right answer clears its (link, address) count.

A confirmed browser gets a signed cookie, HttpOnly, SameSite=Lax, Secure outside debug,
scoped to the link's path (`Path=/t/<token>`) and kept 30 days. Its value names a digest of the
token and of the holder's mobile and e-mail, so it opens no other link and stops opening this
one when the holder changes (a new purchaser, or a new link, asks again). A forwarded link
alone therefore shows no codes.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Request, Response, current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app import clock, ratelimit
from app.credentials import conceal, mask
from app.errors import DomainError, InvalidInput
from app.notifications.services import queue_email
from app.ratelimit import Limit, Rule
from app.wallet import rules
from app.wallet.links import Holding

COOKIE = "ectix_wallet"
REMEMBER_SECONDS = 30 * 24 * 3600
CODE_MAIL = "wallet_code"

TRY_LATER = "輸入錯誤次數過多，請稍後再試"
WRONG_WINDOW = 15 * 60
WRONG_PER_LINK_IP = Limit("wallet-wrong-link-ip", 5, WRONG_WINDOW)
WRONG_PER_IP = Limit("wallet-wrong-ip", 30, WRONG_WINDOW)
WRONG_PER_LINK = Limit("wallet-wrong-link", 10, WRONG_WINDOW)
UNKNOWN_LINK_PER_IP = Rule("wallet-unknown-ip", "30/10 minutes", "無效連結的開啟次數過多，請稍後再試")
CODE_MAILS_PER_LINK = Rule("wallet-code-link", "3/15 minutes", "驗證碼寄送次數過多，請稍後再試")
CODE_MAILS_PER_IP = Rule("wallet-code-ip", "10/hour", "驗證碼寄送次數過多，請稍後再試")

WRONG_DIGITS = "手機末四碼不正確，請再試一次"
WRONG_CODE = "驗證碼不正確或已過期，請再試一次或重新寄送"
NO_EMAIL = "此票券沒有留存 Email，無法寄送驗證碼，請與商店客服聯繫"
NO_CONTACT = "此票券沒有留存手機或 Email，無法確認身分，請與商店客服聯繫"


def method(holding: Holding) -> str:
    """How the holder confirms: "mobile", "email" or "none"."""
    if holding.holder_mobile:
        return "mobile"
    return "email" if holding.holder_email else "none"


def _key() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def _digest(*parts: str) -> str:
    return hmac.new(_key(), "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def _link_digest(holding: Holding) -> str:
    return _digest("wallet-link", holding.token)


def _holder_digest(holding: Holding) -> str:
    return _digest("wallet-holder", holding.subject, holding.holder_mobile,
                   holding.holder_email.casefold())


def _code_subject(holding: Holding) -> str:
    return f"{_link_digest(holding)}|{_holder_digest(holding)}"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="ectix-wallet-confirmed")


def confirmed(holding: Holding, request: Request) -> bool:
    """Whether this browser confirmed this link for its current holder (within 30 days)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return False
    try:
        value = _serializer().loads(raw, max_age=REMEMBER_SECONDS)
    except BadSignature:  # also SignatureExpired
        return False
    if not isinstance(value, dict):
        return False
    link, holder = str(value.get("l", "")), str(value.get("h", ""))
    return (hmac.compare_digest(link.encode(), _link_digest(holding).encode())
            & hmac.compare_digest(holder.encode(), _holder_digest(holding).encode()))


def remember(response: Response, holding: Holding) -> None:
    # Secure unless debug (ECTIX_SECURE_COOKIES overrides), as the session cookie
    secure = bool(current_app.config.get("SESSION_COOKIE_SECURE", True))
    response.set_cookie(
        COOKIE, _serializer().dumps({"l": _link_digest(holding), "h": _holder_digest(holding)}),
        max_age=REMEMBER_SECONDS, path=f"/t/{holding.token}", secure=secure, httponly=True,
        samesite="Lax")


def check_answer(holding: Holding, answer: str, ip: str) -> None:
    """Accept the holder's answer (mobile's last four, or the e-mailed code) or raise:
    InvalidInput (wrong, counted), TooManyAttempts (429, over the limit)."""
    how = method(holding)
    if how == "none":
        raise DomainError(NO_CONTACT, code="no_contact")
    counters = answer_counters(holding, ip)
    if ratelimit.take_each(counters) is not None:
        raise ratelimit.TooManyAttempts(TRY_LATER)
    if how == "mobile":
        ok = rules.last_four_matches(holding.holder_mobile, answer)
        wrong = WRONG_DIGITS
    else:
        ok = rules.code_matches(_key(), _code_subject(holding), answer, clock.now())
        wrong = WRONG_CODE
    if not ok:
        raise InvalidInput(wrong, fields={"answer": wrong})
    ratelimit.succeeded(counters)


def answer_counters(holding: Holding, ip: str) -> ratelimit.Counters:
    """The counters an answer takes, most specific first."""
    return [(WRONG_PER_LINK_IP, (holding.subject, ip)), (WRONG_PER_IP, (ip,)),
            (WRONG_PER_LINK, (holding.subject,))]


def send_code(holding: Holding, ip: str) -> str:
    """Queue the e-mail with the current code (sent after the commit); the masked address."""
    if method(holding) != "email":
        raise DomainError(NO_EMAIL, code="no_email")
    ratelimit.check(CODE_MAILS_PER_LINK, holding.subject)
    ratelimit.check(CODE_MAILS_PER_IP, ip)
    ratelimit.count_failure(CODE_MAILS_PER_LINK, holding.subject)  # every mail counts
    ratelimit.count_failure(CODE_MAILS_PER_IP, ip)
    code = rules.emailed_code(_key(), _code_subject(holding), rules.code_window(clock.now()))
    store = holding.store
    minutes = rules.CODE_WINDOW_SECONDS // 60
    queue_email(store.id, holding.holder_email, f"【{store.name}】電子票券驗證碼",
                f"{holding.holder_name} 您好：\n\n您的電子票券驗證碼為：{conceal(code, mask(code, 0))}\n"
                f"請於 {minutes} 分鐘內在票券頁面輸入此驗證碼。若您沒有開啟票券連結，請忽略此信。\n\n"
                "此信件由系統自動發送，請勿直接回覆。",
                kind=CODE_MAIL, order_id=holding.order.id)
    return rules.mask_email(holding.holder_email)
