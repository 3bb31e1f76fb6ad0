"""A guild's whole configuration as one document: exported, and imported in one transaction.

The document holds every declared setting of every feature (welcome and goodbye messages, the
server log and autoroles are community settings), the level rewards and XP multipliers, the shop's
items, the ticket panels and the warning automations. Nothing that members did is in it (no XP,
balances, tickets or cases), and nothing Discord-side (a panel's posted message).

An import is applied by the same service functions the commands call, so each part is checked
by the rule that checks it in Discord and audited as it would be; they run inside one
transaction, so the first refusal leaves everything as it was, and the refusal names where in the
document the problem is. What an import does with each part:

- `settings`: for each feature given, the settings given are set (the others keep their values);
  the rules between a feature's settings are checked on the result.
- `level_rewards`, `multipliers`: the guild's list becomes the document's.
- `shop_items` (by name), `automations` (by name), `ticket_panels` (by `panel_id`, when it is one
  of this guild's; otherwise a new panel): each is created or changed to match the document.
  Ones the document does not name are left as they are: members may hold an item, tickets may
  have come from a panel; remove them with their commands.

A part left out of the document is left alone. Exporting right after an import gives the
document back (with the new panels' ids).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from tortoise.transactions import in_transaction

from models.economy import ShopItemType
from models.levels import MultiplierTarget, RewardMode
from models.moderation import TriggerType
from pegasus import notify
from pegasus.errors import PegasusError, ValidationError, shown_input
from pegasus.i18n import _, format_number
from pegasus.services import directory
from pegasus.services import levels as level_rules
from pegasus.services.economy import shop
from pegasus.services.ids import check_snowflake
from pegasus.services.levels import Reward
from pegasus.services.moderation import automations
from pegasus.services.settings import apply_changes, declared, read_settings
from pegasus.services.tickets import panels
from pegasus.services.tickets.results import ButtonStyle, PanelButton, PanelInfo

__all__ = [
    "FORMAT",
    "AutomationEntry",
    "GuildConfiguration",
    "LevelRewardEntry",
    "MultiplierEntry",
    "PanelButtonEntry",
    "RoleReferences",
    "ShopItemEntry",
    "TicketPanelEntry",
    "export_configuration",
    "import_configuration",
    "role_references",
]

FORMAT = "pegasus.configuration.v1"
T = TypeVar("T")


@dataclass(frozen=True)
class LevelRewardEntry:
    """A role given at a level; `mode` None follows the guild's reward mode."""

    level: int
    role_id: int
    message: str | None = None
    mode: RewardMode | None = None


@dataclass(frozen=True)
class MultiplierEntry:
    """An XP multiplier in percent (150 = 1.5x) for a role or a channel."""

    target_type: MultiplierTarget
    target_id: int
    multiplier: int


@dataclass(frozen=True)
class ShopItemEntry:
    """An item of the shop, in the terms of `/shop-admin add`."""

    name: str
    price: int
    type: ShopItemType = ShopItemType.ITEM
    description: str = ""
    role_id: int | None = None  # role items: the role granted
    boost_kind: str | None = None  # boosts: "xp" or "rob_protection"
    multiplier: int | None = None  # xp boosts: percent
    duration_seconds: int | None = None  # boosts
    message: str | None = None  # custom items
    stock: int | None = None  # None: unlimited
    max_per_user: int | None = None
    cooldown_seconds: int = 0
    required_role_ids: list[int] = field(default_factory=list)
    min_level: int | None = None
    enabled: bool = True


@dataclass(frozen=True)
class PanelButtonEntry:
    """One button of a ticket panel: one type of ticket."""

    label: str
    style: ButtonStyle = ButtonStyle.PRIMARY
    emoji: str | None = None
    category_id: int | None = None
    support_role_ids: list[int] = field(default_factory=list)
    name_format: str = panels.DEFAULT_NAME_FORMAT
    welcome_message: str | None = None


@dataclass(frozen=True)
class TicketPanelEntry:
    """A ticket panel; `panel_id` names one of this guild's to change (None: a new panel)."""

    title: str
    description: str
    panel_id: str | None = None
    color: int | None = None
    category_id: int | None = None
    support_role_ids: list[int] = field(default_factory=list)
    max_tickets_per_user: int = 1
    is_active: bool = True
    buttons: list[PanelButtonEntry] = field(default_factory=list)


@dataclass(frozen=True)
class AutomationEntry:
    """A warning automation: when a member's warnings cross `trigger_value`, run `actions`."""

    name: str
    trigger_type: TriggerType
    trigger_value: int
    actions: list[dict[str, Any]]
    description: str | None = None
    window_days: int | None = None
    enabled: bool = False
    notify_channel_id: int | None = None


@dataclass(frozen=True)
class GuildConfiguration:
    """A guild's configuration. In an import, a part that is None is left as it is."""

    format: str = FORMAT
    settings: dict[str, dict[str, Any]] | None = None
    level_rewards: list[LevelRewardEntry] | None = None
    multipliers: list[MultiplierEntry] | None = None
    shop_items: list[ShopItemEntry] | None = None
    ticket_panels: list[TicketPanelEntry] | None = None
    automations: list[AutomationEntry] | None = None


# ----------------------------------------------------------------------------------- export


async def export_configuration(guild_id: int) -> GuildConfiguration:
    """Everything an import of this guild's configuration would set, as it is now."""
    return GuildConfiguration(
        settings={
            feature: await read_settings(spec, guild_id)
            for feature, spec in sorted(declared().items())
        },
        level_rewards=[_reward_entry(r) for r in await level_rules.list_rewards(guild_id)],
        multipliers=await _multipliers(guild_id),
        shop_items=[_item_entry(item) for item in await _shop_items(guild_id)],
        ticket_panels=[_panel_entry(p) for p in await panels.list_panels(guild_id)],
        automations=[_automation_entry(a) for a in await automations.list_automations(guild_id)],
    )


def _reward_entry(reward: Reward) -> LevelRewardEntry:
    return LevelRewardEntry(reward.level, reward.role_id, reward.message, reward.mode)


async def _multipliers(guild_id: int) -> list[MultiplierEntry]:
    from models.levels import XpMultiplier

    rows = await XpMultiplier.filter(guild_id=guild_id).order_by("target_type", "target_id")
    return [
        MultiplierEntry(MultiplierTarget(row.target_type), row.target_id, row.multiplier)
        for row in rows
    ]


async def _shop_items(guild_id: int) -> list[shop.ShopItem]:
    from models.economy import EconomyShopItem

    rows = await EconomyShopItem.filter(guild_id=guild_id).order_by("id")
    return [shop.ShopItem.from_row(row) for row in rows]


def _item_entry(item: shop.ShopItem) -> ShopItemEntry:
    effect, requirements = item.effect, item.requirements
    return ShopItemEntry(
        name=item.name,
        price=item.price,
        type=item.type,
        description=item.description,
        role_id=effect.get("role_id"),
        boost_kind=effect.get("kind"),
        multiplier=effect.get("multiplier"),
        duration_seconds=effect.get("duration_seconds"),
        message=effect.get("message"),
        stock=item.stock,
        max_per_user=item.max_per_user,
        cooldown_seconds=item.cooldown_seconds,
        required_role_ids=list(requirements.get("role_ids") or []),
        min_level=requirements.get("min_level"),
        enabled=item.enabled,
    )


def _button_entry(button: PanelButton) -> PanelButtonEntry:
    return PanelButtonEntry(
        label=button.label,
        style=button.style,
        emoji=button.emoji,
        category_id=button.category_id,
        support_role_ids=list(button.support_role_ids),
        name_format=button.name_format,
        welcome_message=button.welcome_message,
    )


def _panel_entry(panel: PanelInfo) -> TicketPanelEntry:
    return TicketPanelEntry(
        title=panel.title,
        description=panel.description,
        panel_id=panel.panel_id,
        color=panel.color,
        category_id=panel.category_id,
        support_role_ids=list(panel.support_role_ids),
        max_tickets_per_user=panel.max_tickets_per_user,
        is_active=panel.is_active,
        buttons=[_button_entry(b) for b in panel.buttons],
    )


def _automation_entry(automation: automations.Automation) -> AutomationEntry:
    return AutomationEntry(
        name=automation.name,
        trigger_type=automation.trigger_type,
        trigger_value=automation.trigger_value,
        actions=[dict(action) for action in automation.actions],
        description=automation.description,
        window_days=automation.window_days,
        enabled=automation.enabled,
        notify_channel_id=automation.notify_channel_id,
    )


# ------------------------------------------------------------------------------------ roles


@dataclass(frozen=True)
class RoleReferences:
    """The roles a configuration has the bot give (or, `pinged`, mention) on someone's behalf."""

    given: frozenset[int] = frozenset()
    autoroles: frozenset[int] = frozenset()
    pinged: frozenset[int] = frozenset()

    def __sub__(self, other: RoleReferences) -> RoleReferences:
        return RoleReferences(
            self.given - other.given, self.autoroles - other.autoroles, self.pinged - other.pinged
        )


def role_references(config: GuildConfiguration) -> RoleReferences:
    """Every role the document names for the bot to give or ping, by the rule that vets it."""
    given: set[int] = set()
    autoroles: set[int] = set()
    pinged: set[int] = set()
    settings = config.settings or {}
    moderation = settings.get("moderation") or {}
    community = settings.get("community") or {}
    security = settings.get("security") or {}
    given.update(_ids([moderation.get("mute_role_id")]))
    autoroles.update(_ids(community.get("autorole_role_ids") or []))
    pinged.update(_ids([security.get("security_alert_role_id")]))
    given.update(entry.role_id for entry in config.level_rewards or [])
    given.update(_ids(item.role_id for item in config.shop_items or []))
    for panel in config.ticket_panels or []:
        given.update(_ids(panel.support_role_ids))
        for button in panel.buttons:
            given.update(_ids(button.support_role_ids))
    for automation in config.automations or []:
        given.update(
            _ids(a.get("role_id") for a in automation.actions if isinstance(a, dict))
        )
    return RoleReferences(frozenset(given), frozenset(autoroles), frozenset(pinged))


def _ids(values: Iterable[Any]) -> list[int]:
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0]


# ----------------------------------------------------------------------------------- import


async def import_configuration(
    guild_id: int, config: GuildConfiguration, *, actor_id: int, now: datetime
) -> GuildConfiguration:
    """Apply `config` in one transaction (see the module's text); the guild's configuration
    afterwards. The first refusal, prefixed with where it is, changes nothing."""
    if config.format != FORMAT:
        raise ValidationError(
            _(
                "format: {format} is not a Pegasus configuration this version reads "
                "({expected}); export one with GET .../settings/export."
            ).format(format=shown_input(config.format), expected=FORMAT)
        )
    _check_settings_names(config.settings or {})
    _check_ids(config)
    await directory.ensure_guild(guild_id)
    async with in_transaction():
        for feature, values in sorted((config.settings or {}).items()):
            if values:
                await _at(
                    f"settings.{feature}",
                    apply_changes(declared()[feature], guild_id, actor_id, values),
                )
        if config.level_rewards is not None:
            await _replace_rewards(guild_id, config.level_rewards, actor_id)
        if config.multipliers is not None:
            await _replace_multipliers(guild_id, config.multipliers, actor_id)
        for index, item in enumerate(config.shop_items or []):
            await _at(f"shop_items[{index}]", _put_item(guild_id, item, actor_id))
        for index, panel in enumerate(config.ticket_panels or []):
            await _at(f"ticket_panels[{index}]", _put_panel(guild_id, panel, actor_id))
        for index, automation in enumerate(config.automations or []):
            await _at(
                f"automations[{index}]", _put_automation(guild_id, automation, actor_id, now)
            )
    # The services announced their changes from inside the transaction: announce again after
    # the commit, so that no process keeps a copy it reloaded before the commit.
    await notify.announce(notify.Topic.SETTINGS, guild_id)
    return await export_configuration(guild_id)


async def _at(where: str, step: Awaitable[T]) -> T:
    """Run one step of the import; a refusal says where in the document it is."""
    try:
        return await step
    except PegasusError as refusal:
        # Refusals whose class takes other arguments are told as what they are: a refusal.
        kind = type(refusal) if type(refusal).__init__ is PegasusError.__init__ else ValidationError
        raise kind(f"{where}: {refusal.template}", **refusal.refs) from None


def _check_settings_names(settings: Mapping[str, Mapping[str, Any]]) -> None:
    features = declared()
    for feature, values in settings.items():
        spec = features.get(feature)
        if spec is None:
            raise ValidationError(
                _("settings: {feature} is not a feature; the features are {features}.").format(
                    feature=shown_input(feature), features=", ".join(sorted(features))
                )
            )
        if not isinstance(values, Mapping):
            raise ValidationError(
                _("settings.{feature}: give an object of settings and values.").format(
                    feature=feature
                )
            )
        for name in values:
            if name not in spec:
                raise ValidationError(
                    _(
                        "settings.{feature}: {name} is not a {feature} setting; the "
                        "settings are {settings}."
                    ).format(
                        feature=feature, name=shown_input(name), settings=", ".join(spec.by_name)
                    )
                )


def _check_ids(config: GuildConfiguration) -> None:
    """Refuse an id no Discord id can be, before anything is stored (the columns are 64-bit)."""
    named: list[tuple[str, Iterable[int | None]]] = []
    for i, reward in enumerate(config.level_rewards or []):
        named.append((f"level_rewards[{i}]", [reward.role_id]))
    for i, multiplier in enumerate(config.multipliers or []):
        named.append((f"multipliers[{i}]", [multiplier.target_id]))
    for i, item in enumerate(config.shop_items or []):
        named.append((f"shop_items[{i}]", [item.role_id, *item.required_role_ids]))
    for i, panel in enumerate(config.ticket_panels or []):
        ids = [panel.category_id, *panel.support_role_ids]
        for button in panel.buttons:
            ids += [button.category_id, *button.support_role_ids]
        named.append((f"ticket_panels[{i}]", ids))
    for i, automation in enumerate(config.automations or []):
        role_ids = [a.get("role_id") for a in automation.actions if isinstance(a, dict)]
        named.append((f"automations[{i}]", [automation.notify_channel_id, *role_ids]))
    for where, values in named:
        for value in values:
            if isinstance(value, int) and not isinstance(value, bool):
                try:
                    check_snowflake(value)
                except ValidationError as refusal:
                    raise ValidationError(f"{where}: {refusal.template}") from None


async def _replace_rewards(
    guild_id: int, wanted: list[LevelRewardEntry], actor_id: int
) -> None:
    rewards = await level_rules.list_rewards(guild_id)
    current = {(r.level, r.role_id): _reward_entry(r) for r in rewards}
    keep = {(entry.level, entry.role_id): entry for entry in wanted}
    for key, entry in current.items():
        if keep.get(key) != entry:
            await level_rules.remove_reward(
                guild_id, entry.level, entry.role_id, actor_id=actor_id
            )
    for index, entry in enumerate(wanted):
        if current.get((entry.level, entry.role_id)) != entry:
            await _at(
                f"level_rewards[{index}]",
                level_rules.add_reward(
                    guild_id, entry.level, entry.role_id, message=entry.message, mode=entry.mode,
                    actor_id=actor_id,
                ),
            )


async def _replace_multipliers(
    guild_id: int, wanted: list[MultiplierEntry], actor_id: int
) -> None:
    targets = {(entry.target_type, entry.target_id) for entry in wanted}
    for entry in await _multipliers(guild_id):
        if (entry.target_type, entry.target_id) not in targets:
            await level_rules.remove_multiplier(
                guild_id, entry.target_type, entry.target_id, actor_id=actor_id
            )
    for index, entry in enumerate(wanted):
        await _at(
            f"multipliers[{index}]",
            level_rules.set_multiplier(
                guild_id, entry.target_type, entry.target_id, entry.multiplier, actor_id=actor_id
            ),
        )


async def _put_item(guild_id: int, entry: ShopItemEntry, actor_id: int) -> None:
    existing = {item.name.lower(): item for item in await _shop_items(guild_id)}
    item = existing.get(" ".join(entry.name.split()).lower())
    effect = shop.build_effect(
        entry.type,
        role_id=entry.role_id,
        boost_kind=entry.boost_kind,
        multiplier=entry.multiplier,
        duration_seconds=entry.duration_seconds,
        message=entry.message,
    )
    if item is None:
        created = await shop.add_item(
            guild_id, name=entry.name, price=entry.price, item_type=entry.type,
            description=entry.description, effect=effect, stock=entry.stock,
            max_per_user=entry.max_per_user, cooldown_seconds=entry.cooldown_seconds,
            required_role_ids=entry.required_role_ids, min_level=entry.min_level,
            actor_id=actor_id,
        )
        if not entry.enabled:
            await shop.edit_item(guild_id, created.name, enabled=False, actor_id=actor_id)
        return
    if _item_entry(item) == entry:
        return
    if item.type != entry.type:
        raise ValidationError(
            _(
                "{item} is a {kind} item here, and an import does not "
                "change an item's type: remove it with /shop-admin remove first."
            ).format(item=shown_input(item.name), kind=item.type.value)
        )
    await shop.edit_item(
        guild_id, item.name,
        name=entry.name, price=entry.price, description=entry.description,
        effect=effect, requirements=_requirements(entry),
        stock=-1 if entry.stock is None else entry.stock,
        max_per_user=-1 if entry.max_per_user is None else entry.max_per_user,
        cooldown_seconds=entry.cooldown_seconds, enabled=entry.enabled, actor_id=actor_id,
    )


def _requirements(entry: ShopItemEntry) -> dict[str, Any]:
    requirements: dict[str, Any] = {}
    if entry.required_role_ids:
        requirements["role_ids"] = sorted(set(entry.required_role_ids))
    if entry.min_level:
        if not 1 <= entry.min_level <= level_rules.MAX_LEVEL:
            raise ValidationError(
                _("The level must be between 1 and {maximum}.").format(
                    maximum=format_number(level_rules.MAX_LEVEL)
                )
            )
        requirements["min_level"] = entry.min_level
    return requirements


async def _put_panel(guild_id: int, entry: TicketPanelEntry, actor_id: int) -> None:
    ours = {panel.panel_id: panel for panel in await panels.list_panels(guild_id)}
    panel = ours.get(entry.panel_id or "")
    if panel is not None and _panel_entry(panel) == entry:
        return
    if panel is None:
        panel = await panels.create_panel(
            guild_id, title=entry.title, description=entry.description,
            support_role_ids=entry.support_role_ids, category_id=entry.category_id,
            max_tickets_per_user=entry.max_tickets_per_user, color=entry.color,
            actor_id=actor_id,
        )
    else:
        await panels.edit_panel(
            guild_id, panel.panel_id, title=entry.title, description=entry.description,
            color=entry.color, support_role_ids=entry.support_role_ids,
            category_id=entry.category_id, max_tickets_per_user=entry.max_tickets_per_user,
            actor_id=actor_id,
        )
    await _put_buttons(guild_id, panel, entry.buttons, actor_id)
    if panel.is_active != entry.is_active or not entry.is_active:
        await panels.edit_panel(
            guild_id, panel.panel_id, is_active=entry.is_active, actor_id=actor_id
        )


async def _put_buttons(
    guild_id: int, panel: PanelInfo, wanted: list[PanelButtonEntry], actor_id: int
) -> None:
    if [_button_entry(b) for b in panel.buttons] == wanted:
        return
    for _button in panel.buttons:
        await panels.edit_panel(guild_id, panel.panel_id, remove_button=1, actor_id=actor_id)
    for index, button in enumerate(wanted):
        await _at(
            f"buttons[{index}]",
            panels.add_button(
                guild_id, panel.panel_id, label=button.label, style=button.style,
                emoji=button.emoji, category_id=button.category_id,
                support_role_ids=button.support_role_ids, name_format=button.name_format,
                welcome_message=button.welcome_message, actor_id=actor_id,
            ),
        )


async def _put_automation(
    guild_id: int, entry: AutomationEntry, actor_id: int, now: datetime
) -> None:
    existing = {a.name: a for a in await automations.list_automations(guild_id)}
    current = existing.get(entry.name.strip())
    if current is not None:
        if _automation_entry(current) == entry:
            return
        # No edit exists for a rule: it is replaced, under its name.
        await automations.remove_automation(
            guild_id, current.automation_id, actor_id=actor_id, now=now
        )
    await automations.add_automation(
        guild_id, name=entry.name, trigger_type=entry.trigger_type,
        trigger_value=entry.trigger_value, actions=_checked_actions(entry.actions),
        actor_id=actor_id, now=now, window_days=entry.window_days,
        notify_channel_id=entry.notify_channel_id, description=entry.description,
        enabled=entry.enabled,
    )


ACTION_FIELDS = frozenset({"type", "duration_seconds", "role_id", "message"})


def _checked_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Actions with only the fields an action has, each of the type it takes (the service then
    checks them as the command's are)."""
    kinds = {"duration_seconds": int, "role_id": int, "message": str, "type": str}
    for action in actions:
        if not isinstance(action, dict) or "type" not in action:
            raise ValidationError(_("Each action is an object with a `type`."))
        for key, value in action.items():
            if key not in ACTION_FIELDS:
                raise ValidationError(
                    _("{key} is not part of an action; an action has {fields}.").format(
                        key=shown_input(key), fields=", ".join(sorted(ACTION_FIELDS))
                    )
                )
            if value is not None and (
                not isinstance(value, kinds[key]) or isinstance(value, bool)
            ):
                raise ValidationError(
                    _("The action's {key} is not a {kind}.").format(
                        key=key, kind=kinds[key].__name__
                    )
                )
    return actions
