"""Slash command options read with the one grammar of each kind of input.

Each converter is a thin `app_commands.Transformer` over the service-side parser of its kind
(the REST API uses the same parsers), so a colour, a link, a duration, an amount or a Discord id
reads the same in every command. A refusal is the parser's sentence, shown like any other
refusal before the command runs. Use them as annotations:

    color: Colour | None = None                 # an int 0xRRGGBB
    image: HttpsLink                            # a trimmed https:// link
    duration: Duration                          # seconds, 1 s to 10 years
    cooldown: app_commands.Transform[int, DurationConverter(minimum=5, maximum=3600)]
    bet: Amount                                 # an int, or economy.ALL
    role_id: Snowflake                          # an int in Discord's id range
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from pegasus.i18n import N_
from pegasus.services import economy
from pegasus.services.colours import parse_colour
from pegasus.services.durations import MAX_SECONDS, parse_duration
from pegasus.services.ids import parse_snowflake
from pegasus.services.links import MAX_LINK_LENGTH, parse_https_link

__all__ = [
    "Amount",
    "AmountConverter",
    "Colour",
    "ColourConverter",
    "Duration",
    "DurationConverter",
    "HttpsLink",
    "HttpsLinkConverter",
    "Snowflake",
    "SnowflakeConverter",
]


class _TextConverter(app_commands.Transformer):  # type: ignore[type-arg]
    """A string option read by a parser; its refusals are ValidationErrors."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string


class ColourConverter(_TextConverter):
    """#5865F2, 5865F2, #fff or a name such as blue → 0xRRGGBB."""

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> int:
        return parse_colour(str(value))


class HttpsLinkConverter(_TextConverter):
    """A full https:// link, trimmed."""

    def __init__(self, *, what: str = N_("link"), max_length: int = MAX_LINK_LENGTH) -> None:
        self.what = what
        self.max_length = max_length

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> str:
        return parse_https_link(str(value), what=self.what, max_length=self.max_length)


class DurationConverter(_TextConverter):
    """30s, 10m, 2h, 7d, 1w or combinations such as 1h30m → seconds, within bounds."""

    def __init__(self, *, minimum: int = 1, maximum: int = MAX_SECONDS) -> None:
        self.minimum = minimum
        self.maximum = maximum

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> int:
        return parse_duration(str(value), minimum=self.minimum, maximum=self.maximum)


class AmountConverter(_TextConverter):
    """250, 1,000, 2.5k, 3m, and `all` where `allow_all` → an amount of the economy."""

    def __init__(self, *, allow_all: bool = True) -> None:
        self.allow_all = allow_all

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> economy.Amount:
        return economy.parse_amount(str(value), allow_all=self.allow_all)


class SnowflakeConverter(_TextConverter):
    """A Discord id typed as digits → an int in Discord's id range."""

    def __init__(self, *, what: str = N_("a Discord id")) -> None:
        self.what = what

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> int:
        return parse_snowflake(str(value), what=self.what)


Colour = app_commands.Transform[int, ColourConverter]
HttpsLink = app_commands.Transform[str, HttpsLinkConverter]
Duration = app_commands.Transform[int, DurationConverter]
Amount = app_commands.Transform[economy.Amount, AmountConverter]
Snowflake = app_commands.Transform[int, SnowflakeConverter]
