"""slideslive.com: the public and embed pages, /embed/init, the embed loader, /player/{id} and friends.

Embed-only talks (§14.2) are decided from ``embed_parent_url``'s host, else the Referer's, else the
Origin's; a parent that is not allowed is redirected to a ``domain_not_allowed`` URL listing the allowed
domains (unless the fixture keeps them secret). ben.slideslive.com answers 404 to everything, as since 2025.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from slidegrab.replica.fixtures import Fixture
from slidegrab.replica.sites import documents, tokens, urls
from slidegrab.replica.sites.common import (
    Site,
    attr,
    html_page,
    json_response,
    not_found,
    render,
    script_json,
    static_file,
)
from slidegrab.replica.wire import Request, Response

if TYPE_CHECKING:
    from slidegrab.replica.app import App

ID = r"(?P<presentation_id>\d+)"
PLAYER_TEXT = "application/x-mpegurl; charset=utf-8"


class SlidesLive(Site):
    hosts = (urls.SLIDESLIVE,)
    routes = (
        (rf"/{ID}(?:/[^/]*)?/?", "public_page"),
        (rf"/embed/(?:presentation/)?{ID}/?", "embed_page"),
        (r"/embed/init/?", "embed_init"),
        (r"/embed_presentation\.js", "loader"),
        (r"/assets/(?P<name>[^/]+)", "asset"),
        (rf"/player/{ID}", "player"),
        (rf"/player/{ID}/slides_video_service_data", "service_data"),
        (r"/(?:api/)?player_session\w*(?:/.*)?", "analytics"),
        (r"/3rd-party-cookies/?", "third_party_cookies"),
        (r"(?:/embed/presentation/\d+)?/domain_not_allowed/?", "domain_not_allowed"),
    )

    def public_page(self, request: Request, presentation_id: str) -> Response:
        return self._page(request, presentation_id, "public")

    def embed_page(self, request: Request, presentation_id: str) -> Response:
        return self._page(request, presentation_id, "embed")

    def _page(self, request: Request, presentation_id: str, kind: str) -> Response:
        f = self.app.fixture(presentation_id)
        if f is None:
            return html_page("<!DOCTYPE html><title>Page not found</title><h1>Page not found</h1>", 404)
        parent = parent_host(request)
        if f.embed_only and not domain_allowed(f, parent):
            return Response.redirect(domain_not_allowed_url(f))
        init_token = request.arg("embed_init_token")
        if init_token and not _init_token_fits(init_token, parent, self.app):
            return html_page("<!DOCTYPE html><title>Embed expired</title><p>This embed link has expired; "
                             "reload the page that embeds the presentation.</p>", 401)
        return html_page(player_page(f, kind, self.app))

    def embed_init(self, request: Request) -> Response:
        parent_url = request.arg("embed_parent_url") or ""
        host = (urlsplit(parent_url).hostname or "").lower()
        if not host:
            return json_response({"error": "embed_parent_url is required"}, 400)
        user_uuid = str(uuid.uuid4())
        token = tokens.embed_init_token(self.app.secret, host, user_uuid, self.app.now())
        return json_response({"embed_init_token": token, "user_uuid": user_uuid})

    def loader(self, request: Request) -> Response:
        return static_file("embed_presentation.js")

    def asset(self, request: Request, name: str) -> Response:
        return static_file(name)

    def player(self, request: Request, presentation_id: str) -> Response:
        f = self.app.fixture(presentation_id)
        if f is None:
            return not_found()
        if not tokens.player_token_valid(request.arg("player_token"), self.app.secret, f.id, self.app.now()):
            return Response.text("Unauthorized", 401)
        subtitles = None
        if f.subtitles:
            subtitles = documents.presigned_subtitles_url(f, self.app.secret, self.app.now())
        return Response.text(documents.player_body(f, subtitles_url=subtitles), 200, PLAYER_TEXT)

    def service_data(self, request: Request, presentation_id: str) -> Response:
        f = self.app.fixture(presentation_id)
        if f is None:
            return not_found()
        if not tokens.player_token_valid(request.arg("player_token"), self.app.secret, f.id, self.app.now()):
            return json_response({"error": "Unauthorized"}, 401)
        videos = request.arg("videos")
        wanted = [v for v in videos.split(",") if v] if videos is not None else None
        return json_response(documents.video_service_data(f, wanted))

    def analytics(self, request: Request) -> Response:
        return json_response({})

    def third_party_cookies(self, request: Request) -> Response:
        return html_page("<!DOCTYPE html><title>Third-party cookies</title><p>Please allow third-party "
                         "cookies for slideslive.com to watch this presentation.</p>")

    def domain_not_allowed(self, request: Request) -> Response:
        domains = request.query.get("allowed_domains[]", [])
        where = ", ".join(attr(d) for d in domains) or "the conference website"
        return html_page(f"<!DOCTYPE html><title>Domain not allowed</title><h1>Domain not allowed</h1>"
                         f"<p>This presentation can only be watched on {where}.</p>")


class Ben(Site):
    """The 2019-2025 API host; gone since October 2025 (yt-dlp #14518)."""

    hosts = (urls.BEN,)


def parent_host(request: Request) -> str | None:
    """The embedding parent: ``embed_parent_url``'s host, else the Referer's, else the Origin's (header, or
    the ``embed_container_origin``/``embed_origin`` parameter of the older and newer embed styles)."""
    candidates = ("embed_parent_url", "referer", "origin", "embed_container_origin", "embed_origin")
    for name in candidates:
        value = request.header(name) if name in ("referer", "origin") else request.arg(name)
        if value and (host := urlsplit(value).hostname):
            return host.lower()
    return None


def domain_allowed(f: Fixture, host: str | None) -> bool:
    return bool(host) and any(host == d or host.endswith("." + d) for d in f.allowed_domains)


def domain_not_allowed_url(f: Fixture) -> str:
    listed = f.allowed_domains if f.advertise_domains else ()
    query = "".join(f"&allowed_domains[]={quote(d)}" for d in listed)
    return f"https://{urls.SLIDESLIVE}/embed/presentation/{f.id}/domain_not_allowed?presentation_id={f.id}{query}"


def _init_token_fits(token: str, parent: str | None, app: App) -> bool:
    payload = tokens.check(token, app.secret, app.now())
    return payload is not None and (parent is None or payload.get("d") == parent)


def player_page(f: Fixture, kind: str, app: App) -> str:
    """The HTML shell of the public (``kind="public"``) or embed page, with a fresh player token."""
    token = tokens.player_token(app.secret, f.id, app.now())
    hosts = {"slideslive_on_the_fly_resized_slides_host": f.slides_host, "slideslive_slides_host":
             "slides.slideslive.com", "slideslive_api_host": urls.SLIDESLIVE}
    title, speakers = attr(f.title), attr(", ".join(f.speakers))
    header = f'<header class="presentation-header"><h1>{title}</h1><p>{speakers}</p></header>\n'
    ld = {"@context": "https://schema.org", "@type": "VideoObject", "name": f.title,
          "thumbnailUrl": urls.thumbnail_url(f), "uploadDate": urls.updated_at(f).strftime("%Y-%m-%d")}
    return render(
        "player_page.html", title=title, speakers=speakers, id=f.id, page_kind=f"{kind}-page",
        description=attr(f"{f.title} - {', '.join(f.speakers)}"), thumbnail=attr(urls.thumbnail_url(f)),
        canonical=attr(urls.public_url(f) if kind == "public" else urls.embed_url(f)),
        ld_json=script_json(ld), gon_hosts=script_json(hosts), player_token=token,
        service_data_url=attr(f"https://{urls.SLIDESLIVE}/player/{f.id}/slides_video_service_data?player_token={token}"),
        analytics_token=tokens.encode({"t": "analytics", "p": f.id}, app.secret), user_uuid=str(uuid.uuid4()),
        session_uuid=str(uuid.uuid4()), header=header if kind == "public" else "",
    )
