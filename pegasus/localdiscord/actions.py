"""What people do: speak, run commands, click, fill modals, join voice.

Each action checks what Discord's client and API would check for that person (can they see the
channel, may they use the command, is the option valid) and refuses like Discord would, with an
exception a test can expect. Interactions wait for the bot's answer and return a `Reply`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pegasus.localdiscord import payloads
from pegasus.localdiscord.interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    DEFERRED_CHANNEL_MESSAGE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    Modal,
    PendingInteraction,
    Reply,
)
from pegasus.localdiscord.permissions import FLAGS
from pegasus.localdiscord.state import (
    VOICE,
    FakeChannel,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    File,
    VoiceState,
    snowflake,
    walk_components,
)

if TYPE_CHECKING:
    from pegasus.localdiscord.server import LocalDiscord

STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2


class LocalDiscordRefusal(Exception):
    """Discord itself would not let this person do this."""


class CommandUnavailable(LocalDiscordRefusal):
    """The command is not synced, or the member may not use it (default_member_permissions)."""


class InvalidOptions(LocalDiscordRefusal):
    """Discord's client would not send these options (missing, unknown, out of range)."""


class ActionRefused(LocalDiscordRefusal):
    """The member cannot do this (cannot see the channel, is timed out, button disabled...)."""


class Actions:
    def __init__(self, server: LocalDiscord) -> None:
        self.s = server

    # messages ------------------------------------------------------------------------------
    async def say(
        self,
        member: FakeMember,
        channel: FakeChannel | str,
        content: str,
        *,
        files: Sequence[File] | Mapping[str, bytes] | None,
        embeds: Sequence[dict[str, Any]] | None,
        reply_to: FakeMessage | None,
    ) -> FakeMessage:
        target = member.guild.resolve_channel(channel)
        self._require_member(member)
        if member.is_timed_out:
            raise ActionRefused(f"{member.name} is timed out until {member.timed_out_until}")
        perms = target.permissions_for(member)
        if target.type == VOICE and not perms.connect:
            raise ActionRefused(f"{member.name} cannot use #{target.name}")
        if not perms.view_channel or not perms.send_messages:
            raise ActionRefused(f"{member.name} cannot send messages in #{target.name}")
        file_list = _files(files)
        if file_list and not perms.attach_files:
            raise ActionRefused(f"{member.name} cannot attach files in #{target.name}")
        msg = FakeMessage(
            snowflake(),
            target,
            member.user,
            content,
            embeds=list(embeds or []),
            attachments=self.s.store_files(target.id, file_list),
        )
        if reply_to is not None:
            msg.reference_id = reply_to.id
            msg.type = 19
        self.s.add_message(msg)
        return msg

    async def edit(self, member: FakeMember, message: FakeMessage, content: str) -> FakeMessage:
        if message.author.id != member.id:
            raise ActionRefused(f"{member.name} cannot edit a message by {message.author.name}")
        message.content = content
        from pegasus.localdiscord.state import now

        message.edited_at = now()
        self.s.events.message_update(message)
        return message

    async def delete(self, member: FakeMember, message: FakeMessage) -> None:
        if (
            message.author.id != member.id
            and not message.channel.permissions_for(member).manage_messages
        ):
            raise ActionRefused(f"{member.name} cannot delete that message")
        self.s.delete_message(message)

    async def react(
        self, member: FakeMember, message: FakeMessage, emoji: str, *, add: bool
    ) -> None:
        users = message.reactions.setdefault(emoji, set())
        if add == (member.id in users):
            return
        if add:
            if not message.channel.permissions_for(member).add_reactions:
                raise ActionRefused(
                    f"{member.name} cannot add reactions in #{message.channel.name}"
                )
            users.add(member.id)
        else:
            users.discard(member.id)
        self.s.events.reaction(message, member, emoji, add=add)

    # voice ---------------------------------------------------------------------------------
    async def join_voice(
        self, member: FakeMember, channel: FakeChannel | str, *, self_mute: bool, self_deaf: bool
    ) -> None:
        target = member.guild.resolve_channel(channel)
        self._require_member(member)
        if target.type != VOICE:
            raise ActionRefused(f"#{target.name} is not a voice channel")
        if not target.permissions_for(member).connect:
            raise ActionRefused(f"{member.name} cannot connect to {target.name}")
        if member.voice is None:
            member.voice = VoiceState(target.id, secrets.token_hex(16))
        member.voice.channel_id = target.id
        member.voice.self_mute, member.voice.self_deaf = self_mute, self_deaf
        self.s.events.voice_state(member)

    async def leave_voice(self, member: FakeMember) -> None:
        if member.voice is None:
            return
        member.voice = None
        self.s.events.voice_state(member)

    async def set_voice(self, member: FakeMember, **changes: bool | None) -> None:
        if member.voice is None:
            raise ActionRefused(f"{member.name} is not in a voice channel")
        for key, value in changes.items():
            if value is not None:
                setattr(member.voice, key, value)
        self.s.events.voice_state(member)

    # application commands -----------------------------------------------------------------
    async def slash(
        self,
        member: FakeMember,
        command: str,
        options: Mapping[str, Any],
        *,
        in_channel: FakeChannel | str | None,
        timeout: float,
    ) -> Reply:
        channel, spec, is_guild = self._command(member, command, 1, in_channel)
        path = [spec["name"], *command.split()[1:]]
        data: dict[str, Any] = {"id": spec["id"], "name": spec["name"], "type": 1}
        if is_guild:
            data["guild_id"] = str(member.guild.id)
        resolved: dict[str, dict[str, Any]] = {}
        level_options = spec.get("options") or []
        container = data
        for sub in path[1:]:
            sub_spec = next(
                (
                    o
                    for o in level_options
                    if sub in (o["name"], localized(o, member.user.locale))
                    and o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)
                ),
                None,
            )
            if sub_spec is None:
                names = [
                    o["name"]
                    for o in level_options
                    if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)
                ]
                raise InvalidOptions(
                    f"/{spec['name']} has no subcommand {sub!r} "
                    f"(it has: {', '.join(names) or 'none'})"
                )
            # The client sends the command's own names, whatever language it showed them in.
            entry: dict[str, Any] = {
                "name": sub_spec["name"],
                "type": sub_spec["type"],
                "options": [],
            }
            container.setdefault("options", []).append(entry)
            container = entry
            level_options = sub_spec.get("options") or []
        if any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in level_options):
            names = [o["name"] for o in level_options]
            raise InvalidOptions(f"/{command} needs a subcommand: {', '.join(names)}")
        built = self._options(member, channel, command, level_options, options, resolved)
        container.setdefault("options", []).extend(built)
        if resolved:
            data["resolved"] = resolved
        return await self._interact(
            member,
            channel,
            APPLICATION_COMMAND,
            data,
            what=f"{member.name}'s /{command}",
            timeout=timeout,
        )

    async def context_command(
        self,
        member: FakeMember,
        name: str,
        kind: int,
        target: FakeMember | FakeUser | FakeMessage,
        *,
        in_channel: FakeChannel | str | None,
        timeout: float,
    ) -> Reply:
        channel, spec, is_guild = self._command(member, name, kind, in_channel)
        resolved: dict[str, dict[str, Any]] = {}
        if isinstance(target, FakeMessage):
            resolved["messages"] = {str(target.id): payloads.message(target)}
        else:
            self._resolve_user(member, target, resolved)
        data: dict[str, Any] = {
            "id": spec["id"],
            "name": name,
            "type": kind,
            "target_id": str(target.id),
            "resolved": resolved,
        }
        if is_guild:
            data["guild_id"] = str(member.guild.id)
        return await self._interact(
            member,
            channel,
            APPLICATION_COMMAND,
            data,
            command_type=kind,
            what=f"{member.name}'s context menu {name!r}",
            timeout=timeout,
        )

    async def autocomplete(
        self,
        member: FakeMember,
        command: str,
        focused: str,
        value: str,
        options: Mapping[str, Any],
        *,
        in_channel: FakeChannel | str | None,
        timeout: float,
    ) -> list[dict[str, Any]]:
        channel, spec, is_guild = self._command(member, command, 1, in_channel)
        path = [spec["name"], *command.split()[1:]]
        level = spec.get("options") or []
        data: dict[str, Any] = {"id": spec["id"], "name": spec["name"], "type": 1}
        if is_guild:
            data["guild_id"] = str(member.guild.id)
        container = data
        for sub in path[1:]:
            sub_spec = next(o for o in level if o["name"] == sub)
            # The client sends the command's own names, whatever language it showed them in.
            entry: dict[str, Any] = {
                "name": sub_spec["name"],
                "type": sub_spec["type"],
                "options": [],
            }
            container.setdefault("options", []).append(entry)
            container, level = entry, sub_spec.get("options") or []
        focused_spec = next((o for o in level if o["name"] == focused), None)
        if focused_spec is None or not focused_spec.get("autocomplete"):
            raise InvalidOptions(f"/{command} option {focused!r} has no autocomplete")
        resolved: dict[str, dict[str, Any]] = {}
        others = {k: v for k, v in options.items() if k != focused}
        built = self._options(
            member, channel, command, level, others, resolved, check_required=False
        )
        built.append(
            {"name": focused, "type": focused_spec["type"], "value": value, "focused": True}
        )
        container.setdefault("options", []).extend(built)
        if resolved:
            data["resolved"] = resolved
        reply = await self._interact(
            member,
            channel,
            AUTOCOMPLETE,
            data,
            what=f"autocomplete of /{command} {focused}",
            timeout=timeout,
        )
        return reply.choices

    def _command(
        self, member: FakeMember, command: str, kind: int, in_channel: FakeChannel | str | None
    ) -> tuple[FakeChannel, dict[str, Any], bool]:
        self._require_member(member)
        guild = member.guild
        channel = guild.resolve_channel(in_channel)
        name = command.split()[0] if kind == 1 else command
        name = self.s.command_name_typed(name, guild, kind, member.user.locale)
        if guild.bot_left:
            raise CommandUnavailable(
                f"the bot left {guild.name}: its commands went with it (/{name})"
            )
        spec, is_guild = self.s.find_command(name, guild, kind)
        if spec is None:
            synced = sorted(
                {c["name"] for c in self.s.global_commands_by_name.values()}
                | {c["name"] for c in self.s.guild_commands_by_id.get(guild.id, {}).values()}
            )
            raise CommandUnavailable(
                f"/{name} was not synced by the bot (synced: {', '.join(synced) or 'nothing'})"
            )
        if not channel.can_see(member):
            raise ActionRefused(f"{member.name} cannot see #{channel.name}")
        perms = channel.permissions_for(member)
        if not perms.use_application_commands:
            raise CommandUnavailable(
                f"{member.name} may not use application commands in #{channel.name}"
            )
        # Owners and administrators cannot be locked out of a command.
        override = (
            None if perms.administrator else guild.command_permission(member, int(spec["id"]))
        )
        if override is False:
            raise CommandUnavailable(
                f"a server admin turned /{name} off for {member.name} (Integrations)"
            )
        required = spec.get("default_member_permissions")
        if override is None and required is not None and not perms.administrator:
            needed = int(required)
            if needed == 0 or int(perms) & needed != needed:
                missing = sorted(n for n, b in FLAGS.items() if needed & b and not perms & b)
                raise CommandUnavailable(
                    f"Discord hides /{name} from {member.name}: it needs "
                    f"{', '.join(missing) or 'administrator'}"
                )
        contexts = spec.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise CommandUnavailable(f"/{name} cannot be used in a server")
        return channel, spec, is_guild

    def _options(
        self,
        member: FakeMember,
        channel: FakeChannel,
        command: str,
        specs: list[dict[str, Any]],
        given: Mapping[str, Any],
        resolved: dict[str, dict[str, Any]],
        *,
        check_required: bool = True,
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in specs}
        unknown = [k for k in given if k not in by_name]
        if unknown:
            raise InvalidOptions(
                f"/{command} has no option {', '.join(unknown)} "
                f"(options: {', '.join(by_name) or 'none'})"
            )
        if check_required:
            missing = [
                o["name"] for o in specs if o.get("required") and given.get(o["name"]) is None
            ]
            if missing:
                raise InvalidOptions(f"/{command} needs {', '.join(missing)}")
        built = []
        for spec in specs:  # Discord sends options in the command's order
            value = given.get(spec["name"])
            if value is None:
                continue
            built.append(
                {
                    "name": spec["name"],
                    "type": spec["type"],
                    "value": self._option_value(member, channel, command, spec, value, resolved),
                }
            )
        return built

    def _option_value(
        self,
        member: FakeMember,
        channel: FakeChannel,
        command: str,
        spec: dict[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
    ) -> Any:
        kind, name = int(spec["type"]), spec["name"]
        where = f"/{command} {name}"
        if kind == STRING:
            text = str(value)
            lo, hi = spec.get("min_length"), spec.get("max_length")
            if (lo is not None and len(text) < lo) or (hi is not None and len(text) > hi):
                raise InvalidOptions(f"{where}: length must be {lo}..{hi}")
            self._check_choice(where, spec, text)
            return text
        if kind in (INTEGER, NUMBER):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidOptions(f"{where} takes a number, got {value!r}")
            if kind == INTEGER and int(value) != value:
                raise InvalidOptions(f"{where} takes a whole number, got {value!r}")
            number = int(value) if kind == INTEGER else float(value)
            lo, hi = spec.get("min_value"), spec.get("max_value")
            if (lo is not None and number < lo) or (hi is not None and number > hi):
                raise InvalidOptions(f"{where}: Discord only accepts {lo}..{hi}, got {number}")
            self._check_choice(where, spec, number)
            return number
        if kind == BOOLEAN:
            return bool(value)
        if kind == USER:
            if not isinstance(value, FakeMember | FakeUser):
                raise InvalidOptions(f"{where} takes a member or user, got {value!r}")
            self._resolve_user(member, value, resolved)
            return str(value.id)
        if kind == ROLE:
            role = self._role(member, value, where)
            resolved.setdefault("roles", {})[str(role.id)] = payloads.role(role)
            return str(role.id)
        if kind == MENTIONABLE:
            if isinstance(value, FakeMember | FakeUser):
                self._resolve_user(member, value, resolved)
                return str(value.id)
            role = self._role(member, value, where)
            resolved.setdefault("roles", {})[str(role.id)] = payloads.role(role)
            return str(role.id)
        if kind == CHANNEL:
            target = member.guild.resolve_channel(value)
            types = spec.get("channel_types")
            if types and target.type not in types:
                raise InvalidOptions(
                    f"{where} accepts channel types {types}, not #{target.name} ({target.type})"
                )
            resolved.setdefault("channels", {})[str(target.id)] = {
                "id": str(target.id),
                "name": target.name,
                "type": target.type,
                "permissions": str(int(target.permissions_for(member))),
                "parent_id": str(target.parent_id) if target.parent_id else None,
                "guild_id": str(member.guild.id),
            }
            return str(target.id)
        if kind == ATTACHMENT:
            if not isinstance(value, File):
                raise InvalidOptions(f"{where} takes a File, got {value!r}")
            (att,) = self.s.store_files(channel.id, [value])
            resolved.setdefault("attachments", {})[str(att.id)] = payloads.attachment(att)
            return str(att.id)
        raise InvalidOptions(f"{where}: option type {kind} is not supported")

    @staticmethod
    def _check_choice(where: str, spec: dict[str, Any], value: Any) -> None:
        choices = spec.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            shown = ", ".join(repr(c["value"]) for c in choices)
            raise InvalidOptions(f"{where} must be one of {shown}; got {value!r}")

    @staticmethod
    def _role(member: FakeMember, value: Any, where: str) -> FakeRole:
        if isinstance(value, FakeRole):
            return value
        if isinstance(value, str | int):
            return member.guild.role(value)
        raise InvalidOptions(f"{where} takes a role, got {value!r}")

    def _resolve_user(
        self, member: FakeMember, target: FakeMember | FakeUser, resolved: dict[str, dict[str, Any]]
    ) -> None:
        user = target.user if isinstance(target, FakeMember) else target
        resolved.setdefault("users", {})[str(user.id)] = payloads.user(user)
        in_guild = member.guild.members_by_id.get(user.id)
        if in_guild is not None:
            data = payloads.member(in_guild, with_user=False, permissions=int(in_guild.permissions))
            resolved.setdefault("members", {})[str(user.id)] = data

    # components ----------------------------------------------------------------------------
    async def click(
        self,
        member: FakeMember,
        target: FakeMessage | Reply,
        custom_id: str | None,
        *,
        label: str | None,
        timeout: float,
    ) -> Reply:
        message = _message_of(target)
        button = _find_component(message, custom_id, label, kinds=(2,), what="button")
        if button.get("disabled"):
            raise ActionRefused(f"the button {_describe(button)} is disabled")
        if button.get("style") in (5, 6) or not button.get("custom_id"):
            raise ActionRefused(f"the button {_describe(button)} is a link, not an action")
        data = {"custom_id": button["custom_id"], "component_type": 2}
        if "id" in button:
            data["id"] = button["id"]
        return await self._component(
            member, message, data, timeout, f"{member.name}'s click on {_describe(button)}"
        )

    async def select(
        self,
        member: FakeMember,
        target: FakeMessage | Reply,
        custom_id: str | None,
        values: Sequence[Any],
        *,
        placeholder: str | None,
        timeout: float,
    ) -> Reply:
        message = _message_of(target)
        menu = _find_component(
            message,
            custom_id,
            placeholder,
            kinds=(3, 5, 6, 7, 8),
            what="select menu",
            label_key="placeholder",
        )
        if menu.get("disabled"):
            raise ActionRefused("that select menu is disabled")
        lo, hi = menu.get("min_values", 1), menu.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise InvalidOptions(f"the select menu takes {lo}..{hi} values, got {len(values)}")
        kind = menu["type"]
        resolved: dict[str, dict[str, Any]] = {}
        raw_values: list[str] = []
        for value in values:
            if kind == 3:
                allowed = [o["value"] for o in menu.get("options") or []]
                if str(value) not in allowed:
                    raise InvalidOptions(f"{value!r} is not an option ({', '.join(allowed)})")
                raw_values.append(str(value))
            elif isinstance(value, FakeMember | FakeUser):
                self._resolve_user(member, value, resolved)
                raw_values.append(str(value.id))
            elif isinstance(value, FakeRole):
                resolved.setdefault("roles", {})[str(value.id)] = payloads.role(value)
                raw_values.append(str(value.id))
            elif isinstance(value, FakeChannel):
                resolved.setdefault("channels", {})[str(value.id)] = {
                    "id": str(value.id),
                    "name": value.name,
                    "type": value.type,
                    "permissions": str(int(value.permissions_for(member))),
                    "parent_id": str(value.parent_id) if value.parent_id else None,
                }
                raw_values.append(str(value.id))
            else:
                raise InvalidOptions(f"{value!r} is not a valid value for this select menu")
        data: dict[str, Any] = {
            "custom_id": menu["custom_id"],
            "component_type": kind,
            "values": raw_values,
        }
        if resolved:
            data["resolved"] = resolved
        return await self._component(
            member, message, data, timeout, f"{member.name}'s choice in {menu['custom_id']}"
        )

    async def _component(
        self,
        member: FakeMember,
        message: FakeMessage,
        data: dict[str, Any],
        timeout: float,
        what: str,
    ) -> Reply:
        self._require_member(member)
        if message.deleted:
            raise ActionRefused("that message was deleted")
        if (
            message.ephemeral
            and message.interaction
            and message.interaction["user"]["id"] != str(member.id)
        ):
            raise ActionRefused(f"{member.name} cannot see someone else's ephemeral message")
        return await self._interact(
            member,
            message.channel,
            MESSAGE_COMPONENT,
            data,
            message=message,
            what=what,
            timeout=timeout,
        )

    async def submit_modal(
        self, member: FakeMember, source: Any, values: Mapping[str, str], *, timeout: float
    ) -> Reply:
        modal = source.modal if isinstance(source, Reply) else source
        if not isinstance(modal, Modal):
            raise ActionRefused(f"the bot answered with no modal ({source!r})")
        lowered = {k.lower(): v for k, v in values.items()}
        fields = modal.fields
        used: set[str] = set()

        def value_for(custom_id: str, label: str | None) -> str | None:
            for key in (custom_id, (label or "").lower()):
                if key in values:
                    used.add(key)
                    return values[key]
                if key.lower() in lowered:
                    used.add(key.lower())
                    return lowered[key.lower()]
            return None

        answers: dict[str, str] = {}
        for fld in fields:
            value = value_for(fld.custom_id, fld.label)
            if value is None:
                value = fld.value or ""
            if fld.required and not value:
                raise InvalidOptions(f"the modal field {fld.label or fld.custom_id!r} is required")
            if value and fld.min_length is not None and len(value) < fld.min_length:
                raise InvalidOptions(f"{fld.label!r} needs at least {fld.min_length} characters")
            if value and fld.max_length is not None and len(value) > fld.max_length:
                raise InvalidOptions(f"{fld.label!r} takes at most {fld.max_length} characters")
            answers[fld.custom_id] = value
        stray = [k for k in values if k not in used and k.lower() not in used]
        if stray:
            known = ", ".join(f"{f.custom_id} ({f.label})" for f in fields)
            raise InvalidOptions(f"the modal has no field {', '.join(stray)}; fields: {known}")
        data = {"custom_id": modal.custom_id, "components": _submitted(modal.components, answers)}
        origin = modal.interaction
        return await self._interact(
            member,
            origin.channel,
            MODAL_SUBMIT,
            data,
            message=origin.message,
            what=f"{member.name}'s modal {modal.title!r}",
            timeout=timeout,
        )

    # the interaction round trip ------------------------------------------------------------
    async def _interact(
        self,
        member: FakeMember,
        channel: FakeChannel,
        type: int,
        data: dict[str, Any],
        *,
        what: str,
        timeout: float,
        message: FakeMessage | None = None,
        command_type: int = 1,
    ) -> Reply:
        if member.guild.bot_left:
            raise ActionRefused(f"the bot left {member.guild.name}: nothing of it answers there")
        loop = asyncio.get_running_loop()
        started = loop.time()
        import time

        since = time.monotonic()
        pending = PendingInteraction(
            self.s,
            id=snowflake(),
            token=f"itok-{secrets.token_urlsafe(24)}",
            type=type,
            member=member,
            channel=channel,
            guild=member.guild,
            what=what,
            message=message,
            command_type=command_type,
        )
        self.s.interactions[pending.id] = pending
        body = payloads.interaction(
            id=pending.id,
            application_id=self.s.application_id,
            type=type,
            token=pending.token,
            member=member,
            channel=channel,
            data=data,
            source=message,
            locale=member.user.locale,
        )
        self.s.events.interaction_create(body, member.guild.id)
        await self.s.wait(
            asyncio.shield(pending.acked),
            timeout=timeout,
            what=f"the bot's response to {what}",
            since=since,
        )
        if pending.response_type == DEFERRED_CHANNEL_MESSAGE:
            remaining = max(0.1, timeout - (loop.time() - started))
            await self.s.wait(
                asyncio.shield(pending.done),
                timeout=remaining,
                what=f"the bot to finish its deferred response to {what}",
                since=since,
            )
        pending.reply._mark_seen()
        return pending.reply

    @staticmethod
    def _require_member(member: FakeMember) -> None:
        if not member.in_guild:
            raise ActionRefused(f"{member.name} is not in {member.guild.name} any more")


def localized(spec: Mapping[str, Any], locale: str) -> str | None:
    """A command's or option's name as an app in `locale` shows it (None: not translated)."""
    return (spec.get("name_localizations") or {}).get(locale)


def _files(files: Sequence[File] | Mapping[str, bytes] | None) -> list[File]:
    if not files:
        return []
    if isinstance(files, Mapping):
        return [File(name, data) for name, data in files.items()]
    return list(files)


def _message_of(target: FakeMessage | Reply) -> FakeMessage:
    if isinstance(target, Reply):
        message = target.message
        if message is None:
            raise ActionRefused(f"{target!r} has no message to interact with")
        return message
    return target


def _describe(component: dict[str, Any]) -> str:
    return repr(component.get("label") or component.get("custom_id") or component.get("url"))


def _find_component(
    message: FakeMessage,
    custom_id: str | None,
    label: str | None,
    *,
    kinds: tuple[int, ...],
    what: str,
    label_key: str = "label",
) -> dict[str, Any]:
    candidates = [c for c in walk_components(message.components) if c.get("type") in kinds]
    for component in candidates:
        if custom_id is not None and component.get("custom_id") == custom_id:
            return component
        if (
            custom_id is None
            and label is not None
            and (str(component.get(label_key) or "").lower() == label.lower())
        ):
            return component
    if custom_id is None and label is None and len(candidates) == 1:
        return candidates[0]
    shown = ", ".join(f"{c.get(label_key)!r}={c.get('custom_id')!r}" for c in candidates)
    raise ActionRefused(
        f"no {what} {custom_id or label!r} on {message!r}; it has: {shown or 'none'}"
    )


def _submitted(components: list[dict[str, Any]], answers: dict[str, str]) -> list[dict[str, Any]]:
    """The modal's layout with each input replaced by {type, custom_id, value}."""
    result = []
    for component in components:
        kind = component.get("type")
        if kind == 1:
            result.append(
                {"type": 1, "components": _submitted(component.get("components") or [], answers)}
            )
        elif kind == 18:
            inner = component.get("component") or {}
            result.append(
                {
                    "type": 18,
                    "id": component.get("id", 0),
                    "component": _submitted_input(inner, answers),
                }
            )
        elif component.get("custom_id") is not None:
            result.append(_submitted_input(component, answers))
    return result


def _submitted_input(component: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": component.get("type", 4),
        "custom_id": component.get("custom_id"),
    }
    if "id" in component:
        data["id"] = component["id"]
    value = answers.get(component.get("custom_id") or "", "")
    if data["type"] == 4:
        data["value"] = value
    else:
        data["values"] = [value] if value else []
    return data
