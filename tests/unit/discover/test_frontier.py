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


def test_a_pattern_closes_after_its_cap_of_non_product_pages() -> None:
    """After three calendar pages that were not products, queued and new calendar URLs are
    dropped; product pages of one pattern never close it."""
    frontier = Frontier(per_pattern=3)
    for month in range(1, 6):
        frontier.add(Task(f"https://s.example/calendar/{month}", 1))
    for _ in range(1, 4):
        task = frontier.pop()
        assert task is not None
        frontier.settle(task.url, product=False)
    assert frontier.pop() is None
    assert not frontier.add(Task("https://s.example/calendar/99", 1))
    assert frontier.trapped == 3
    for n in range(10):
        assert frontier.add(Task(f"https://s.example/p/{n}", 1))
        task = frontier.pop()
        assert task is not None
        frontier.settle(task.url, product=True)
    assert frontier.add(Task("https://s.example/p/100", 1))
