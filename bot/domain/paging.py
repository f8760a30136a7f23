"""Pages of records: long lists are shown a page at a time, never rejected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_index(self) -> int:
        """1-based position of the first item, for "showing 21–40 of 300"."""
        return (self.page - 1) * self.page_size + 1 if self.items else 0


def clamp_page(page: int, *, total: int, page_size: int) -> int:
    """A page number past the end (records were closed meanwhile) shows the last page."""
    last = max(1, -(-total // page_size))
    return min(max(1, page), last)
