"""Property tests at the service level with a database: arbitrary input is either carried out
or refused with a proper message (`refusals.check_refusal`), and a refused call leaves every
table exactly as it was (a snapshot of the whole database before and after)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from models.ids import ALPHABET
from pegasus.errors import NotFoundError, PegasusError
from pegasus.services import (
    community,
    economy,
    giveaways,
    ids,
    levels,
    moderation,
    security,
    tickets,
)
from pegasus.services.audit import ensure_rows
from pegasus.services.durations import parse_duration

from .snapshots import OnTestLoop, run_in_thread

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GUILD, ALICE, BOB, MOD = 10**17, 10**17 + 1, 10**17 + 2, 10**17 + 3

# Each example touches the database, so fewer of them than for the pure parsers.
DB = settings(max_examples=40, deadline=None)

texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="0123456789 ,.-kmall#{}\n", max_size=20),
)
ints = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-3, max_value=200),
)


async def test_money_typed_as_text_moves_or_changes_nothing(db: str) -> None:
    run = OnTestLoop("EconomySettings", "EconomyBalance", "EconomyTransaction")
    # Both accounts exist first: a payment opens them (with the starting balance) even when it
    # is then refused, which is how accounts come to be, not a change made by the bad input.
    await economy.ensure_accounts(GUILD, [ALICE, BOB])
    await economy.admin_adjust(GUILD, MOD, ALICE, 1_000, take=False)
    start, _ = await economy.total_money(GUILD)

    @DB
    @given(st.sampled_from(["pay", "deposit", "withdraw"]), texts)
    @example("pay", "9" * 5000)
    @example("deposit", "all")
    @example("pay", "1,000,001")
    def check(operation: str, text: str) -> None:
        async def act() -> object:
            amount = economy.parse_amount(text)
            if operation == "pay":
                return await economy.pay(GUILD, ALICE, BOB, amount)
            if operation == "deposit":
                return await economy.deposit(GUILD, ALICE, amount)
            return await economy.withdraw(GUILD, ALICE, amount)

        run.refused_or_done(act)
        wallets, ledger = run(economy.total_money(GUILD))
        assert wallets == ledger == start

    await run_in_thread(check)


settings_changes = st.fixed_dictionaries(
    {},
    optional={
        "min_bet": ints,
        "max_bet": ints,
        "work_min": ints,
        "work_max": ints,
        "currency_name": texts,
        "currency_symbol": texts,
        "rob_enabled": st.one_of(st.booleans(), ints),
    },
)


async def test_economy_settings_and_bet_limits_apply_or_change_nothing(db: str) -> None:
    run = OnTestLoop("EconomySettings")
    run_result = await economy.get_settings(GUILD)  # the defaults row exists beforehand
    assert run_result.min_bet <= run_result.max_bet

    @DB
    @given(settings_changes)
    @example({"min_bet": 500, "max_bet": 10})
    @example({"min_bet": 2**63 - 1})
    def check(changes: dict[str, object]) -> None:
        result = run.refused_or_done(lambda: economy.update_settings(GUILD, **changes))
        stored = run(economy.get_settings(GUILD))
        assert stored.min_bet <= stored.max_bet and stored.work_min <= stored.work_max
        if not isinstance(result, PegasusError):
            for name, value in changes.items():
                # As the declaration stores it (text is trimmed).
                assert getattr(stored, name) == economy.SETTINGS[name].check(value)

    await run_in_thread(check)


async def test_warnings_are_issued_or_change_nothing(db: str) -> None:
    run = OnTestLoop(
        "ModCase", "MemberWarning", "WarningEdit", "WarningAutomation", "ModerationSettings"
    )

    @DB
    @given(
        title=texts,
        level=ints,
        description=st.one_of(st.none(), texts, st.just("d" * 2001)),
        proof=st.lists(texts, max_size=3),
        expires=st.one_of(st.none(), ints),
    )
    @example(title="Spam", level=6, description=None, proof=[], expires=None)
    @example(title="Spam", level=1, description=None, proof=[], expires=-5)
    def check(
        title: str, level: int, description: str | None, proof: list[str], expires: int | None
    ) -> None:
        result = run.refused_or_done(
            lambda: moderation.issue_warning(
                guild_id=GUILD,
                user_id=BOB,
                moderator_id=MOD,
                title=title,
                now=NOW,
                description=description,
                level=level,
                proof=proof,
                expires_in_seconds=expires,
                rng=random.Random(len(title)),
            )
        )
        if not isinstance(result, PegasusError):
            assert moderation.MIN_LEVEL <= result.warning.level <= moderation.MAX_LEVEL

    await run_in_thread(check)


async def test_giveaway_options_start_or_change_nothing(db: str) -> None:
    run = OnTestLoop("Giveaway", "GiveawayEntry")

    @DB
    @given(
        prize=texts,
        winners=ints,
        duration=st.one_of(ints, texts),
        starts_in=ints,
        bonus=st.lists(st.tuples(st.integers(1, 2**63 - 1), ints), max_size=3),
        booster=ints,
        min_level=st.one_of(st.none(), ints),
    )
    @example(
        prize="Nitro", winners=0, duration=60, starts_in=0, bonus=[], booster=0, min_level=None
    )
    @example(
        prize="Nitro", winners=1, duration="1h", starts_in=-1, bonus=[], booster=0, min_level=None
    )
    @example(
        prize="Nitro",
        winners=1,
        duration=60,
        starts_in=0,
        bonus=[(5, 101)],
        booster=0,
        min_level=None,
    )
    def check(
        prize: str,
        winners: int,
        duration: int | str,
        starts_in: int,
        bonus: list[tuple[int, int]],
        booster: int,
        min_level: int | None,
    ) -> None:
        async def act() -> object:
            seconds = parse_duration(duration) if isinstance(duration, str) else duration
            draft = giveaways.GiveawayDraft(
                guild_id=GUILD,
                channel_id=GUILD + 50,
                host_id=MOD,
                prize=prize,
                winner_count=winners,
                duration_seconds=seconds,
                starts_in_seconds=starts_in,
                requirements=giveaways.Requirements(min_level=min_level),
                bonus=giveaways.BonusEntries(roles=tuple(bonus), booster=booster),
            )
            return await giveaways.create_giveaway(draft, now=NOW, rng=random.Random(1))

        run.refused_or_done(act)

    await run_in_thread(check)


async def test_shop_items_are_added_or_change_nothing(db: str) -> None:
    run = OnTestLoop("EconomyShopItem", "EconomySettings")

    @DB
    @given(
        name=texts,
        price=ints,
        item_type=st.sampled_from(list(economy.ShopItemType)),
        stock=st.one_of(st.none(), ints),
        max_per_user=st.one_of(st.none(), ints),
        cooldown=ints,
        min_level=st.one_of(st.none(), ints),
        boost=st.tuples(st.sampled_from(["xp", "rob_protection", "x"]), ints, ints),
    )
    @example(
        name="Cake",
        price=0,
        item_type=economy.ShopItemType.ITEM,
        stock=None,
        max_per_user=None,
        cooldown=0,
        min_level=None,
        boost=("xp", 150, 3600),
    )
    def check(
        name: str,
        price: int,
        item_type: economy.ShopItemType,
        stock: int | None,
        max_per_user: int | None,
        cooldown: int,
        min_level: int | None,
        boost: tuple[str, int, int],
    ) -> None:
        async def act() -> object:
            kind, multiplier, seconds = boost
            effect = economy.build_effect(
                item_type,
                role_id=GUILD + 7,
                boost_kind=kind,
                multiplier=multiplier,
                duration_seconds=seconds,
                message=name,
            )
            return await economy.add_item(
                GUILD,
                name=name,
                price=price,
                item_type=item_type,
                effect=effect,
                stock=stock,
                max_per_user=max_per_user,
                cooldown_seconds=cooldown,
                min_level=min_level,
            )

        result = run.refused_or_done(act)
        if not isinstance(result, PegasusError):
            assert result.price > 0 and result.name == result.name.strip() and result.name

    await run_in_thread(check)


async def test_automations_are_added_or_change_nothing(db: str) -> None:
    run = OnTestLoop("WarningAutomation")

    @DB
    @given(
        name=texts,
        trigger=st.one_of(st.sampled_from(list(moderation.TriggerType)), texts),
        value=ints,
        action=st.one_of(st.sampled_from(list(moderation.AutomationActionType)), texts),
        duration=st.one_of(st.none(), ints),
        message=st.one_of(st.none(), texts),
        window=st.one_of(st.none(), ints),
    )
    @example(
        name="Three strikes",
        trigger="warn_counts",
        value=3,
        action="ban",
        duration=None,
        message=None,
        window=None,
    )
    @example(
        name="Three strikes",
        trigger="warn_count",
        value=3,
        action="banish",
        duration=None,
        message=None,
        window=None,
    )
    def check(
        name: str,
        trigger: str,
        value: int,
        action: str,
        duration: int | None,
        message: str | None,
        window: int | None,
    ) -> None:
        async def act() -> object:
            built = moderation.build_action(
                action, duration_seconds=duration, role_id=GUILD + 9, message=message
            )
            return await moderation.add_automation(
                GUILD,
                name=name,
                trigger_type=trigger,
                trigger_value=value,
                actions=[built],
                actor_id=MOD,
                now=NOW,
                window_days=window,
                rng=random.Random(value),
            )

        run.refused_or_done(act)

    await run_in_thread(check)


async def test_api_keys_are_created_or_change_nothing(db: str) -> None:
    run = OnTestLoop("ApiKey", "SecurityLog")

    @DB
    @given(name=texts, scopes=texts, expires=st.one_of(st.none(), ints), rate=ints)
    @example(name="dash", scopes="read", expires=None, rate=0)
    @example(name="dash", scopes="economy:rea", expires=None, rate=60)
    def check(name: str, scopes: str, expires: int | None, rate: int) -> None:
        async def act() -> object:
            return await security.create_api_key(
                owner_id=MOD,
                name=name,
                scopes=security.parse_scopes(scopes),
                guild_id=GUILD,
                now=NOW,
                is_bot_owner=False,
                is_guild_admin=True,
                expires_in_seconds=expires,
                rate_limit=rate,
                rng=random.Random(rate),
            )

        run.refused_or_done(act)

    await run_in_thread(check)


async def test_greetings_are_set_or_change_nothing(db: str) -> None:
    run = OnTestLoop("GuildSettings")
    optional_text = st.one_of(st.none(), texts, st.just("none"))
    urls = st.one_of(optional_text, st.just("https://example.com/a.png"), st.just("https://a\nb"))

    @DB
    @given(
        kind=st.sampled_from(list(community.GreetingKind)),
        message=optional_text,
        colour=optional_text,
        title=optional_text,
        image=urls,
        dm=st.one_of(st.none(), st.booleans()),
    )
    @example(
        kind=community.GreetingKind.WELCOME,
        message="{server}" * 225,
        colour=None,
        title=None,
        image=None,
        dm=None,
    )
    def check(
        kind: community.GreetingKind,
        message: str | None,
        colour: str | None,
        title: str | None,
        image: str | None,
        dm: bool | None,
    ) -> None:
        run.refused_or_done(
            lambda: community.set_greeting(
                GUILD,
                MOD,
                kind,
                channel_id=GUILD + 1,
                message=message,
                embed_color=colour,
                embed_title=title,
                embed_image=image,
                dm_enabled=dm,
            )
        )

    await run_in_thread(check)


async def test_rank_cards_are_set_or_change_nothing(db: str) -> None:
    run = OnTestLoop("UserXP")

    @DB
    @given(background=st.one_of(st.none(), texts), accent=st.one_of(st.none(), texts))
    @example(background="https://[", accent=None)
    @example(background=None, accent="#12345\n6")
    def check(background: str | None, accent: str | None) -> None:
        run.refused_or_done(
            lambda: levels.set_rank_card(ALICE, background=background, accent=accent)
        )

    await run_in_thread(check)


# ------------------------------------------------------------------------------- typed ids

# Ids as people type them, and as they go wrong: too long for the column, stray characters, a
# NUL (which PostgreSQL refuses in text), line breaks.
typed_ids = st.one_of(
    texts,
    st.builds(
        lambda prefix, body: prefix + body,
        st.sampled_from(["W-", "G-", "TP-", "A-", "I-", "w ", ""]),
        st.text(alphabet=ALPHABET + "01ilo -_\x00\n`", max_size=40),
    ),
)

ID_LOOKUPS: dict[str, Callable[[str], Awaitable[object]]] = {
    "warning history": lambda typed: moderation.warning_history(GUILD, typed),
    "warning edit": lambda typed: moderation.edit_warning(
        GUILD, typed, editor_id=MOD, now=NOW, title="Rude"
    ),
    "warning remove": lambda typed: moderation.remove_warning(
        GUILD, typed, remover_id=MOD, now=NOW, reason="sorted"
    ),
    "giveaway end": lambda typed: giveaways.end_now(GUILD, typed, now=NOW, by=MOD),
    "giveaway cancel": lambda typed: giveaways.cancel_giveaway(GUILD, typed, now=NOW, by=MOD),
    "giveaway entries": lambda typed: giveaways.list_entries(GUILD, typed),
    "ticket panel": lambda typed: tickets.get_panel(GUILD, typed),
    "ticket panel button": lambda typed: tickets.add_button(GUILD, typed, label="Help"),
    "ticket panel sent": lambda typed: tickets.record_panel_message(GUILD, typed, GUILD + 1, 5),
    "ticket panel delete": lambda typed: tickets.delete_panel(GUILD, typed),
    "ticket open": lambda typed: tickets.open_ticket(
        GUILD, typed, 0, ALICE, reason=None, user_name="alice", now=NOW
    ),
    "ticket check": lambda typed: tickets.check_can_open(GUILD, typed, 0, ALICE),
    "automation remove": lambda typed: moderation.remove_automation(
        GUILD, typed, actor_id=MOD, now=NOW
    ),
    "automation toggle": lambda typed: moderation.toggle_automation(
        GUILD, typed, actor_id=MOD, now=NOW
    ),
    "automation simulate": lambda typed: moderation.simulate(GUILD, typed),
    "incident": lambda typed: security.get_incident(GUILD, typed),
    "incident note": lambda typed: security.add_incident_note(GUILD, typed, MOD, "seen", NOW),
    "shop item": lambda typed: economy.find_item(GUILD, typed),
    "transaction": lambda typed: economy.find_transaction(GUILD, typed),
    # Autocomplete searches: an answer, never an error.
    "giveaway search": lambda typed: giveaways.suggest_giveaways(GUILD, typed),
    "shop search": lambda typed: economy.item_names(GUILD, typed, include_disabled=True),
    "held items search": lambda typed: economy.held_item_names(GUILD, ALICE, typed),
}
SEARCHES = ("giveaway search", "shop search", "held items search")


async def test_lookups_by_typed_id_find_or_change_nothing(db: str) -> None:
    """Every service function that takes a public id as typed: a wrong one, of any length or
    shape, is "There is no … in this server." and changes nothing."""
    run = OnTestLoop(
        "MemberWarning",
        "WarningEdit",
        "ModCase",
        "ModerationSettings",
        "Giveaway",
        "GiveawayEntry",
        "TicketPanel",
        "Ticket",
        "TicketSettings",
        "WarningAutomation",
        "SecurityIncident",
    )
    # One real row of each kind, so wrong ids are looked for among real ones.
    await moderation.issue_warning(
        guild_id=GUILD, user_id=BOB, moderator_id=MOD, title="Spam", now=NOW, rng=random.Random(1)
    )
    panel = await tickets.create_panel(
        GUILD, title="Support", description="Help", rng=random.Random(2)
    )
    await tickets.add_button(GUILD, panel.panel_id, label="Help")

    @DB
    @given(st.sampled_from(sorted(ID_LOOKUPS)), typed_ids)
    @example("warning remove", "W-" + "Z" * 40)
    @example("giveaway end", "G-" + "Z" * 15)
    @example("ticket panel", "TP-ZZ\x00ZZ")
    @example("ticket open", "TP-" + "Z" * 40)
    @example("incident note", "I-ZZZZZ\nZ")
    @example("shop item", "Cake\n# Free money")
    @example("shop item", "Ca\x00ke")
    @example("giveaway search", "G-\x00")
    @example("shop search", "\x00")
    @example("held items search", "Ca\x00")
    def check(lookup: str, typed: str) -> None:
        result = run.refused_or_done(lambda: ID_LOOKUPS[lookup](typed))
        if lookup in SEARCHES:
            assert isinstance(result, list), result
        if isinstance(result, NotFoundError) and str(result).startswith("There is no "):
            assert len(str(result)) <= 100, "the id is shown shortened"

    await run_in_thread(check)


NUMBER_LOOKUPS: dict[str, Callable[[int], Awaitable[object]]] = {
    "case": lambda number: moderation.get_case(GUILD, number),
    "case reason": lambda number: moderation.amend_reason(
        GUILD, number, "typo", editor_id=MOD, now=NOW
    ),
    "ticket": lambda number: tickets.ticket_by_number(GUILD, number),
}


async def test_lookups_by_number_find_or_change_nothing(db: str) -> None:
    """Case and ticket numbers live in 32-bit columns; Discord lets people type up to 2**53."""
    run = OnTestLoop("ModCase", "ModerationSettings", "Ticket", "TicketSettings")
    # The rows a case refers to exist first: an amendment creates them even when it is then
    # refused, which is how they come to be, not a change made by the bad input.
    await moderation.prepare_case(GUILD, [MOD])

    @DB
    @given(st.sampled_from(sorted(NUMBER_LOOKUPS)), st.one_of(ints, st.integers(2**31, 2**70)))
    @example("case", 2**31)
    @example("case reason", 2**53)
    @example("ticket", 2**64)
    def check(lookup: str, number: int) -> None:
        run.refused_or_done(lambda: NUMBER_LOOKUPS[lookup](number))

    await run_in_thread(check)


async def test_blacklist_entries_for_any_number_are_kept_or_change_nothing(db: str) -> None:
    """A number no Discord id can be (0, negative, past 2**63 - 1) is refused with a sentence."""
    run = OnTestLoop("Blacklist")
    await ensure_rows(GUILD, [MOD])  # the actor's rows, as after any earlier command

    @DB
    @given(
        st.sampled_from(["add", "remove"]),
        st.sampled_from(list(moderation.GUILD_KINDS)),
        st.one_of(ints, st.integers(-(2**70), 2**70)),
    )
    @example("add", moderation.BlacklistEntityType.USER, 2**64)
    @example("remove", moderation.BlacklistEntityType.ROLE, 2**63)
    @example("add", moderation.BlacklistEntityType.CHANNEL, 0)
    def check(operation: str, kind: moderation.BlacklistEntityType, entity_id: int) -> None:
        async def act() -> object:
            if operation == "add":
                return await moderation.add_entry(
                    kind, entity_id, guild_id=GUILD, actor_id=MOD, reason="spam", now=NOW
                )
            return await moderation.remove_entry(
                kind, entity_id, guild_id=GUILD, actor_id=MOD, now=NOW
            )

        result = run.refused_or_done(act)
        if not isinstance(result, PegasusError):
            assert 0 < entity_id <= ids.MAX_SNOWFLAKE

    await run_in_thread(check)
