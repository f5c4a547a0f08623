"""HTML page routes: server-rendered shells for the browser app.

The pages carry no data and no secrets: each one is a Jinja2 shell that loads an
ES module from ``/js/``, and the module fetches everything from the JSON API
with the token it keeps in ``localStorage``. That keeps the pages cacheable,
keeps tokens out of URLs and HTML, and lets one strict CSP (no inline script or
style) cover every page.

Paths are chosen so they never clash with the JSON API (``GET /bookings`` is
JSON, the page is ``/my/bookings``; ``GET /events/{id}`` is JSON, the page is
``/e/{id}``).
"""

from __future__ import annotations

import functools
import posixpath
import re
from pathlib import Path
from typing import Any
from uuid import UUID

from litestar import Controller, get
from litestar.params import FromPath
from litestar.response import Template

__all__ = ["PageController", "module_graph"]

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


def _page(template_name: str, *, title: str, page: str, **context: Any) -> Template:
    """Render a page shell; ``page`` names the ES module under ``/js/pages/``."""
    return Template(
        template_name=template_name,
        context={"title": title, "page": page, "preload": module_graph(page), **context},
        # A shell is tiny and changes with deploys only; never let a proxy keep
        # a stale one around after a release.
        headers={"Cache-Control": "no-cache"},
    )


class PageController(Controller):
    """The browser app's pages (excluded from auth and from the OpenAPI schema)."""

    include_in_schema = False

    @get("/", name="page:events")
    async def events(self) -> Template:
        """List of events with live availability."""
        return _page("events.html", title="Events", page="events")

    @get("/e/{event_id:uuid}", name="page:event")
    async def event(self, event_id: FromPath[UUID]) -> Template:
        """Seat map of one event; the id is the only thing the server fills in."""
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

    @get("/my/events/new", name="page:create-event")
    async def create_event(self) -> Template:
        """Create-event form with a layout builder and a live preview."""
        return _page("create_event.html", title="Create an event", page="create-event")
