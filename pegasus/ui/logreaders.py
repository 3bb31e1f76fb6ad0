"""The audit and security logs read in Discord (`/audit`, `/security log`), and how log entries
and stored values look in the server log.

Both logs are read through `pegasus.services.log_readers`, the reader the REST API uses. The page
buttons are DynamicItems whose custom id carries the page and the filters, so they work after a
restart; they answer only members who may read the logs (Manage Server), like the commands.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.utils import escape_markdown

from pegasus.errors import PermissionDenied, ValidationError
from pegasus.i18n import _, format_number, ngettext
from pegasus.services.audit import Severity
from pegasus.services.log_readers import (
    AuditEntry,
    AuditFilter,
    SecurityEvent,
    SecurityFilter,
    read_audit_page,
    read_security_page,
    recorded_security_actions,
)
from pegasus.ui.dynamic import PegasusButton
from pegasus.ui.format import BLURPLE, DESCRIPTION_LIMIT, RED, clip, timestamp
from pegasus.ui.pager import page_button, page_buttons

__all__ = [
    "DYNAMIC_ITEMS",
    "MAX_FILTER_LENGTH",
    "AuditPageButton",
    "SecurityPageButton",
    "audit_line",
    "clean_filter",
    "describe_value",
    "log_embed",
    "member_line",
    "security_action_choices",
    "security_line",
    "show_audit",
    "show_security_log",
]

AUDIT_PER_PAGE = 5
SECURITY_PER_PAGE = 8
MAX_FILTER_LENGTH = 40  # the filters travel in the buttons' custom ids (at most 100 characters)
NONE = "-"
NAME = r"[a-z0-9_.*]{1,40}"


def clean_filter(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    cleaned = text.strip().lower()
    if not re.fullmatch(NAME, cleaned):
        raise ValidationError(
            _(
                "Filter by a name such as `economy` or `moderation.ban` (letters, digits, `_`, "
                "`.`, and `.*` for a family)."
            )
        )
    return cleaned


def require_log_reader(interaction: discord.Interaction) -> None:
    """The logs are staff's: Manage Server, checked when the command or button runs."""
    permissions = interaction.permissions
    if not (permissions.manage_guild or permissions.administrator):
        raise PermissionDenied(_("Reading the logs needs the Manage Server permission."))


# -- the audit log ---------------------------------------------------------------------------


class AuditPageButton(
    PegasusButton,
    template=rf"pegasus:audit:page:(?P<page>[0-9]{{1,6}}):(?P<member>[0-9]{{1,20}}):(?P<feature>{NAME}|-)",
):
    """Shows page `page` of the audit log with the filters in the custom id."""

    def __init__(
        self, page: int, member_id: int, feature: str | None, *, label: str, disabled: bool
    ) -> None:
        custom_id = f"pegasus:audit:page:{page}:{member_id}:{feature or NONE}"
        super().__init__(page_button(custom_id, label, disabled))
        self.page, self.member_id, self.feature = page, member_id, feature

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> AuditPageButton:
        feature = None if match["feature"] == NONE else match["feature"]
        return cls(int(match["page"]), int(match["member"]), feature,
                   label=item.label or "", disabled=False)

    async def callback(self, interaction: discord.Interaction) -> None:
        await show_audit(interaction, self.page, self.member_id or None, self.feature, edit=True)


async def show_audit(
    interaction: discord.Interaction,
    page: int,
    member_id: int | None,
    feature: str | None,
    *,
    edit: bool = False,
) -> None:
    require_log_reader(interaction)
    assert interaction.guild_id is not None
    wanted = AuditFilter(actor_id=member_id, feature=feature)
    shown = await read_audit_page(
        interaction.guild_id, wanted, page=page, per_page=AUDIT_PER_PAGE
    )
    filters = [
        _("by {member}").format(member=f"<@{member_id}>") if member_id else "",
        _("feature {feature}").format(feature=feature) if feature else "",
    ]
    embed = log_embed(
        _("Audit log"), BLURPLE, [audit_line(entry) for entry in shown.entries], filters,
        empty=_("No changes recorded."),
    )
    embed.set_footer(
        text=ngettext(
            "Page {page} of {pages} · {count} change",
            "Page {page} of {pages} · {count} changes",
            shown.total,
        ).format(page=shown.page, pages=shown.pages, count=format_number(shown.total))
    )
    view = page_buttons(
        lambda target, label, disabled: AuditPageButton(
            target, member_id or 0, feature, label=label, disabled=disabled
        ),
        shown.page,
        shown.pages,
    )
    await _answer(interaction, embed, view, edit=edit)


# -- the security log ------------------------------------------------------------------------

SEVERITIES = "|".join(severity.value for severity in Severity)


class SecurityPageButton(
    PegasusButton,
    template=rf"pegasus:seclog:page:(?P<page>[0-9]{{1,6}}):(?P<member>[0-9]{{1,20}}):"
    rf"(?P<severity>{SEVERITIES}|-):(?P<action>{NAME}|-)",
):
    """Shows page `page` of the security log with the filters in the custom id."""

    def __init__(
        self,
        page: int,
        member_id: int,
        severity: Severity | None,
        action: str | None,
        *,
        label: str,
        disabled: bool,
    ) -> None:
        level = severity.value if severity else NONE
        custom_id = f"pegasus:seclog:page:{page}:{member_id}:{level}:{action or NONE}"
        super().__init__(page_button(custom_id, label, disabled))
        self.page, self.member_id = page, member_id
        self.severity, self.action = severity, action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> SecurityPageButton:
        severity = None if match["severity"] == NONE else Severity(match["severity"])
        action = None if match["action"] == NONE else match["action"]
        return cls(int(match["page"]), int(match["member"]), severity, action,
                   label=item.label or "", disabled=False)

    async def callback(self, interaction: discord.Interaction) -> None:
        await show_security_log(
            interaction, self.page, self.member_id or None, self.severity, self.action, edit=True
        )


async def show_security_log(
    interaction: discord.Interaction,
    page: int,
    member_id: int | None,
    severity: Severity | None,
    action: str | None,
    *,
    edit: bool = False,
) -> None:
    """Page `page` of the security log, filtered; the answer of `/security log` and its pages."""
    require_log_reader(interaction)
    assert interaction.guild_id is not None
    action = clean_filter(action)
    wanted = SecurityFilter(user_id=member_id, severity=severity, action=action)
    shown = await read_security_page(
        interaction.guild_id, wanted, page=page, per_page=SECURITY_PER_PAGE
    )
    filters = [
        _("about {member}").format(member=f"<@{member_id}>") if member_id else "",
        _("severity {severity}").format(severity=severity.value) if severity else "",
        _("event {event}").format(event=action) if action else "",
    ]
    embed = log_embed(
        _("Security log"), RED, [security_line(event) for event in shown.entries], filters,
        empty=_("No security events recorded."),
    )
    embed.set_footer(
        text=ngettext(
            "Page {page} of {pages} · {count} event",
            "Page {page} of {pages} · {count} events",
            shown.total,
        ).format(page=shown.page, pages=shown.pages, count=format_number(shown.total))
    )
    view = page_buttons(
        lambda target, label, disabled: SecurityPageButton(
            target, member_id or 0, severity, action, label=label, disabled=disabled
        ),
        shown.page,
        shown.pages,
    )
    await _answer(interaction, embed, view, edit=edit)


async def security_action_choices(
    guild_id: int, current: str
) -> list[app_commands.Choice[str]]:
    """Suggestions for `/security log event:`: the actions recorded, and their families."""
    actions = await recorded_security_actions(guild_id)
    names = sorted({*actions, *(f"{action.partition('.')[0]}.*" for action in actions)})
    typed = current.strip().lower()
    return [app_commands.Choice(name=n, value=n) for n in names if typed in n][:25]


def log_embed(
    title: str, colour: int, lines: list[str], filters: list[str], *, empty: str
) -> discord.Embed:
    """A page of a log: the filters in force, then the entries (within Discord's limit)."""
    described = " · ".join(part for part in filters if part)
    heading = _("Only {filters}").format(filters=described) + "\n\n" if described else ""
    body = "\n\n".join(lines) or empty
    return discord.Embed(
        title=title, description=clip(heading + body, DESCRIPTION_LIMIT), colour=colour
    )


async def _answer(
    interaction: discord.Interaction, embed: discord.Embed, view: discord.ui.View, *, edit: bool
) -> None:
    if edit:
        await interaction.response.edit_message(embed=embed, view=view)
    else:
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)


# -- how entries look -----------------------------------------------------------------------

SHOWN_VALUE = 120


def member_line(member: discord.Member | discord.User) -> str:
    return f"{member.mention} ({escape_markdown(str(member))})"


def describe_value(name: str, value: Any) -> str:
    """A stored setting as people read it: channels and roles as mentions, None as not set."""
    if value is None:
        return _("not set")
    if isinstance(value, bool):
        return _("on") if value else _("off")
    if isinstance(value, list):
        if name.endswith(("role_ids", "channel_ids")):
            return ", ".join(describe_value(name[:-1], item) for item in value) or _("none")
        return ", ".join(f"`{item}`" for item in value) or _("none")
    if isinstance(value, int) and name.endswith(("channel_id", "channel_ids")):
        return f"<#{value}>"
    if isinstance(value, int) and name.endswith(("role_id", "role_ids")):
        return f"<@&{value}>"
    if isinstance(value, dict):
        return clip(", ".join(f"{key}: {item}" for key, item in value.items()), SHOWN_VALUE)
    return f"`{clip(escape_markdown(str(value)), SHOWN_VALUE)}`"


def audit_line(entry: AuditEntry) -> str:
    """One change: when, who, what, and each value before → after."""
    who = f"<@{entry.actor_id}>" if entry.actor_id else "Pegasus"
    source = " · " + _("REST API") if entry.source.value == "api" else ""
    head = (
        f"{timestamp(entry.created_at)} {who} · **{entry.feature}** `{entry.action}`{source}"
    )
    before, after = entry.before or {}, entry.after or {}
    if entry.before is None and entry.after is not None:
        body = [
            _("created {what}")
            .format(what=f"{entry.target_type or ''} `{entry.target_id or ''}`")
            .rstrip()
        ]
    elif entry.after is None and entry.before is not None:
        body = [
            _("deleted {what}")
            .format(what=f"{entry.target_type or ''} `{entry.target_id or ''}`")
            .rstrip()
        ]
    else:
        body = []
    names = [name for name in after if before.get(name) != after.get(name)] or list(after)
    body += [
        f"`{name}`: {describe_value(name, before.get(name))} → "
        f"{describe_value(name, after.get(name))}"
        for name in names[:6]
    ]
    if len(names) > 6:
        body.append(_("… and {count} more").format(count=len(names) - 6))
    return clip("\n".join([head, *body]), 1000)


def security_line(event: SecurityEvent) -> str:
    """One security event: when, what, how serious, whom, and what it says."""
    whom = f" · <@{event.user_id}>" if event.user_id else ""
    actor = event.metadata.get("moderator_id") or event.metadata.get("actor_id")
    by = " · " + _("by {member}").format(member=f"<@{actor}>") if actor else ""
    text = f"\n{clip(escape_markdown(event.description), 300)}" if event.description else ""
    return (
        f"{timestamp(event.created_at)} `{event.action}` · {event.severity.value}{whom}{by}{text}"
    )


DYNAMIC_ITEMS = (AuditPageButton, SecurityPageButton)
