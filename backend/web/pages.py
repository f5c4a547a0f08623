"""HTML page routes: server-rendered shells for the browser app.

The pages carry no data and no secrets: each one is a Jinja2 shell that loads an
ES module from ``/js/``, and the module fetches everything from the JSON API
with the token it keeps in ``localStorage``. That keeps the pages cacheable,
keeps tokens out of URLs and HTML, and lets one strict CSP (no inline script or
style) cover every page.

Paths are chosen so they never clash with the JSON API (``GET /bookings`` is
JSON, the page is ``/my/bookings``; ``GET /events/{id}`` is JSON, the page is
``/e/{id}``).

Not found: the browser gets an HTML 404 page in the site's layout, an API client
JSON. A path whose first segment is a page's (``/``, ``/e/…``, ``/account/…``,
``/my/…``) always gets the page; one whose first segment is the API's or the assets'
(``/events``, ``/bookings``, ``/ws``, ``/static``, ``/js``, … : any route that is not a
page) always JSON; any other path the page when its ``Accept`` prefers ``text/html``
to ``application/json`` (a browser's navigation), else JSON. ``/e/{id}`` checks that
the event exists, so an unknown event is a 404 page too.
"""

from __future__ import annotations

import functools
import posixpath
import re
from pathlib import Path
from typing import Any
from uuid import UUID

from litestar import Controller, MediaType, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from litestar.status_codes import HTTP_404_NOT_FOUND

from backend.booking.events import EventService

__all__ = ["PageController", "module_graph", "not_found_page"]

PAGE_NAME = "page:"  # the route names of the pages below start with it

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
# Static imports of our own modules: `import … from "./x.js"` / `"../x.js"`.
_IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+["'](\.{1,2}/[^"']+\.js)["']""", re.M | re.S)


@functools.cache
def module_graph(page: str) -> tuple[str, ...]:
    """Every module the page's module imports, directly or not, as paths under ``/js/``.

    The shell names them in ``<link rel="modulepreload">`` so the browser fetches them
    all at once instead of discovering them one import level at a time (a round trip
    per level before the page can even ask for its data). Read once per process.
    """
    found: list[str] = []
    todo = [f"pages/{page}.js"]
    while todo:
        module = todo.pop(0)
        try:
            source = (FRONTEND / module).read_text(encoding="utf-8")
        except OSError:
            continue
        for target in _IMPORT.findall(source):
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(module), target))
            if not resolved.startswith("../") and resolved not in found and resolved != module:
                found.append(resolved)
                todo.append(resolved)
    return tuple(found)


def _page(
    template_name: str, *, title: str, page: str, status_code: int = 200, **context: Any
) -> Template:
    """Render a page shell; ``page`` names the ES module under ``/js/pages/``."""
    return Template(
        template_name=template_name,
        context={"title": title, "page": page, "preload": module_graph(page), **context},
        # A shell is tiny and changes with deploys only; never let a proxy keep
        # a stale one around after a release.
        headers={"Cache-Control": "no-cache"},
        status_code=status_code,
        media_type=MediaType.HTML,
    )


def _first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


def _wants_page(request: Request[Any, Any, Any]) -> bool:
    """Whether a 404 on this request is answered with the HTML page (see the module's
    docstring): by the path's first segment, then by what the client accepts."""
    segment = _first_segment(request.url.path)
    pages: set[str] = set()
    others: set[str] = set()
    for route in request.app.routes:
        handlers = getattr(route, "route_handlers", None) or [getattr(route, "route_handler", None)]
        is_page = any((getattr(h, "name", None) or "").startswith(PAGE_NAME) for h in handlers)
        (pages if is_page else others).add(_first_segment(route.path))
    if segment in pages:
        return True
    if segment in others or request.method not in ("GET", "HEAD"):
        return False
    best = request.accept.best_match([MediaType.JSON, MediaType.HTML], MediaType.JSON)
    return best == MediaType.HTML


def not_found_page(request: Request[Any, Any, Any]) -> Template | None:
    """The HTML 404 page if this request should get it, else None (JSON, as for the API)."""
    if not _wants_page(request):
        return None
    if _first_segment(request.url.path) == "e":
        heading = "Event not found"
        explanation = "This event does not exist, or it has been removed."
    else:
        heading = "Page not found"
        explanation = "There is no page at this address."
    return _page(
        "not_found.html",
        title=heading,
        page="notfound",
        status_code=HTTP_404_NOT_FOUND,
        heading=heading,
        explanation=explanation,
    )


class PageController(Controller):
    """The browser app's pages (excluded from auth and from the OpenAPI schema)."""

    include_in_schema = False

    @get("/", name="page:events")
    async def events(self) -> Template:
        """List of events with live availability."""
        return _page("events.html", title="Events", page="events")

    @get("/e/{event_id:uuid}", name="page:event")
    async def event(
        self, event_id: FromPath[UUID], events: NamedDependency[EventService]
    ) -> Template:
        """Seat map of one event; the id is the only thing the server fills in. An unknown
        event is a 404 (the not-found page), not a map that never loads."""
        await events.get(str(event_id))
        return _page("event.html", title="Seat map", page="event", event_id=str(event_id))

    @get("/account/signin", name="page:signin")
    async def signin(self) -> Template:
        """Sign-in form."""
        return _page("signin.html", title="Sign in", page="signin")

    @get("/account/signup", name="page:signup")
    async def signup(self) -> Template:
        """Sign-up form."""
        return _page("signup.html", title="Create an account", page="signup")

    @get("/my/bookings", name="page:bookings")
    async def bookings(self) -> Template:
        """The signed-in user's bookings, with cancel."""
        return _page("bookings.html", title="My bookings", page="bookings")

    @get("/my/events", name="page:my-events")
    async def my_events(self) -> Template:
        """The organiser's events: sales, the door, the CSV export, door staff."""
        return _page("my_events.html", title="Your events", page="my-events", event_id=None)

    @get("/my/events/{event_id:uuid}", name="page:my-event")
    async def my_event(
        self, event_id: FromPath[UUID], events: NamedDependency[EventService]
    ) -> Template:
        """One of the organiser's events, alone (the page says so to anyone else: the
        API refuses them its report)."""
        await events.get(str(event_id))
        return _page("my_events.html", title="Your event", page="my-events", event_id=str(event_id))

    @get("/my/orders/{order_id:uuid}", name="page:order")
    async def order(self, order_id: FromPath[UUID]) -> Template:
        """One of the buyer's orders: its tickets with their QR codes (the page reads
        the order with the buyer's token; someone else's is "not found" there)."""
        return _page("order.html", title="Your tickets", page="order", order_id=str(order_id))

    @get("/e/{event_id:uuid}/door", name="page:door")
    async def door(
        self, event_id: FromPath[UUID], events: NamedDependency[EventService]
    ) -> Template:
        """The door: type or scan ticket codes, with the checked-in count (the organiser
        and door staff; anyone else is told so by the page, as the API refuses them)."""
        await events.get(str(event_id))
        return _page("door.html", title="Door", page="door", event_id=str(event_id))

    @get("/my/events/new", name="page:create-event")
    async def create_event(self) -> Template:
        """Create-event form with a layout builder and a live preview."""
        return _page("create_event.html", title="Create an event", page="create-event")
