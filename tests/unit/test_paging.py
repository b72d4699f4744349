"""Pager links: pages from the count, and a next page whenever the count stopped short."""

from __future__ import annotations

from starlette.requests import Request

from campaign_engine.web.paging import Paging, page_numbers


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


def test_numbered_pages_around_this_one_with_first_and_last() -> None:
    pager = Paging.of(request("q=ann&page=6")).links(request("q=ann&page=6"), 10_050)
    shown = [(p.label, p.href, p.current) for p in pager.numbered]
    assert [label for label, _, _ in shown] == ["1", "…", "4", "5", "6", "7", "8", "…", "201"]
    assert shown[4] == ("6", None, True)
    assert shown[3] == ("5", "?q=ann&page=5", False)
    assert pager.first_page == "?q=ann&page=1" and pager.last_page == "?q=ann&page=201"
    first = Paging.of(request("")).links(request(""), 10_050)
    assert first.first_page is None and [p.label for p in first.numbered][:4] == [
        "1",
        "2",
        "3",
        "…",
    ]


def test_no_last_page_link_while_the_count_stopped_short() -> None:
    pager = Paging.of(request("page=20")).links(request("page=20"), 1000, more=True)
    assert pager.last_page is None
    assert [p.label for p in pager.numbered][-1] == "21"


def test_page_numbers_leave_no_gap_of_one() -> None:
    assert page_numbers(1, 1) == [1]
    assert page_numbers(3, 6) == [1, 2, 3, 4, 5, 6]
    assert page_numbers(10, 20) == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert page_numbers(5, 20) == [1, 2, 3, 4, 5, 6, 7, None, 20]
