"""Declared settings as Discord shows them: values with channel and role mentions."""

from __future__ import annotations

from typing import Any

from pegasus.i18n import _
from pegasus.services.settings import Kind, Setting

__all__ = ["render_value"]


def render_value(setting: Setting, value: Any) -> str:
    """`value` of `setting` for a Discord message: channels and roles as mentions."""
    if value is None:
        return setting.show(value)
    if setting.kind is Kind.CHANNEL:
        return f"<#{value}>"
    if setting.kind is Kind.ROLE:
        return f"<@&{value}>"
    if setting.kind is Kind.IDS:
        return ", ".join(str(item) for item in value) or _("none")
    return setting.show(value)
