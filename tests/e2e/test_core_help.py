"""/help with every feature loaded: commands are listed under the feature they belong to."""

from __future__ import annotations

from pegasus.localdiscord.env import DiscordEnv

FEATURES = {
    "Automod",
    "Community",
    "Core",
    "Economy",
    "Giveaways",
    "Language",
    "Levels",
    "Logs",
    "Moderation",
    "Privacy",
    "Public Pages",
    "Raid Response",
    "Retention",
    "Role Menus",
    "Security",
    "Tickets",
}


async def test_help_lists_every_command_under_its_feature(discord_env: DiscordEnv) -> None:
    reply = await discord_env.alice.slash("help")
    assert reply.ephemeral and reply.embed is not None
    fields = {field["name"]: field["value"] for field in reply.embed["fields"]}
    assert set(fields) == FEATURES  # no cog class names, no "Other" catch-all
    listed = {name for value in fields.values() for name in value.split()}
    synced = {f"`/{name}`" for name in discord_env.server.global_commands}
    assert listed == synced
    # Groups sit with their feature, beside the feature's plain commands.
    for feature, commands in {
        "Economy": ("`/economy`", "`/shop-admin`", "`/balance`"),
        "Levels": ("`/levels`", "`/xp`", "`/rankcard`", "`/rank`"),
        "Moderation": ("`/warning`", "`/automation`", "`/blacklist`", "`/ban`", "`/case`"),
        "Giveaways": ("`/giveaway`",),
        "Tickets": ("`/ticket`", "`/ticket-panel`"),
        "Privacy": ("`/privacy`",),
    }.items():
        assert set(commands) <= set(fields[feature].split()), (feature, fields[feature])
