"""Starting a login session, shared by the password step and the two-factor step: a new cookie
(session id, start, last request), the browser remembered as a device of the account, and the
"login from a new device" notice (3-5) when this browser never logged in to it before. The
callers (views) commit; the notice leaves through the outbox after that."""

from __future__ import annotations

from flask import Response, redirect, session
from flask_login import login_user

from app import clock
from app.auth import devices, services
from app.auth.login_notices import notify_new_device_login
from app.auth.models import Account


def begin_session(account: Account, *, started: int | None = None,
                  store_id: int | None = None) -> None:
    """A new login session: the old cookie's content is dropped and a new one issued (a new
    CSRF token too), stamped with its start (kept on a store switch, with its id) and its last
    request."""
    session_id = session.get(services.SESSION_ID) if started is not None else None
    session.clear()
    login_user(account)
    now = int(clock.now().timestamp())
    session[services.SESSION_ID] = session_id or services.new_session_id()
    session[services.STARTED] = started if started is not None else now
    session[services.SEEN] = now
    if store_id is not None:
        session["store_id"] = store_id
    session.permanent = True


def complete_login(account: Account, target: str, *, device: devices.Device | None, ip: str,
                   user_agent: str) -> Response:
    """Every factor checked: sign `account` in here and send the browser on to `target`."""
    if device is None or not device.knows(account.id):
        notify_new_device_login(account, ip, user_agent)
    begin_session(account)
    response = redirect(target)
    devices.remember(response, device, account.id)
    return response
