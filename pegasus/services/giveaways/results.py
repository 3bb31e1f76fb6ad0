"""What the giveaway services take and hand back: plain, frozen values, never database rows."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.giveaways import Giveaway, GiveawayStatus
from pegasus.errors import ValidationError

Entry = tuple[int, int]  # (user id, weight)


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a member needs to enter. Every listed role is required."""

    role_ids: tuple[int, ...] = ()
    min_level: int | None = None
    min_account_age_days: int | None = None
    min_server_age_days: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "role_ids": list(self.role_ids),
            "min_level": self.min_level,
            "min_account_age_days": self.min_account_age_days,
            "min_server_age_days": self.min_server_age_days,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Requirements:
        data = data or {}
        return cls(
            role_ids=tuple(int(r) for r in data.get("role_ids") or ()),
            min_level=data.get("min_level"),
            min_account_age_days=data.get("min_account_age_days"),
            min_server_age_days=data.get("min_server_age_days"),
        )

    @property
    def is_empty(self) -> bool:
        return not self.role_ids and not any(
            (self.min_level, self.min_account_age_days, self.min_server_age_days)
        )


@dataclass(frozen=True, slots=True)
class BonusEntries:
    """Extra entries: per role held (they add up) and for boosting the server."""

    roles: tuple[tuple[int, int], ...] = ()  # (role id, extra entries)
    booster: int = 0

    def weight_for(self, role_ids: Collection[int], is_booster: bool) -> int:
        """1 for the entry itself plus every bonus that applies."""
        extra = sum(bonus for role_id, bonus in self.roles if role_id in role_ids)
        if is_booster:
            extra += self.booster
        return 1 + extra

    def to_json(self) -> dict[str, Any]:
        return {
            "roles": {str(role_id): bonus for role_id, bonus in self.roles},
            "booster": self.booster,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> BonusEntries:
        data = data or {}
        roles = tuple(sorted((int(k), int(v)) for k, v in (data.get("roles") or {}).items()))
        return cls(roles=roles, booster=int(data.get("booster") or 0))

    @property
    def is_empty(self) -> bool:
        return not self.roles and not self.booster


@dataclass(frozen=True, slots=True)
class Entrant:
    """The member clicking Enter, as far as requirements and bonuses need to know."""

    user_id: int
    role_ids: frozenset[int] = frozenset()
    is_booster: bool = False
    account_created_at: datetime | None = None
    joined_at: datetime | None = None  # when they joined the server


@dataclass(frozen=True, slots=True)
class GiveawayDraft:
    """What `/giveaway start` asks for."""

    guild_id: int
    channel_id: int
    host_id: int | None
    prize: str
    winner_count: int
    duration_seconds: int
    description: str | None = None
    starts_in_seconds: int = 0
    requirements: Requirements = field(default_factory=Requirements)
    bonus: BonusEntries = field(default_factory=BonusEntries)


@dataclass(frozen=True, slots=True)
class EntryResult:
    entered: bool  # False: the click took the member out of the giveaway
    weight: int
    entry_count: int


@dataclass(frozen=True, slots=True)
class DrawRecord:
    round: int
    count: int
    excluded: tuple[int, ...]
    winners: tuple[int, ...]
    at: str
    by: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "count": self.count,
            "excluded": list(self.excluded),
            "winners": list(self.winners),
            "at": self.at,
            "by": self.by,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DrawRecord:
        return cls(
            round=int(data["round"]),
            count=int(data["count"]),
            excluded=tuple(int(u) for u in data.get("excluded") or ()),
            winners=tuple(int(u) for u in data.get("winners") or ()),
            at=str(data.get("at") or ""),
            by=data.get("by"),
        )


@dataclass(frozen=True, slots=True)
class DrawCheck:
    record: DrawRecord
    recomputed: tuple[int, ...]
    excludes_previous_winners: bool

    @property
    def ok(self) -> bool:
        return self.recomputed == self.record.winners and self.excludes_previous_winners


@dataclass(frozen=True, slots=True)
class Verification:
    giveaway: GiveawayInfo
    seed_matches: bool
    entries_match: bool
    draws: tuple[DrawCheck, ...]

    @property
    def ok(self) -> bool:
        return self.seed_matches and self.entries_match and all(d.ok for d in self.draws)


class RequirementNotMet(ValidationError):
    """The member may not enter; the message says which requirement failed."""


@dataclass(frozen=True, slots=True)
class GiveawayInfo:
    """One giveaway as it is now. `seed` is None until it has ended: only its hash is public
    while entries are open."""

    id: int
    giveaway_id: str  # the public id, e.g. G-7K2QX
    guild_id: int
    channel_id: int
    message_id: int | None
    host_id: int | None
    prize: str
    description: str | None
    winner_count: int
    starts_at: datetime
    ends_at: datetime
    status: GiveawayStatus
    entry_count: int
    requirements: Requirements
    bonus_entries: BonusEntries
    seed_hash: str
    seed: str | None
    entries_digest: str | None
    winners: tuple[int, ...]
    draws: tuple[DrawRecord, ...]
    ended_at: datetime | None
    announced_at: datetime | None
    announcement_confirmed_at: datetime | None
    cancelled_by_id: int | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Giveaway) -> GiveawayInfo:
        status = GiveawayStatus(row.status)
        return cls(
            id=row.id,
            giveaway_id=row.giveaway_id,
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            channel_id=row.channel_id,
            message_id=row.message_id,
            host_id=row.host_id,  # type: ignore[attr-defined]
            prize=row.prize,
            description=row.description,
            winner_count=row.winner_count,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=status,
            entry_count=row.entry_count,
            requirements=Requirements.from_json(row.requirements),
            bonus_entries=BonusEntries.from_json(row.bonus_entries),
            seed_hash=row.seed_hash,
            seed=row.seed if status is GiveawayStatus.ENDED else None,
            entries_digest=row.entries_digest,
            winners=tuple(int(user_id) for user_id in row.winners),
            draws=tuple(DrawRecord.from_json(draw) for draw in row.draws),
            ended_at=row.ended_at,
            announced_at=row.announced_at,
            announcement_confirmed_at=row.announcement_confirmed_at,
            cancelled_by_id=row.cancelled_by_id,  # type: ignore[attr-defined]
            created_at=row.created_at,
        )
