"""LIMIT/OFFSET pagination for the console's long lists: `?page=N` (from 1), fixed page size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

__all__ = ["PAGE_SIZE", "PageLink", "Pager", "Paging", "page_numbers"]

PAGE_SIZE = 50
_MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class PageLink:
    """One numbered page link; `href` is None for the page shown and for a gap ("…")."""

    label: str
    href: str | None
    current: bool = False


@dataclass(frozen=True)
class Pager:
    """What the page template shows: "rows 51–100 of 504", first, previous, the numbered pages
    around this one, next and last."""

    first: int
    last: int
    total: int
    page: int
    pages: int
    previous: str | None
    next: str | None
    more: bool = False  # more rows than `total` match (the count stopped there)
    first_page: str | None = None  # None on page 1
    last_page: str | None = None  # None on the last page, and when the count stopped short
    numbered: tuple[PageLink, ...] = ()


@dataclass(frozen=True)
class Paging:
    page: int
    size: int = PAGE_SIZE

    @classmethod
    def of(cls, request: Request, size: int = PAGE_SIZE, name: str = "page") -> Paging:
        raw = request.query_params.get(name, "1")
        page = int(raw) if raw.isdigit() else 1
        return cls(min(max(page, 1), _MAX_PAGE), size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def links(
        self, request: Request, total: int, name: str = "page", path: str = "", more: bool = False
    ) -> Pager:
        """Links to the pages before and after (at `path`, default: this page's own URL); `more`:
        the count stopped at `total`, so there is always a next page."""
        pages = max(1, -(-total // self.size))
        params = dict(request.query_params)

        def link(page: int) -> str:
            return path + "?" + urlencode({**params, name: str(page)})

        return Pager(
            first=min(self.offset + 1, total),
            last=min(self.offset + self.size, total),
            total=total,
            page=self.page,
            pages=pages,
            previous=link(self.page - 1) if self.page > 1 else None,
            next=link(self.page + 1) if self.page < pages or more else None,
            more=more,
            first_page=link(1) if self.page > 1 else None,
            last_page=link(pages) if self.page < pages and not more else None,
            numbered=tuple(
                self._numbered(number, link)
                for number in page_numbers(self.page, pages + (1 if more else 0))
            ),
        )

    def _numbered(self, number: int | None, link: Callable[[int], str]) -> PageLink:
        if number is None:
            return PageLink("…", None)
        here = number == self.page
        return PageLink(f"{number:,}", None if here else link(number), current=here)


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page numbers a pager shows: the first, the last, and `around` either side of `page`,
    with None where numbers are left out (1 … 4 5 6 7 8 … 201)."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    numbers: list[int | None] = []
    previous = 0
    for number in shown:
        if number - previous == 2:  # a gap of one page: show that page, not "…"
            numbers.append(previous + 1)
        elif number - previous > 2:
            numbers.append(None)
        numbers.append(number)
        previous = number
    return numbers
