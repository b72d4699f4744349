"""Pager links: pages from the count, and a next page whenever the count stopped short."""

from __future__ import annotations

from starlette.requests import Request

from campaign_engine.web.paging import Paging


def request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/app/drafts", "headers": [],
                    "query_string": query.encode()})  # fmt: skip


def test_the_last_page_of_an_exact_count_has_no_next_link() -> None:
    pager = Paging.of(request("q=ann&page=11")).links(request("q=ann&page=11"), 504)
    assert (pager.first, pager.last, pager.pages, pager.next) == (501, 504, 11, None)
    assert pager.previous == "?q=ann&page=10"


def test_a_count_that_stopped_at_the_cap_always_offers_the_next_page() -> None:
    pager = Paging.of(request("page=20")).links(request("page=20"), 1000, more=True)
    assert (pager.last, pager.pages, pager.more, pager.next) == (1000, 20, True, "?page=21")
