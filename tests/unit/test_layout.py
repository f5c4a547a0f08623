import pytest

from backend.booking.layout import Category, RowSpec, SectionSpec, from_labels, from_sections
from backend.errors import InvalidInput


def test_seed_labels_become_rows_and_numbers_on_a_grid() -> None:
    layout = from_labels(["B2", "A1", "A2", "B1", "A3", "Box 7"])
    by_label = {s.label: s for s in layout.seats}
    assert (by_label["A1"].row, by_label["A1"].number) == ("A", 1)
    assert (by_label["B2"].row, by_label["B2"].number) == ("B", 2)
    assert by_label["A1"].y < by_label["B1"].y  # row A in front of row B
    assert by_label["A1"].x < by_label["A2"].x < by_label["A3"].x
    assert by_label["Box 7"].row == "Box"
    assert all(s.category == "standard" for s in layout.seats)
    assert layout.width == 3 and layout.height == 3


def test_unparseable_labels_go_in_a_last_row() -> None:
    layout = from_labels(["A1", "Royal box", "Stand"])
    loose = [s for s in layout.seats if s.row == ""]
    assert [s.label for s in loose] == ["Royal box", "Stand"]
    assert loose[0].y > next(s for s in layout.seats if s.label == "A1").y


@pytest.mark.parametrize("labels", [["A1", "a1"], ["A1", " A1 "]])
def test_duplicate_labels_are_refused(labels: list[str]) -> None:
    with pytest.raises(InvalidInput, match="more than once"):
        from_labels(labels)


def test_layout_form_places_sections_rows_and_categories() -> None:
    cats = [Category("vip", "VIP", "#ff0000", 9000), Category("std", "Standard", "#0000ff", 3000)]
    layout = from_sections(
        [
            SectionSpec("Stalls", (RowSpec("A", 4, "vip", (1,)), RowSpec("B", 6)), category="std"),
            SectionSpec("Circle", (RowSpec("A", 2),), category="std"),
        ],
        cats,
    )
    labels = [s.label for s in layout.seats]
    assert len(labels) == 12 and len(set(labels)) == 12
    a1 = next(s for s in layout.seats if s.label == "Stalls-A1")
    assert a1.category == "vip" and a1.accessible
    b1 = next(s for s in layout.seats if s.label == "Stalls-B1")
    assert b1.category == "std" and not b1.accessible
    circle = [s for s in layout.seats if s.section == "Circle"]
    assert min(s.y for s in circle) > b1.y + 1  # a gap between sections
    # Rows are centred: row A (4 seats) starts one seat in from row B (6 seats).
    assert a1.x == b1.x + 1


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ([SectionSpec("S", (RowSpec("A", 3, "nope"),))], "not in layout.categories"),
        ([SectionSpec("S", (RowSpec("A", 3, accessible=(4,)),))], "accessible seat numbers"),
        ([SectionSpec("S", (RowSpec("A", 3), RowSpec("a", 3)))], "row labels repeat"),
        ([SectionSpec("S", (RowSpec("A", 1),)), SectionSpec("s", (RowSpec("A", 1),))], "unique"),
        ([SectionSpec("S", tuple(RowSpec(f"R{i}", 1000) for i in range(101)))], "at most"),
    ],
)
def test_bad_layouts_are_refused_with_a_reason(sections: list[SectionSpec], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        from_sections(sections, [])
