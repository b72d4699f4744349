"""LIMIT/OFFSET pagination for the console's long lists: `?page=N` (from 1), fixed page size."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

__all__ = ["PAGE_SIZE", "Pager", "Paging"]

PAGE_SIZE = 50
_MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Pager:
    """What the page template shows: "rows 51–100 of 504", previous and next links."""

    first: int
    last: int
    total: int
    page: int
    pages: int
    previous: str | None
    next: str | None
    more: bool = False  # more rows than `total` match (the count stopped there)


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
        )
