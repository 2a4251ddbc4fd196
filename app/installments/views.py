"""Every installment page (八 分期核銷), registered on one blueprint: importing a page's module
adds its routes."""

from __future__ import annotations

from app.installments import (
    issue_views,  # noqa: F401
    notice_views,  # noqa: F401
    report_views,  # noqa: F401
    return_views,  # noqa: F401
    settings_views,  # noqa: F401
    unissued_views,  # noqa: F401
)
from app.installments.blueprint import bp

__all__ = ["bp"]
