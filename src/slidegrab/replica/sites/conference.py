"""Conference sites (iclr.cc, icml.cc, neurips.cc …) that embed SlidesLive talks, Mini-Conf style.

For every fixture with a ``ConferencePage``: its poster page (``citation_*`` metas, then the embed in the
page's style: ``miniconf`` = ``presentationId: "…"`` on its own line, ``virtual`` = single quotes,
``iframe`` = a plain ``<iframe src=…/embed/presentation/…>``). Under the poster's folder: a paper listing
whose links exist only after its script has fetched ``papers.json`` (so only a browser sees them), pages
that are not talks (About, Schedule), and ``scripted/{poster}``: the poster page once more, but its embed
exists only after its script has fetched ``scripted/{poster}.json`` for the presentation id (so only a
browser learns its talk; no listing links to it, and it is no talk of its own in the catalogue).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from slidegrab.replica.fixtures import ConferencePage, Fixture
from slidegrab.replica.sites import urls
from slidegrab.replica.sites.common import (
    Site,
    attr,
    html_page,
    json_response,
    not_found,
    render,
    static_file,
)
from slidegrab.replica.wire import Request, Response

INFO_PAGES = {
    "about.html": ("About", "The conference runs virtually; talks are streamed by SlidesLive."),
    "calendar.html": ("Schedule", "Poster sessions run every day from 9:00 to 17:00 UTC."),
}
MINICONF_EMBED = """    <div id="presentation-embed" class="slp my-auto"></div>
    <script src="https://slideslive.com/embed_presentation.js"></script>
    <script>
      embed = new SlidesLiveEmbed("presentation-embed", {
        presentationId: "{{id}}",
        autoPlay: false, // change to true to autoplay the embedded presentation
        verticalEnabled: true,
        verticalWhenWidthLte: 500,
        allowHiddenControlsWhenPaused: true,
        hideTitle: true,
      });
    </script>"""
VIRTUAL_EMBED = """    <div id="presentation-embed-{{id}}" class="slp my-auto"></div>
    <script src='https://slideslive.com/embed_presentation.js'></script>
    <script>
      if (typeof SlidesLiveEmbed !== 'undefined') {
        new SlidesLiveEmbed('presentation-embed-{{id}}', {
          presentationId: '{{id}}',
          autoPlay: false,
          verticalEnabled: true,
        });
      }
    </script>"""
IFRAME_EMBED = """    <div id="presentation-embed-{{id}}" class="slp my-auto">
      <iframe src="{{src}}" width="100%" height="480" frameborder="0" allow="autoplay; fullscreen"
              allowfullscreen></iframe>
    </div>"""
SCRIPTED_EMBED = """    <div id="presentation-embed" class="slp my-auto" data-talk-src="{{src}}"></div>
    <script src="{{script}}"></script>"""


class Conference(Site):
    def hosts_for(self, catalogue: tuple) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.conference.host for f in catalogue if f.conference))

    def handle(self, request: Request) -> Response:
        talks = [f for f in self.app.catalogue if f.conference and f.conference.host == request.host]
        for f in talks:
            if request.path == f.conference.path:
                return html_page(poster_page(f))
            if request.path == scripted_path(f.conference):
                return html_page(poster_page(f, scripted=True))
            if request.path == scripted_data_path(f.conference):
                return json_response({"presentationId": f.id})
        here = [f for f in talks if request.path.startswith(listing_folder(f.conference) + "/")]
        if not here:
            return not_found()
        name = request.path[len(listing_folder(here[0].conference)) + 1 :]
        conference = attr(here[0].conference.conference)
        if name == "papers.html":
            return html_page(render("listing.html", conference=conference))
        if name == "papers.json":
            return json_response(papers(here))
        if name in ("static/js/papers.js", "static/js/poster.js"):
            return static_file(name.rpartition("/")[2])
        if name in INFO_PAGES:
            heading, text = INFO_PAGES[name]
            return html_page(render("info_page.html", conference=conference, heading=heading, text=text))
        return not_found()


def listing_folder(page: ConferencePage) -> str:
    """The folder that holds the poster page's listing: /virtual_2020 for /virtual_2020/poster_x.html."""
    return page.path[: page.path.index("/poster")] if "/poster" in page.path else page.path.rpartition("/")[0]


def page_url(page: ConferencePage) -> str:
    return f"https://{page.host}{page.path}"


def scripted_path(page: ConferencePage) -> str:
    """The poster page whose embed only its script makes: /virtual_2020/scripted/poster_x.html."""
    return f"{listing_folder(page)}/scripted/{page.path.rpartition('/')[2]}"


def scripted_data_path(page: ConferencePage) -> str:
    return f"{scripted_path(page).removesuffix('.html')}.json"


def scripted_url(page: ConferencePage) -> str:
    return f"https://{page.host}{scripted_path(page)}"


def listing_url(page: ConferencePage) -> str:
    return f"https://{page.host}{listing_folder(page)}/papers.html"


def papers(talks: list[Fixture]) -> list[dict]:
    """papers.json: one entry per talk on this listing, then the pages that are not talks."""
    items = []
    for f in talks:
        page = f.conference
        relative = page.path[len(listing_folder(page)) + 1 :] if page.style == "miniconf" else page.path
        items.append({"title": f.title, "authors": list(page.authors), "url": relative, "kind": "poster"})
    items += [
        {"title": heading, "authors": [], "url": name, "kind": "page"} for name, (heading, _) in INFO_PAGES.items()
    ]
    return items


def poster_page(f: Fixture, *, scripted: bool = False) -> str:
    page = f.conference
    folder = listing_folder(page)
    metas = "\n".join(f'<meta name="citation_author" content="{attr(a)}">' for a in page.authors)
    embed = scripted_embed(page) if scripted else static_embed(f)
    return render(
        "poster.html",
        title=attr(f.title),
        author_metas=metas,
        authors=attr(", ".join(page.authors)),
        date=attr(page.date),
        conference=attr(page.conference),
        abstract=attr(page.abstract),
        pdf_url=attr(f"https://{page.host}{folder}/pdf/{quote(urls.slug(f.title))}.pdf"),
        embed=embed,
    )


def static_embed(f: Fixture) -> str:
    """The embed in the page's own style, in its HTML."""
    embed = {"miniconf": MINICONF_EMBED, "virtual": VIRTUAL_EMBED}.get(f.conference.style, IFRAME_EMBED)
    return embed.replace("{{id}}", f.id).replace("{{src}}", attr(iframe_src(f)))


def scripted_embed(page: ConferencePage) -> str:
    """An empty container that poster.js fills once it has fetched the presentation id."""
    script = f"{listing_folder(page)}/static/js/poster.js"
    return SCRIPTED_EMBED.replace("{{src}}", attr(scripted_data_path(page))).replace("{{script}}", attr(script))


def iframe_src(f: Fixture) -> str:
    page = f.conference
    query = urlencode(
        {
            "embed_parent_url": page_url(page),
            "embed_container_origin": f"https://{page.host}",
            "embed_container_id": f"presentation-embed-{f.id}",
            "auto_load": "true",
            "auto_play": "false",
        }
    )
    return f"{urls.embed_url(f)}?{query}"
