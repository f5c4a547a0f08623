"""Creating a large event (issue 11, item 6), on both run modes."""

from __future__ import annotations

from tests.conftest import Api


def labels(count: int, per_row: int = 250) -> list[str]:
    """`count` seat labels in rows of `per_row` (row names AA, AB, ...)."""
    rows = [chr(65 + r // 26) + chr(65 + r % 26) for r in range(count // per_row + 1)]
    return [f"{rows[n // per_row]}{n % per_row + 1}" for n in range(count)]


async def test_a_small_event_comes_back_with_its_seats_a_large_one_with_a_link(api: Api) -> None:
    """Up to 1,000 seats the 201 lists them (the seed's form and its clients rely on
    it); past that it has the event and its counts, and a Location to read them from."""
    owner = await api.user()
    small = await api.client.post(
        "/events", json={"name": "Club", "seats": labels(1000)}, headers=owner["headers"]
    )
    assert small.status_code == 201, small.text
    assert small.headers["location"] == f"/events/{small.json()['id']}"
    assert len(small.json()["seats"]) == 1000

    large = await api.client.post(
        "/events", json={"name": "Hall", "seats": labels(1001)}, headers=owner["headers"]
    )
    assert large.status_code == 201, large.text
    body = large.json()
    assert "seats" not in body
    assert body["counts"] == {"total": 1001, "available": 1001, "held": 0, "booked": 0}
    assert (body["name"], body["organiserId"], body["maxSeatsPerUser"]) == ("Hall", owner["id"], 10)
    assert large.headers["location"] == f"/events/{body['id']}"
    read = await api.client.get(large.headers["location"])
    assert read.status_code == 200 and len(read.json()["seats"]) == 1001
