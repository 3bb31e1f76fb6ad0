"""The dashboard's languages: the server's language chosen on the guild page (stored in
`guilds.language`, audited), and each page in the reader's language (their own choice, else
their browser's `Accept-Language`, else English)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import aiohttp

from models.guilds import Guild
from models.security import AuditLog
from pegasus.i18n import remember_guild_locale, remember_user_locale, use_locale
from pegasus.localdiscord.server import LocalDiscord
from pegasus.services import directory
from pegasus.services.audit import AuditSource
from pegasus.services.dashboard import set_public_pages
from pegasus.services.language import set_server_language
from pegasus.web.dashboard.pages import accepted_locale, render
from pegasus.web.dashboard.public import _not_found
from tests.web.conftest import GUILD, OWNER, Api
from tests.web.test_dashboard_overview import signed_in


async def fetch(
    http: aiohttp.ClientSession, url: str, language: str | None = None
) -> tuple[int, str, str]:
    headers = {"Accept-Language": language} if language else {}
    async with http.get(url, headers=headers) as answer:
        return answer.status, await answer.text(), answer.headers.get("Content-Language", "")


def test_the_browser_language_is_the_first_one_pegasus_speaks() -> None:
    assert accepted_locale("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert accepted_locale("ja, fr-CA;q=0.7, es;q=0.9") == "es"
    assert accepted_locale("fr;q=0, es;q=0.5") == "es"
    assert accepted_locale("ja, zh;q=0.5") is None
    assert accepted_locale("") is None


def test_a_refused_page_speaks_the_language_of_its_context() -> None:
    with use_locale("fr"):
        page = _not_found()
    assert page.text is not None
    assert '<html lang="fr">' in page.text
    assert "Il n&#39;y a pas de page publique ici." in page.text


async def test_the_server_language_is_set_on_the_guild_page(
    local_discord: LocalDiscord, db: str
) -> None:
    server = local_discord
    guild = server.guild
    owner = guild.owner
    await directory.ensure_guild(guild.id)
    try:
        async with signed_in(server, owner.id) as (base, http):
            url = f"{base}/dashboard/guilds/{guild.id}"
            status, page, language = await fetch(http, url)
            assert status == 200 and language == "en"
            assert '<html lang="en">' in page and '<h2 id="features">Features</h2>' in page
            assert '<option value="en" selected>English</option>' in page
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert csrf is not None

            async with http.post(
                f"{url}/language", data={"csrf_token": csrf.group(1), "language": "de"}
            ) as answer:
                assert answer.status == 200  # back on the guild page
                saved = await answer.text()
            assert "The server's language is saved." in saved
            assert '<option value="de" selected>Deutsch</option>' in saved
            stored = await Guild.get(id=guild.id)
            assert stored.language == "de"
            row = await AuditLog.get(guild_id=guild.id, action="language.set")
            assert row.actor_id == owner.id and row.source == AuditSource.WEB

            # The dashboard follows the reader, not the server: a German browser reads German,
            # a browser that names no language Pegasus speaks reads English.
            status, german, language = await fetch(http, url, "de-DE,de;q=0.9,en;q=0.5")
            assert status == 200 and language == "de"
            assert '<html lang="de">' in german
            assert '<h2 id="features">Funktionen</h2>' in german
            assert "Einstellungsverlauf" in german and "Abmelden" in german
            status, english, language = await fetch(http, url, "ja")
            assert language == "en" and '<h2 id="features">Features</h2>' in english

            # A person's own choice (/language me) wins over the browser.
            remember_user_locale(owner.id, "es")
            status, spanish, language = await fetch(http, url, "de")
            assert language == "es" and '<h2 id="features">Funciones</h2>' in spanish

            # A form without the session's token changes nothing.
            async with http.post(f"{url}/language", data={"language": "fr"}) as answer:
                assert answer.status == 403
            assert (await Guild.get(id=guild.id)).language == "de"
    finally:
        remember_guild_locale(guild.id, None)
        remember_user_locale(owner.id, None)


async def test_a_public_page_speaks_the_browser_language_else_the_server_language(
    api: Api,
) -> None:
    await directory.ensure_guild(GUILD)
    await set_public_pages(GUILD, OWNER, True)
    await set_server_language(GUILD, "fr", actor_id=OWNER)
    path = f"/public/guilds/{GUILD}/leaderboard"
    try:
        french = await api.session.get(path)
        assert french.status == 200 and french.headers["Content-Language"] == "fr"
        text = await french.text()
        assert '<html lang="fr">' in text and "Personne n" in text
        spanish = await api.session.get(path, headers={"Accept-Language": "es-MX,es;q=0.9"})
        assert spanish.headers["Content-Language"] == "es"
        assert "Todavía no hay nadie en esta clasificación." in await spanish.text()
    finally:
        remember_guild_locale(GUILD, None)


def test_counted_texts_of_the_pages_take_the_plural_of_their_language() -> None:
    guild = SimpleNamespace(id=1, name="Server")
    panel = SimpleNamespace(panel_id="support", title="Help", buttons=[1, 2], channel_id=5)
    giveaway = SimpleNamespace(giveaway_id="G-1", prize="Nitro", entry_count=1)
    with use_locale("de"):
        deleting = render(
            "tickets_delete.html", guild=guild, panel=panel, page_url="/p", csrf="t"
        ).text
        cancelling = render(
            "giveaway_cancel.html", guild=guild, giveaway=giveaway, this_url="/g", csrf="t"
        ).text
    assert deleting is not None and cancelling is not None
    assert "<strong>Help</strong> und seine 2 Buttons werden gelöscht" in deleting
    assert "sein 1 Eintrag bleibt erhalten" in cancelling
