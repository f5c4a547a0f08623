from backend.booking.best import FreeSeat, choose_adjacent


def row(name: str, numbers: list[int], y: float, offset: float = 0) -> list[FreeSeat]:
    return [FreeSeat(f"{name}{n}", "", name, n, offset + n - 1, y) for n in numbers]


def test_picks_adjacent_seats_in_one_row_nearest_the_front_and_centre() -> None:
    free = row("A", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0) + row("B", list(range(1, 11)), 1)
    assert choose_adjacent(free, 2, centre_x=4.5) == ["A5", "A6"]


def test_never_splits_across_a_gap() -> None:
    free = row("A", [1, 2, 4, 5], 0) + row("B", [1, 2, 3], 1)
    assert choose_adjacent(free, 3, centre_x=2) == ["B1", "B2", "B3"]


def test_avoids_leaving_a_lone_seat_when_another_choice_exists() -> None:
    # Row A: seats 1-3 free. Taking 2 from the centre (2-3) would strand seat 1;
    # taking 1-2 strands 3. Row B has exactly two free: no lone seat there.
    free = row("A", [1, 2, 3], 0) + row("B", [4, 5], 1)
    assert choose_adjacent(free, 2, centre_x=2) == ["B4", "B5"]


def test_accepts_a_lone_seat_when_nothing_else_fits() -> None:
    free = row("A", [1, 2, 3], 0)
    assert choose_adjacent(free, 2, centre_x=1) in (["A1", "A2"], ["A2", "A3"])


def test_returns_none_when_no_row_has_enough() -> None:
    assert choose_adjacent(row("A", [1, 3, 5], 0), 2, centre_x=2) is None


def test_excluded_seats_are_skipped() -> None:
    free = row("A", [1, 2, 3, 4], 0)
    assert choose_adjacent(free, 2, centre_x=1.5, exclude=frozenset({"A2"})) == ["A3", "A4"]
