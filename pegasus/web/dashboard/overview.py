"""The overview on a guild's dashboard page: its daily figures as charts.

Charts are inline SVG drawn on the server (no script): each has a title and a description for
screen readers, and the same figures as a table below it. The range is 7, 30 or 90 days, chosen
with links (`?days=`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from aiohttp import web

from pegasus.i18n import N_, _, current_locale, format_number, ngettext
from pegasus.services import stats
from pegasus.services.stats import DayFigures, GuildCharts

__all__ = ["Bar", "Chart", "Overview", "guild_overview"]

WIDTH = 600
HEIGHT = 160
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # 0 or 1: the first or second figure of the chart
    label: str  # e.g. "2026-12-06: 4 messages"


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    description: str
    series: tuple[str, ...]  # the figures' names, as in the legend and the table's header
    bars: tuple[Bar, ...]
    peak: int  # the top of the vertical scale
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (day, figures) newest first

    @property
    def empty(self) -> bool:
        return self.peak == 0


@dataclass(frozen=True, slots=True)
class Overview:
    days: int
    periods: tuple[int, ...]
    charts: tuple[Chart, ...]
    cases_by_type: tuple[tuple[str, int], ...]
    cases_chart: Chart
    median_first_response: str  # "3 min", or "no answered tickets"
    money_supply: int


def _days(request: web.Request) -> int:
    raw = request.query.get("days", "")
    return int(raw) if raw.isdigit() and int(raw) in stats.PERIODS else DEFAULT_DAYS


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return _("no answered tickets in this range")
    if seconds < 90:
        return _("{seconds} s").format(seconds=format_number(seconds, decimals=0))
    if seconds < 90 * 60:
        return _("{minutes} min").format(minutes=format_number(seconds / 60, decimals=0))
    return _("{hours} h").format(hours=format_number(seconds / 3600, decimals=1))


def _in_sentence(name: str) -> str:
    """A figure's name inside a sentence: lower case, except in German (nouns keep theirs)."""
    return name if current_locale() == "de" else name.lower()


def bar_chart(
    key: str,
    title: str,
    days: tuple[DayFigures, ...],
    fields: tuple[tuple[str, str], ...],
) -> Chart:
    """Bars a day for one or two figures (`fields`: (attribute, name)), scaled to the highest.
    The title and names are translated here (they are marked where declared)."""
    title = _(title)
    fields = tuple((attribute, _(name)) for attribute, name in fields)
    values = [[int(getattr(day, attribute)) for attribute, _name in fields] for day in days]
    peak = max((max(row) for row in values), default=0)
    slot = WIDTH / max(len(days), 1)
    width = slot * 0.8 / len(fields)
    bars = []
    for index, (day, row) in enumerate(zip(days, values, strict=True)):
        for series, value in enumerate(row):
            height = 0.0 if peak == 0 else HEIGHT * value / peak
            bars.append(
                Bar(
                    x=round(index * slot + slot * 0.1 + series * width, 2),
                    y=round(HEIGHT - height, 2),
                    width=round(width, 2),
                    height=round(height, 2),
                    series=series,
                    label=f"{day.day.isoformat()}: {value} {_in_sentence(fields[series][1])}",
                )
            )
    names = tuple(name for _attribute, name in fields)
    totals = ", ".join(
        f"{sum(row[i] for row in values)} {_in_sentence(name)}" for i, name in enumerate(names)
    )
    return Chart(
        key=key,
        title=title,
        description=ngettext(
            "Bars a day over {count} day, the highest {peak}. In all: {totals}.",
            "Bars a day over {count} days, the highest {peak}. In all: {totals}.",
            len(days),
        ).format(count=len(days), peak=peak, totals=totals),
        series=names,
        bars=tuple(bars),
        peak=peak,
        rows=tuple(
            (day.day.isoformat(), tuple(str(value) for value in row))
            for day, row in reversed(list(zip(days, values, strict=True)))
        ),
    )


def _cases_chart(cases: tuple[tuple[str, int], ...]) -> Chart:
    peak = max((count for _kind, count in cases), default=0)
    slot = HEIGHT / max(len(cases), 1)
    bars = tuple(
        Bar(
            x=0,
            y=round(index * slot + slot * 0.15, 2),
            width=0.0 if peak == 0 else round(WIDTH * 0.6 * count / peak, 2),
            height=round(slot * 0.7, 2),
            series=0,
            label=f"{kind}: {count}",
        )
        for index, (kind, count) in enumerate(cases)
    )
    return Chart(
        key="cases",
        title=_("Cases by type"),
        description=", ".join(f"{count} {kind}" for kind, count in cases) or _("No cases."),
        series=(_("Cases"),),
        bars=bars,
        peak=peak,
        rows=tuple((kind, (str(count),)) for kind, count in cases),
    )


def charts_of(figures: GuildCharts) -> tuple[Chart, ...]:
    days = figures.days
    return (
        bar_chart(
            "messages",
            N_("Messages and active members"),
            days,
            (("messages", N_("Messages")), ("active_members", N_("Active members"))),
        ),
        bar_chart(
            "members",
            N_("Joins and leaves"),
            days,
            (("joins", N_("Joins")), ("leaves", N_("Leaves"))),
        ),
        bar_chart("xp", N_("XP given"), days, (("xp_given", N_("XP")),)),
        bar_chart(
            "supply",
            N_("Money supply at the end of the day"),
            days,
            (("money_supply", N_("Coins")),),
        ),
        bar_chart(
            "transactions",
            N_("Transactions"),
            days,
            (("transactions", N_("Transactions")),),
        ),
        bar_chart(
            "tickets",
            N_("Tickets opened and closed"),
            days,
            (("tickets_opened", N_("Opened")), ("tickets_closed", N_("Closed"))),
        ),
    )


async def guild_overview(request: web.Request, guild_id: int) -> Overview:
    """The overview of the guild page, for the range the URL asks (30 days if none)."""
    from pegasus.web.app import STATE

    days = _days(request)
    today = request.app[STATE].clock().astimezone(UTC).date()
    figures = await stats.guild_charts(guild_id, days, today)
    return Overview(
        days=days,
        periods=stats.PERIODS,
        charts=charts_of(figures),
        cases_by_type=figures.cases_by_type,
        cases_chart=_cases_chart(figures.cases_by_type),
        median_first_response=_duration(figures.median_first_response_seconds),
        money_supply=figures.days[-1].money_supply if figures.days else 0,
    )
