"""A test-only extension that makes the real bot use every part of the local Discord.

Loaded next to `cogs.core` by the local Discord's own tests
(`@pytest.mark.discord_env(extensions=PROBE_EXTENSIONS)`). Each command does one Discord thing
the way a feature cog would, so a test can check that the server answers it faithfully.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from pegasus.ui.dynamic import PegasusButton

PROBE_EXTENSIONS = ("cogs.core", "tests.probe_cog")
FRUITS = ("apple", "apricot", "banana", "blueberry", "cherry")


class ProbeConfirm(PegasusButton, template=r"pegasus:probe:confirm:(?P<owner>\d+)"):
    """A persistent button: it must keep working after a restart."""

    def __init__(self, owner: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Confirm",
                style=discord.ButtonStyle.danger,
                custom_id=f"pegasus:probe:confirm:{owner}",
            )
        )
        self.owner = owner

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> ProbeConfirm:
        return cls(int(match["owner"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.owner:
            await interaction.response.send_message("Not your button.", ephemeral=True)
            return
        await interaction.response.edit_message(content="Confirmed.", view=None)
        assert interaction.channel is not None
        await interaction.channel.send(f"{interaction.user.mention} confirmed.")  # type: ignore[union-attr]


class PickView(discord.ui.View):
    """Not persistent: discord.py finds it by the id of the message it was sent with."""

    def __init__(self, owner: int) -> None:
        super().__init__(timeout=60)
        self.owner = owner

    @discord.ui.select(
        placeholder="A colour",
        options=[discord.SelectOption(label=c, value=c.lower()) for c in ("Red", "Green", "Blue")],
    )
    async def colour(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.edit_message(content=f"You chose {select.values[0]}.", view=None)
        self.stop()


class ReasonModal(discord.ui.Modal, title="Why?"):
    reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Reason", custom_id="probe-reason", min_length=3, max_length=50
    )
    details: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Details", custom_id="probe-details", style=discord.TextStyle.long, required=False
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"reason={self.reason.value} details={self.details.value or '-'}", ephemeral=True
        )


class Probe(commands.GroupCog, group_name="probe", group_description="Local Discord probes."):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.seen_messages: Counter[int] = Counter()  # message id -> times on_message ran
        self.events: list[tuple[str, int]] = []
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ProbeConfirm)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ProbeConfirm)

    # listeners -----------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not message.author.bot:
            self.seen_messages[message.id] += 1

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        if not payload.message.author.bot:
            self.events.append(("edit:" + payload.message.content, payload.message_id))

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.events.append(("delete", payload.message_id))

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.events.append((f"react:{payload.emoji}", payload.user_id))

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.events.append((f"unreact:{payload.emoji}", payload.user_id))

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self.events.append(("join", member.id))

    @commands.Cog.listener()
    async def on_member_remove(self, member: discord.Member) -> None:
        self.events.append(("leave", member.id))

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        where = after.channel.name if after.channel else "-"
        self.events.append((f"voice:{where}", member.id))

    # replies -------------------------------------------------------------------------------
    @app_commands.command(description="Reply with the text, visibly.")
    @app_commands.describe(text="What to say back.")
    async def echo(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text)

    @app_commands.command(description="Think first, then answer privately.")
    async def thinking(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("Done thinking.")
        await interaction.followup.send("And a second followup.", ephemeral=True)

    @app_commands.command(description="Defer, then edit the original response.")
    async def edit_later(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="Edited in place.")

    @app_commands.command(description="Describe the resolved options.")
    @app_commands.describe(
        member="A member.", role="A role.", channel="A channel.", count="A count."
    )
    async def resolve(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        role: discord.Role,
        channel: discord.TextChannel,
        count: app_commands.Range[int, 1, 10] = 1,
    ) -> None:
        await interaction.response.send_message(
            f"{member.display_name}|{member.top_role.name}|{role.name}|{channel.name}|{count}"
        )

    @app_commands.command(description="Show the permissions Discord sent.")
    async def perms(self, interaction: discord.Interaction) -> None:
        mine = interaction.permissions
        app = interaction.app_permissions
        await interaction.response.send_message(
            f"ban={mine.ban_members} admin={mine.administrator} app_roles={app.manage_roles}",
            ephemeral=True,
        )

    @app_commands.command(description="Upload a small PNG card.")
    async def card(self, interaction: discord.Interaction) -> None:
        from PIL import Image

        await interaction.response.defer()
        buffer = io.BytesIO()
        Image.new("RGB", (8, 4), (255, 0, 0)).save(buffer, format="PNG")
        buffer.seek(0)
        await interaction.followup.send("Your card:", file=discord.File(buffer, "card.png"))

    @app_commands.command(description="Ask for confirmation with a persistent button.")
    async def confirm(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(ProbeConfirm(interaction.user.id))
        await interaction.response.send_message("Are you sure?", view=view)

    @app_commands.command(description="Read an uploaded file.")
    @app_commands.describe(file="Any file.")
    async def upload(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()
        await interaction.response.send_message(
            f"{file.filename} {file.content_type} {len(data)} {data[:5]!r}", ephemeral=True
        )

    @app_commands.command(description="Choose from a menu (a view tied to its message).")
    async def pick(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Choose:", view=PickView(interaction.user.id))

    @app_commands.command(description="Open a form.")
    async def form(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(ReasonModal())

    @app_commands.command(description="Pick a fruit.")
    @app_commands.describe(fruit="A fruit.")
    async def fruit(self, interaction: discord.Interaction, fruit: str) -> None:
        await interaction.response.send_message(f"You picked {fruit}.", ephemeral=True)

    @fruit.autocomplete("fruit")
    async def fruit_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)]

    # channel messages ----------------------------------------------------------------------
    @app_commands.command(description="Post text in a channel.")
    @app_commands.describe(channel="Where.", text="What.")
    async def post(
        self, interaction: discord.Interaction, channel: discord.TextChannel, text: str
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        message = await channel.send(text)
        await message.edit(content=f"{text} (edited)")
        await interaction.followup.send(f"Posted {message.id}.")

    @app_commands.command(description="Post a message, react to it, then delete it.")
    async def flash(self, interaction: discord.Interaction) -> None:
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        message = await interaction.channel.send("Now you see me.")
        await message.add_reaction("👀")
        fetched = await interaction.channel.fetch_message(message.id)
        reactions = [str(r.emoji) for r in fetched.reactions]
        await message.delete()
        await interaction.followup.send(f"reactions={reactions}")

    @app_commands.command(description="Rename this channel and make it read-only.")
    @app_commands.describe(name="The new name.")
    async def lock(self, interaction: discord.Interaction, name: str) -> None:
        channel = interaction.channel
        assert isinstance(channel, discord.TextChannel) and interaction.guild is not None
        await channel.edit(name=name, topic="Read only")
        await channel.set_permissions(interaction.guild.default_role, send_messages=False)
        await interaction.response.send_message(f"Locked {channel.mention}.")

    @app_commands.command(description="Send an empty message (Discord refuses it).")
    async def empty(self, interaction: discord.Interaction) -> None:
        assert isinstance(interaction.channel, discord.TextChannel)
        try:
            await interaction.channel.send("")
        except discord.HTTPException as error:
            await interaction.response.send_message(f"refused {error.code}", ephemeral=True)

    @app_commands.command(description="Count and purge recent messages.")
    @app_commands.describe(count="How many to delete.")
    async def purge(self, interaction: discord.Interaction, count: int) -> None:
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        before = [m async for m in interaction.channel.history(limit=100)]
        deleted = await interaction.channel.purge(limit=count, bulk=True)
        await interaction.followup.send(f"history={len(before)} deleted={len(deleted)}")

    @app_commands.command(description="Send a DM.")
    @app_commands.describe(member="Who.", text="What.")
    async def dm(self, interaction: discord.Interaction, member: discord.Member, text: str) -> None:
        try:
            await member.send(text)
        except discord.Forbidden as error:
            await interaction.response.send_message(f"DMs closed ({error.code}).", ephemeral=True)
            return
        await interaction.response.send_message("Sent.", ephemeral=True)

    # moderation ----------------------------------------------------------------------------
    @app_commands.command(description="Give a role.")
    @app_commands.describe(member="Who.", role="Which role.")
    @app_commands.default_permissions(manage_roles=True)
    async def grant(
        self, interaction: discord.Interaction, member: discord.Member, role: discord.Role
    ) -> None:
        try:
            await member.add_roles(role, reason=f"by {interaction.user}")
        except discord.Forbidden as error:
            await interaction.response.send_message(f"Forbidden {error.code}.", ephemeral=True)
            return
        await interaction.response.send_message(f"Gave {role.name}.", ephemeral=True)

    @app_commands.command(description="Ban a user.")
    @app_commands.describe(user="Who.", reason="Why.")
    @app_commands.default_permissions(ban_members=True)
    async def ban(
        self, interaction: discord.Interaction, user: discord.User, reason: str | None = None
    ) -> None:
        assert interaction.guild is not None
        await interaction.guild.ban(user, reason=reason, delete_message_seconds=3600)
        await interaction.response.send_message(f"Banned {user.name}.", ephemeral=True)

    @app_commands.command(description="Unban a user by id.")
    @app_commands.describe(user_id="Whose ban to lift.")
    @app_commands.default_permissions(ban_members=True)
    async def unban(self, interaction: discord.Interaction, user_id: str) -> None:
        assert interaction.guild is not None
        try:
            await interaction.guild.unban(discord.Object(int(user_id)))
        except discord.NotFound as error:
            await interaction.response.send_message(f"No ban ({error.code}).", ephemeral=True)
            return
        await interaction.response.send_message("Unbanned.", ephemeral=True)

    @app_commands.command(description="Kick a member.")
    @app_commands.describe(member="Who.")
    @app_commands.default_permissions(kick_members=True)
    async def kick(self, interaction: discord.Interaction, member: discord.Member) -> None:
        await member.kick(reason="probe")
        await interaction.response.send_message("Kicked.", ephemeral=True)

    @app_commands.command(description="Time a member out.")
    @app_commands.describe(member="Who.", minutes="How long.")
    @app_commands.default_permissions(moderate_members=True)
    async def mute(
        self, interaction: discord.Interaction, member: discord.Member, minutes: int
    ) -> None:
        import datetime as dt

        try:
            await member.timeout(dt.timedelta(minutes=minutes))
        except discord.HTTPException as error:
            await interaction.response.send_message(f"Refused {error.code}.", ephemeral=True)
            return
        await interaction.response.send_message("Timed out.", ephemeral=True)

    @app_commands.command(description="Open a private channel for a member.")
    @app_commands.describe(member="For whom.")
    async def room(self, interaction: discord.Interaction, member: discord.Member) -> None:
        guild = interaction.guild
        assert guild is not None
        overwrites: dict[Any, discord.PermissionOverwrite] = {
            guild.default_role: discord.PermissionOverwrite(view_channel=False),
            member: discord.PermissionOverwrite(view_channel=True, send_messages=True),
            guild.me: discord.PermissionOverwrite(view_channel=True, send_messages=True),
        }
        channel = await guild.create_text_channel(
            f"room {member.name}", overwrites=overwrites, reason="probe"
        )
        await channel.send(f"Welcome {member.mention}")
        await interaction.response.send_message(f"Opened {channel.mention}.", ephemeral=True)

    @app_commands.command(description="Delete this channel.")
    async def close(self, interaction: discord.Interaction) -> None:
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.response.send_message("Closing.")
        await interaction.channel.delete(reason="probe")

    @app_commands.command(description="Fail on purpose.")
    async def crash(self, interaction: discord.Interaction) -> None:
        raise RuntimeError("probe crash")


@app_commands.command(name="probe-ban", description="Ban a member (needs Ban Members).")
@app_commands.describe(member="Who.")
@app_commands.default_permissions(ban_members=True)
async def probe_ban(interaction: discord.Interaction, member: discord.Member) -> None:
    await member.ban(reason="probe")
    await interaction.response.send_message(f"Banned {member.name}.", ephemeral=True)


@app_commands.context_menu(name="Probe user")
async def probe_user(interaction: discord.Interaction, member: discord.Member) -> None:
    await interaction.response.send_message(f"That is {member.name}.", ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Probe(bot))
    bot.tree.add_command(probe_user)
    bot.tree.add_command(probe_ban)


async def teardown(bot: commands.Bot) -> None:
    bot.tree.remove_command(probe_user.name, type=discord.AppCommandType.user)
    bot.tree.remove_command(probe_ban.name)
