"""Filters are bounded before they are parsed (issue 9, item 7): too long, too deep or with too
many comparisons is a 400 invalidFilter naming the limit, on every query route, on SQLite and
PostgreSQL, without the parser ever running."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from scim2_models import InvalidFilterException
from scim2_models.path import grammar

from tests.scim.conftest import user_body
from tests.scim.test_bad_input import SEARCH, assert_scim_error

MAX_LENGTH, MAX_DEPTH, MAX_TERMS = 2048, 8, 16  # as advertised (README "Limits")


def nested(depth: int, inner: str = 'userName eq "x"') -> str:
    return "(" * depth + inner + ")" * depth


def terms(n: int, term: str = 'userName eq "x"') -> str:
    return " or ".join([term] * n)


def long_filter(length: int) -> str:
    value = "x" * (length - len('userName eq ""'))
    return f'userName eq "{value}"'


OVER = {
    "long": long_filter(MAX_LENGTH + 1),
    "64KB-nested": nested(32_000, "title pr")[:65_536],
    "deep": nested(MAX_DEPTH + 1),
    "deep-brackets": "emails[" * (MAX_DEPTH + 1) + 'value eq "x"' + "]" * (MAX_DEPTH + 1),
    "many-terms": terms(MAX_TERMS + 1),
    "5000-terms": terms(5000, "title pr"),
}
EXPECTED_DETAIL = {"long": f"longer than {MAX_LENGTH}", "64KB-nested": f"longer than {MAX_LENGTH}",
                   "deep": f"deeper than {MAX_DEPTH}", "deep-brackets": f"deeper than {MAX_DEPTH}",
                   "many-terms": f"more than {MAX_TERMS} comparisons",
                   "5000-terms": f"longer than {MAX_LENGTH}"}  # fmt: skip
AT_LIMIT = {
    "long": long_filter(MAX_LENGTH),
    "deep": nested(MAX_DEPTH),
    "many-terms": terms(MAX_TERMS),
    "terms-in-value-paths": terms(MAX_TERMS // 2, 'emails[type eq "work" and value co "x"]'),
    "operator-words-in-strings": 'userName eq "eq ne co sw ew gt lt ge le pr ((((((((((("',
}


def _refused(response: httpx.Response, kind: str) -> None:
    assert_scim_error(response, 400, "invalidFilter")
    assert EXPECTED_DETAIL[kind] in response.json()["detail"], response.json()


@pytest.mark.parametrize("kind", list(OVER))
def test_over_limit_filters_are_400_on_every_query_route(scim: httpx.Client, kind: str) -> None:
    text = OVER[kind]
    search = {"schemas": [SEARCH], "filter": text}
    for path in ("/Users/.search", "/Groups/.search", "/.search"):
        _refused(scim.post(path, json=search), kind)
    if len(text) < 8000:  # a request line the HTTP server takes
        _refused(scim.get("/Users", params={"filter": text}), kind)
        _refused(scim.get("/Groups", params={"filter": text}), kind)


@pytest.mark.parametrize("kind", list(AT_LIMIT))
def test_filters_at_the_limits_are_served(scim: httpx.Client, kind: str) -> None:
    created = scim.post("/Users", json=user_body("x", emails=[{"value": "ax@example.com", "type": "work"}]))
    assert created.status_code == 201, created.text
    response = scim.get("/Users", params={"filter": AT_LIMIT[kind]})
    assert response.status_code == 200, response.text
    assert response.json()["totalResults"] == (0 if kind == "long" or kind == "operator-words-in-strings" else 1)


@pytest.fixture
def parser_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text scim2-models' filter grammar is asked to parse (its lark parser, wrapped)."""
    calls: list[str] = []
    parse = grammar._PARSER.parse

    def recording(text: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(text)
        return parse(text, *args, **kwargs)

    monkeypatch.setattr(grammar._PARSER, "parse", recording)
    return calls


@pytest.mark.parametrize("kind", list(OVER))
def test_over_limit_filters_never_reach_the_parser(kind: str, parser_calls: list[str]) -> None:
    from scim_server.scim.query import parse_list_query

    with pytest.raises(InvalidFilterException, match=EXPECTED_DETAIL[kind]):
        parse_list_query({"filter": OVER[kind]}, 100, 1000)
    assert parser_calls == []


@pytest.mark.parametrize("text", [long_filter(16_385), nested(33), terms(201)], ids=["long", "deep", "terms"])
def test_the_ceiling_holds_for_a_caller_that_skips_the_check(text: str, parser_calls: list[str]) -> None:
    from scim_server.scim import filters

    with pytest.raises(InvalidFilterException):
        filters.user_where(text, 1)
    with pytest.raises(InvalidFilterException):
        filters.group_where(text, 1)
    assert parser_calls == []


def test_the_limit_is_checked_before_the_syntax() -> None:
    """An unbalanced 9-deep filter is refused for its depth, not for a syntax error found after
    a full parse."""
    from scim_server.scim.query import parse_list_query

    with pytest.raises(InvalidFilterException, match=f"deeper than {MAX_DEPTH}"):
        parse_list_query({"filter": "(" * (MAX_DEPTH + 1) + "userName eq"}, 100, 1000)


def test_limits_are_settings() -> None:
    from scim_server.scim.filter_limits import FilterLimits
    from scim_server.scim.query import parse_list_query
    from scim_server.settings import Settings

    limits = FilterLimits.from_settings(Settings(filter_max_length=40, filter_max_depth=1, filter_max_terms=2))
    assert limits == FilterLimits(40, 1, 2)
    for text in ("x" * 41, "((title pr))", "title pr or title pr or title pr"):
        with pytest.raises(InvalidFilterException):
            parse_list_query({"filter": text}, 100, 1000, limits)
    assert parse_list_query({"filter": "(title pr) or title pr"}, 100, 1000, limits).filter


async def test_long_filters_are_planned_off_the_event_loop() -> None:
    from scim_server.scim.query import INLINE_FILTER_LENGTH, Finders, finder_off_loop, parse_list_query

    threads: list[str] = []

    def where(text: str, ws: int) -> Any:
        threads.append(threading.current_thread().name)
        return None

    finders = Finders(frozenset(), lambda *a: (0, []), where, lambda *a: None, lambda *a: [], lambda *a: 0)
    short = parse_list_query({"filter": 'title eq "x"'}, 100, 1000)
    long = parse_list_query({"filter": terms(MAX_TERMS, 'title eq "' + "y" * 12 + '"')}, 100, 1000)
    assert len(long.filter or "") > INLINE_FILTER_LENGTH
    await finder_off_loop(finders, short, 1)
    await finder_off_loop(finders, long, 1)
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("scim-filter")


def test_patch_paths_and_path_less_keys_are_bounded_before_parsing(parser_calls: list[str]) -> None:
    from scim2_models import InvalidPathException

    from scim_server.scim.patch import apply_user_patch, normalize_patch

    patch = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    doc = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"}
    for huge in (nested(MAX_DEPTH + 1, 'emails[type eq "work"]'), "emails[" + "x" * MAX_LENGTH + "]"):
        with pytest.raises(InvalidPathException):
            normalize_patch({"schemas": [patch], "Operations": [{"op": "add", "path": huge, "value": "x"}]})
        ops = normalize_patch({"schemas": [patch], "Operations": [{"op": "add", "value": {huge: "x"}}]})
        with pytest.raises(InvalidPathException):
            apply_user_patch(doc, ops)
    assert parser_calls == []
