"""The dashboard's giveaways page: running and ended giveaways, creating one, ending one now,
rerolling an ended one, cancelling a running one (after a confirmation page), a giveaway's
entrants a page at a time, and the check of its draw.

A third adapter over the giveaway services, beside `/giveaway` and the REST API
(`pegasus.web.api.giveaways`): the same draft, the same refusals, shown next to the form that
was sent. What needs Discord is queued exactly as the API queues it (`pegasus.web.jobs`): the
bot that owns the guild posts a new giveaway's message (and removes the giveaway if Discord
refuses), ends it with the draw and the announcement, announces a reroll, or takes the Enter
button off a cancelled giveaway's message; the page shows the job's state when reloaded. The
giveaway services audit nothing, so each change made here writes one audit row
(`giveaway.create`, `giveaway.end`, `giveaway.reroll`, `giveaway.cancel`) with source `web` and
the person as actor. The seed is shown only once a giveaway has ended; before, its hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from models.giveaways import GiveawayStatus
from pegasus.errors import PegasusError, ValidationError
from pegasus.i18n import N_, _, format_utc
from pegasus.services import giveaways as service
from pegasus.services.audit import acting_from, ensure_rows, record_audit
from pegasus.services.dashboard import (
    DashboardGuild,
    DashboardSession,
    display_names,
    public_pages_on,
)
from pegasus.services.durations import parse_duration
from pegasus.services.giveaways import GiveawayInfo, Verification
from pegasus.web import jobs
from pegasus.web.dashboard.forms import (
    Form,
    channel_choices,
    guild_names,
    id_choice,
    notice_shown,
    number,
    refusal_sentence,
    role_choices,
    sent_back,
    text,
    web_state,
)
from pegasus.web.dashboard.pages import (
    DASHBOARD_PREFIX,
    managed_guild,
    needs_session,
    not_found,
    person_context,
    render,
)

__all__ = ["add_routes"]

SHOWN = 50  # giveaways per list, and entrants per page
POSTABLE = frozenset({0})  # text channels: where `/giveaway start` posts
RUNNING = (GiveawayStatus.SCHEDULED, GiveawayStatus.ACTIVE)
FINISHED = (GiveawayStatus.ENDED, GiveawayStatus.CANCELLED)
JOB_TITLES = {
    jobs.JobKind.GIVEAWAY_POST.value: N_("Posting the giveaway"),
    jobs.JobKind.GIVEAWAY_END.value: N_("Ending the giveaway"),
    jobs.JobKind.GIVEAWAY_REROLL.value: N_("Rerolling the giveaway"),
    jobs.JobKind.GIVEAWAY_REFRESH.value: N_("Updating the giveaway's message"),
}


def add_routes(app: web.Application) -> None:
    page = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/giveaways"
    one = page + "/{giveaway_id}"
    app.router.add_get(page, giveaways_page)
    app.router.add_post(page, create_giveaway)
    app.router.add_get(one, giveaway_page)
    app.router.add_post(one + "/end", end_giveaway)
    app.router.add_post(one + "/reroll", reroll_giveaway)
    app.router.add_get(one + "/cancel", confirm_cancel)
    app.router.add_post(one + "/cancel", cancel_giveaway)


def _page_url(guild_id: int) -> str:
    return f"{DASHBOARD_PREFIX}/guilds/{guild_id}/giveaways"


def _giveaway_url(guild_id: int, giveaway_id: str) -> str:
    return f"{_page_url(guild_id)}/{giveaway_id}"


def _now(request: web.Request) -> datetime:
    return web_state(request).clock()


def _when(moment: datetime | None) -> str:
    return "" if moment is None else format_utc(moment)


# what the pages show -------------------------------------------------------------------------
async def _newest(guild_id: int, statuses: tuple[GiveawayStatus, ...]) -> list[GiveawayInfo]:
    found: list[GiveawayInfo] = []
    for status in statuses:
        found += await service.list_giveaways(guild_id, status, limit=SHOWN)
    found.sort(key=lambda giveaway: (giveaway.created_at, giveaway.id), reverse=True)
    return found[:SHOWN]


async def _job(request: web.Request, guild_id: int) -> jobs.Job | None:
    """The job named by `?job=`, if it is one of this guild's giveaway jobs."""
    raw = request.query.get("job", "")
    if not raw.isdigit() or len(raw) > 19:
        return None
    try:
        job = await jobs.get_job(int(raw), guild_id=guild_id)
    except PegasusError:
        return None
    return job if job.kind in JOB_TITLES else None


def _job_winners(job: jobs.Job | None) -> list[int]:
    if job is None or job.result is None:
        return []
    return [int(user_id) for user_id in job.result.get("winners") or ()]


async def _names_of(giveaways: list[GiveawayInfo], extra: list[int]) -> dict[int, str]:
    return await display_names([w for g in giveaways for w in g.winners] + extra)


async def _show_list(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    sent: Mapping[str, str] | None = None,
) -> web.Response:
    names = await guild_names(request, guild.id)
    running = await _newest(guild.id, RUNNING)
    finished = await _newest(guild.id, FINISHED)
    job = await _job(request, guild.id)
    return render(
        "giveaways_page.html",
        status=status,
        session=session,
        guild=guild,
        running=running,
        finished=finished,
        job=job,
        job_title=_(JOB_TITLES[job.kind]) if job and job.kind in JOB_TITLES else "",
        job_winners=_job_winners(job),
        people=await _names_of(running + finished, _job_winners(job)),
        text_channels=channel_choices(names, POSTABLE),
        roles=role_choices(names, guild.id),
        channel_name=lambda cid: names.channel_name(cid) if names else None,
        when=_when,
        errors=errors or {},
        sent=sent or {},
        notice=notice_shown(request, session.csrf_token),
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
        limits=_limits(),
    )


def _limits() -> dict[str, int]:
    return {
        "prize": service.MAX_PRIZE_LENGTH,
        "description": service.MAX_DESCRIPTION_LENGTH,
        "winners": service.MAX_WINNERS,
        "level": service.MAX_LEVEL,
        "age": service.MAX_AGE_DAYS,
        "bonus": service.MAX_BONUS_ENTRIES,
    }


@needs_session
async def giveaways_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await _show_list(request, session, guild)


def _after(request: web.Request) -> int | None:
    raw = request.query.get("after", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 2**63 else None


async def _verification(giveaway: GiveawayInfo) -> Verification | None:
    if giveaway.status is not GiveawayStatus.ENDED:
        return None
    return await service.verify(giveaway.guild_id, giveaway.giveaway_id)


async def _show_one(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    giveaway_id: str,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
) -> web.Response:
    try:
        giveaway, entrants, more = await service.entry_page(
            guild.id, giveaway_id, after_user_id=_after(request), limit=SHOWN
        )
    except PegasusError:  # no such giveaway here, or not a giveaway id: the same 404
        return not_found(session)
    names = await guild_names(request, guild.id)
    job = await _job(request, guild.id)
    people = await display_names(
        [user_id for user_id, _weight, _joined in entrants]
        + list(giveaway.winners)
        + _job_winners(job)
    )
    public = await public_pages_on(guild.id)
    return render(
        "giveaway_page.html",
        status=status,
        session=session,
        guild=guild,
        giveaway=giveaway,
        entrants=entrants,
        next_after=entrants[-1][0] if more and entrants else None,
        first_page=_after(request) is None,
        verification=await _verification(giveaway),
        public_url=(
            f"/public/guilds/{guild.id}/giveaways/{giveaway.giveaway_id}" if public else None
        ),
        job=job,
        job_title=_(JOB_TITLES[job.kind]) if job and job.kind in JOB_TITLES else "",
        job_winners=_job_winners(job),
        people=people,
        channel_name=lambda cid: names.channel_name(cid) if names else None,
        role_name=lambda rid: names.role_name(rid) if names else None,
        when=_when,
        errors=errors or {},
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
        this_url=_giveaway_url(guild.id, giveaway.giveaway_id),
        max_winners=service.MAX_WINNERS,
    )


@needs_session
async def giveaway_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await _show_one(request, session, guild, request.match_info["giveaway_id"])


# reading the create form ---------------------------------------------------------------------
def _duration(form: Form, name: str, what: str) -> int | None:
    value = text(form, name)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValidationError as refusal:
        raise ValidationError(
            _("{what}: {refusal}").format(what=what, refusal=refusal.plain())
        ) from refusal


def _requirements(form: Form, roles: list[tuple[int, str]]) -> service.Requirements:
    required = id_choice(form, "required_role_id", roles, _("a required role"))
    return service.Requirements(
        role_ids=(required,) if required else (),
        min_level=number(form, "min_level", _("The minimum level")),
        min_account_age_days=number(form, "min_account_age_days", _("The minimum account age")),
        min_server_age_days=number(form, "min_server_age_days", _("The minimum server age")),
    )


def _bonus(form: Form, roles: list[tuple[int, str]]) -> service.BonusEntries:
    bonus_role = id_choice(form, "bonus_role_id", roles, _("a bonus role"))
    extra = number(form, "bonus_entries", _("The bonus entries"))
    if extra is not None and bonus_role is None:
        raise ValidationError(_("Choose the bonus role that gives the bonus entries."))
    return service.BonusEntries(
        roles=((bonus_role, extra or 1),) if bonus_role else (),
        booster=number(form, "booster_bonus", _("The booster bonus")) or 0,
    )


def _draft(
    form: Form,
    guild_id: int,
    host_id: int,
    channels: list[tuple[int, str]],
    roles: list[tuple[int, str]],
) -> service.GiveawayDraft:
    """The form as `/giveaway start` and the API's body make their draft."""
    channel_id = id_choice(form, "channel_id", channels, _("a text channel"))
    if channel_id is None:
        raise ValidationError(_("Choose the text channel to post the giveaway in."))
    duration = _duration(form, "duration", _("How long it lasts"))
    if duration is None:
        raise ValidationError(_("Say how long the giveaway lasts, e.g. 1h or 2d."))
    winners = number(form, "winners", _("The number of winners"))
    return service.GiveawayDraft(
        guild_id=guild_id,
        channel_id=channel_id,
        host_id=host_id,
        prize=str(form.get("prize", "")),
        winner_count=1 if winners is None else winners,
        duration_seconds=duration,
        description=text(form, "description"),
        starts_in_seconds=_duration(form, "starts_in", _("Starts in")) or 0,
        requirements=_requirements(form, roles),
        bonus=_bonus(form, roles),
    )


def _draft_record(draft: service.GiveawayDraft) -> dict[str, Any]:
    """What was asked for, as the audit row keeps it."""
    return {
        "channel_id": draft.channel_id,
        "prize": draft.prize.strip(),
        "winners": draft.winner_count,
        "duration_seconds": draft.duration_seconds,
        "starts_in_seconds": draft.starts_in_seconds,
        "description": draft.description,
        "requirements": draft.requirements.to_json(),
        "bonus_entries": draft.bonus.to_json(),
    }


async def _audit(
    guild_id: int,
    session: DashboardSession,
    action: str,
    giveaway_id: str,
    after: Mapping[str, Any],
) -> None:
    """One audit row for a change the giveaway services do not audit themselves."""
    await ensure_rows(guild_id, [session.user_id])
    await record_audit(
        guild_id=guild_id,
        actor_id=session.user_id,
        action=action,
        target_type="giveaway",
        target_id=giveaway_id,
        after=after,
    )


def _to_job(url: str, job: jobs.Job) -> web.HTTPFound:
    return web.HTTPFound(f"{url}?job={job.id}")


# changes -------------------------------------------------------------------------------------
@needs_session
async def create_giveaway(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    names = await guild_names(request, guild.id)
    try:
        draft = _draft(
            form,
            guild.id,
            session.user_id,
            channel_choices(names, POSTABLE),
            role_choices(names, guild.id),
        )
        with acting_from(person_context(request, session)):
            giveaway = await service.create_giveaway(draft, now=_now(request))
            # As the API: the bot posts its message, or removes it if Discord refuses.
            job = await jobs.enqueue_giveaway_post(
                guild.id, giveaway.giveaway_id, actor_id=session.user_id, now=_now(request)
            )
            await _audit(
                guild.id,
                session,
                "giveaway.create",
                giveaway.giveaway_id,
                {**_draft_record(draft), "job": job.id},
            )
    except PegasusError as refusal:
        return await _refused_list(request, session, guild, "create", refusal, form)
    raise _to_job(_page_url(guild.id), job)


@needs_session
async def end_giveaway(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    giveaway_id = request.match_info["giveaway_id"]
    try:
        with acting_from(person_context(request, session)):
            job = await jobs.enqueue_giveaway_end(
                guild.id, giveaway_id, actor_id=session.user_id, now=_now(request)
            )
            giveaway = await service.get_giveaway(guild.id, giveaway_id)
            await _audit(guild.id, session, "giveaway.end", giveaway.giveaway_id, {"job": job.id})
    except PegasusError as refusal:
        return await _refused_one(request, session, guild, giveaway_id, "end", refusal)
    raise _to_job(_giveaway_url(guild.id, giveaway.giveaway_id), job)


@needs_session
async def reroll_giveaway(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    giveaway_id = request.match_info["giveaway_id"]
    form = await request.post()
    try:
        count = number(form, "count", _("The number of new winners"))
        with acting_from(person_context(request, session)):
            job = await jobs.enqueue_giveaway_reroll(
                guild.id,
                giveaway_id,
                1 if count is None else count,
                actor_id=session.user_id,
                now=_now(request),
            )
            giveaway = await service.get_giveaway(guild.id, giveaway_id)
            await _audit(
                guild.id,
                session,
                "giveaway.reroll",
                giveaway.giveaway_id,
                {"count": 1 if count is None else count, "job": job.id},
            )
    except PegasusError as refusal:
        return await _refused_one(request, session, guild, giveaway_id, "reroll", refusal)
    raise _to_job(_giveaway_url(guild.id, giveaway.giveaway_id), job)


@needs_session
async def confirm_cancel(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """What cancelling means, and the button that does it (a running giveaway only)."""
    session, guild = await managed_guild(request, session)
    try:
        giveaway = await service.get_giveaway(guild.id, request.match_info["giveaway_id"])
    except PegasusError:
        return not_found(session)
    this_url = _giveaway_url(guild.id, giveaway.giveaway_id)
    if giveaway.status not in RUNNING:
        raise web.HTTPFound(this_url)  # nothing to cancel: its page says why
    return render(
        "giveaway_cancel.html",
        session=session,
        guild=guild,
        giveaway=giveaway,
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
        this_url=this_url,
    )


@needs_session
async def cancel_giveaway(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """As the API's cancel: nobody wins, its timers are cancelled, and the bot takes the Enter
    button off its message (a queued job, when it has a message)."""
    session, guild = await managed_guild(request, session)
    giveaway_id = request.match_info["giveaway_id"]
    try:
        with acting_from(person_context(request, session)):
            cancelled = await service.cancel_giveaway(
                guild.id, giveaway_id, now=_now(request), by=session.user_id
            )
            job = await jobs.enqueue_giveaway_refresh(
                guild.id, cancelled.giveaway_id, actor_id=session.user_id, now=_now(request)
            )
            await _audit(
                guild.id,
                session,
                "giveaway.cancel",
                cancelled.giveaway_id,
                {"status": cancelled.status.value, "job": job.id if job else None},
            )
    except PegasusError as refusal:
        return await _refused_one(request, session, guild, giveaway_id, "cancel", refusal)
    this_url = _giveaway_url(guild.id, cancelled.giveaway_id)
    if job is None:
        raise web.HTTPFound(this_url)
    raise _to_job(this_url, job)


async def _refused_list(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    form_name: str,
    refusal: PegasusError,
    form: Form | None,
) -> web.Response:
    """The list again, with the service's sentence next to the form and what was typed kept."""
    sentence = refusal_sentence(refusal, await guild_names(request, guild.id))
    return await _show_list(
        request,
        session,
        guild,
        status=400,
        errors={form_name: sentence},
        sent=sent_back(form_name, form),
    )


async def _refused_one(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    giveaway_id: str,
    form_name: str,
    refusal: PegasusError,
) -> web.Response:
    sentence = refusal_sentence(refusal, await guild_names(request, guild.id))
    return await _show_one(
        request, session, guild, giveaway_id, status=400, errors={form_name: sentence}
    )
