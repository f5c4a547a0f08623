"""Not found, in both run modes: a browser's unknown page or event gets the HTML 404 page
in the site's layout with a way back to the events; the JSON API keeps its JSON 404
(web/pages.py says how the two are told apart)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import Api

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _is_page(r: httpx.Response, heading: str) -> None:
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-request-id"]
    text = r.text
    assert f"<h1>{heading}</h1>" in text
    assert f"<title>{heading} · Boxoffice</title>" in text
    assert 'href="/" data-testid="not-found-home">See all events</a>' in text
    assert '<script type="module" src="/js/pages/notfound.js">' in text


@pytest.mark.parametrize("accept", [BROWSER, "application/json", "*/*"])
async def test_an_unknown_event_page_is_a_404_page_whatever_the_accept(
    api: Api, accept: str
) -> None:
    # The page itself checks the event: no shell that would sit at "Connecting…".
    r = await api.client.get(f"/e/{uuid.uuid4()}", headers={"Accept": accept})
    _is_page(r, "Event not found")
    r = await api.client.get("/e/not-a-uuid", headers={"Accept": accept})
    _is_page(r, "Event not found")


async def test_a_known_event_page_still_opens(api: Api) -> None:
    event = await api.event(await api.user())
    r = await api.client.get(f"/e/{event['id']}", headers={"Accept": BROWSER})
    assert r.status_code == 200
    assert f'data-event-id="{event["id"]}"' in r.text


@pytest.mark.parametrize("path", ["/nope", "/my/nope", "/account/nope", "/nope/deeper"])
async def test_a_browser_asking_for_an_unknown_page_gets_the_404_page(api: Api, path: str) -> None:
    _is_page(await api.client.get(path, headers={"Accept": BROWSER}), "Page not found")


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        (
            "/events/00000000-0000-4000-8000-000000000000",
            BROWSER,
        ),  # an API path: JSON even for a browser
        ("/bookings/x/y", BROWSER),
        ("/static/nope.css", BROWSER),  # assets too
        ("/js/nope.js", BROWSER),
        ("/nope", "application/json"),  # neither: what the client prefers
        ("/nope", "*/*"),
        ("/nope", ""),
    ],
)
async def test_the_api_keeps_json_404s(api: Api, path: str, accept: str) -> None:
    r = await api.client.get(path, headers={"Accept": accept})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["success"] is False and body["code"] == "not_found", body


async def test_only_a_read_gets_the_page(api: Api) -> None:
    r = await api.client.post("/nope", headers={"Accept": BROWSER})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
