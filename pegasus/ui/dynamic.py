"""A base for persistent buttons whose errors and checks behave like slash commands'.

discord.py only logs exceptions raised by a DynamicItem's callback, so the member would see
"This interaction failed". Subclasses of `PegasusButton` and `PegasusSelect` get the tree's
interaction checks (blacklist and the like) and the tree's error reporting around `callback`.
"""

from __future__ import annotations

import functools
from typing import Any

import discord

from pegasus.tree import passes_interaction_checks, report_interaction_error


def _guard(callback: Any) -> Any:
    @functools.wraps(callback)
    async def guarded(self: Any, interaction: discord.Interaction) -> None:
        if not await passes_interaction_checks(interaction):
            return
        try:
            await callback(self, interaction)
        except Exception as error:
            await report_interaction_error(interaction, error)

    guarded.__pegasus_guarded__ = True  # type: ignore[attr-defined]
    return guarded


def _guard_subclass(cls: type) -> None:
    callback = cls.__dict__.get("callback")
    if callback is not None and not getattr(callback, "__pegasus_guarded__", False):
        cls.callback = _guard(callback)  # type: ignore[attr-defined]


class PegasusButton(discord.ui.DynamicItem[discord.ui.Button], template=r"pegasus:base:(?P<x>.+)"):
    """Subclass with `template=r"pegasus:<feature>:<action>:(?P<id>...)"` and define callback."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _guard_subclass(cls)


class PegasusSelect(
    discord.ui.DynamicItem[discord.ui.Select], template=r"pegasus:base-select:(?P<x>.+)"
):
    """`PegasusButton` for a select menu: the same checks and error reporting around callback."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _guard_subclass(cls)
