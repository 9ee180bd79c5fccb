"""The frontier: each URL once, breadth-first, and the per-pattern trap cap."""

from __future__ import annotations

from pricewatch.discover.frontier import Frontier, Task


def test_each_url_is_queued_once() -> None:
    """A URL seen before (queued, or marked as a page's canonical) is not queued again."""
    frontier = Frontier(per_pattern=10)
    assert frontier.add(Task("https://s.example/a", 0))
    assert not frontier.add(Task("https://s.example/a", 1))
    assert frontier.mark("https://s.example/b")
    assert not frontier.add(Task("https://s.example/b", 1))
    assert frontier.pop() == Task("https://s.example/a", 0)
    assert frontier.pop() is None


def test_a_row_of_one_pattern_stops_at_the_cap_but_siblings_do_not_add_up() -> None:
    """A calendar whose every month links to the next is cut after three months in a row;
    forty listings of numbered categories linked from one home page all get through."""
    frontier = Frontier(per_pattern=3)
    task = Task("https://s.example/calendar/2026/1", 1)
    assert frontier.add(task)
    queued = 1
    for month in range(2, 10):
        task = frontier.follow(task, task.url, f"https://s.example/calendar/2026/{month}", 1)
        queued += frontier.add(task)
    assert queued == 3
    assert frontier.trapped == 6
    home = Task("https://s.example/", 0)
    for n in range(40):
        listing = frontier.follow(home, home.url, f"https://s.example/c/{n}", 1)
        assert frontier.add(listing)
        assert frontier.add(frontier.follow(listing, listing.url,
                                            f"https://s.example/c/{n}?page=2", 1))
