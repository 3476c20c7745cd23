"""Who may do what behind the authenticating proxy (role fleet_proxy): the headers it sends,
and the pages and buttons each user is offered (AppTest, without Cassandra)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from fleet.config import ConfigError
from fleet.dashboard import state
from fleet.dashboard.access import Viewer, allowed, parse_groups, viewer_from_headers
from fleet.dashboard.console import StatementBudget
from fleet.dashboard.settings import load_dashboard_settings

from .test_degrade import assert_no_dump, fake, open_page, rendered  # noqa: F401 (fixture)

PROXY = {"FLEET_AUTH_USER_HEADER": "X-Fleet-User", "FLEET_AUTH_GROUPS_HEADER": "X-Fleet-Groups"}


def test_the_proxys_headers_name_the_user_and_groups_case_insensitively() -> None:
    who = viewer_from_headers(
        {"x-fleet-user": "alice", "X-FLEET-GROUPS": "console, admin,bad group"},
        "X-Fleet-User",
        "X-Fleet-Groups",
    )
    assert who == Viewer("alice", frozenset({"console", "admin"}), authenticated=True)


def test_groups_without_a_user_count_for_nothing() -> None:
    who = viewer_from_headers({"X-Fleet-Groups": "admin"}, "X-Fleet-User", "X-Fleet-Groups")
    assert not who.authenticated and who.groups == frozenset()
    assert not allowed(who, frozenset({"admin"}), proxied=True)


def test_without_a_proxy_nothing_is_restricted_and_headers_are_ignored() -> None:
    who = viewer_from_headers({"X-Fleet-User": "mallory"}, None, None)
    assert who.name is None
    assert allowed(who, frozenset({"admin"}), proxied=False)


def test_membership_decides_behind_the_proxy() -> None:
    reader = Viewer("bob", frozenset(), True)
    operator = Viewer("alice", frozenset({"console"}), True)
    assert not allowed(reader, frozenset({"console"}), proxied=True)
    assert allowed(operator, frozenset({"console"}), proxied=True)
    assert parse_groups(" a,,b ") == frozenset({"a", "b"})


def test_settings_default_to_console_and_admin_groups_and_refuse_bad_names() -> None:
    dash = load_dashboard_settings(PROXY)
    assert dash.console_groups == frozenset({"console"}) and dash.admin_groups == {"admin"}
    with pytest.raises(ConfigError) as info:
        load_dashboard_settings(
            {"FLEET_AUTH_USER_HEADER": "X Fleet", "FLEET_CONSOLE_GROUPS": "a b"}
        )
    problems = " ".join(info.value.problems)
    assert "FLEET_AUTH_USER_HEADER" in problems and "FLEET_CONSOLE_GROUPS" in problems


def _as(monkeypatch: pytest.MonkeyPatch, who: Viewer) -> None:
    for name, value in PROXY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(state, "viewer", lambda: who)


def _offers(at) -> tuple[bool, bool]:
    """(the console page can be opened, the cache reset button is shown)."""
    reload = "Reload data" in rendered(at)
    try:
        at.switch_page("views/console.py").run()
    except ValueError as exc:  # not a page of this session's navigation
        assert "Could not find a navigation page" in str(exc)
        return False, reload
    return "CQL console" in rendered(at), reload


def test_without_a_proxy_everything_is_offered(fake) -> None:  # noqa: F811
    at = open_page()
    assert_no_dump(at)
    assert _offers(at) == (True, True)


def test_a_read_only_user_gets_neither_the_console_nor_the_cache_reset(fake, monkeypatch) -> None:  # noqa: F811
    _as(monkeypatch, Viewer("bob", frozenset(), True))
    at = open_page()
    assert_no_dump(at)
    assert _offers(at) == (False, False)
    assert "Signed in as **bob** (read-only)" in rendered(at)


def test_an_unauthenticated_request_behind_the_proxy_gets_nothing_more(fake, monkeypatch) -> None:  # noqa: F811
    _as(monkeypatch, Viewer(None, frozenset(), False))
    assert _offers(open_page()) == (False, False)


def test_console_and_admin_groups_get_their_features(fake, monkeypatch) -> None:  # noqa: F811
    _as(monkeypatch, Viewer("alice", frozenset({"console"}), True))
    assert _offers(open_page()) == (True, False)
    state.st.cache_resource.clear()
    _as(monkeypatch, Viewer("root", frozenset({"console", "admin"}), True))
    assert _offers(open_page()) == (True, True)


def test_the_statement_budget_is_a_sliding_window() -> None:
    budget = StatementBudget(limit=2, window_s=60)
    assert budget.take(0.0) == 0 and budget.take(1.0) == 0
    assert budget.take(2.0) == 58.0  # the first one leaves the window at 60 s
    assert budget.take(60.5) == 0


def test_console_statements_past_the_rate_and_refusals_are_logged_with_the_user(
    fake,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FLEET_CONSOLE_RATE", "2")
    _as(monkeypatch, Viewer("alice", frozenset({"console"}), True))
    rows = SimpleNamespace(column_names=["now"], current_rows=[(1,)], paging_state=None)
    session = SimpleNamespace(execute=lambda *_, **__: rows)
    monkeypatch.setattr(state, "console_connection", lambda: SimpleNamespace(session=session))
    at = open_page("console")
    caplog.set_level(logging.WARNING, logger="fleet.dashboard.console")
    at.text_area(key="cq_text").input("SELECT * FROM t ALLOW FILTERING")
    at.button[0].click().run()
    assert at.error[0].value.startswith("Refused: ")  # the console's own check
    at.text_area(key="cq_text").input("SELECT now() FROM system.local")
    at.button[0].click().run()
    assert not at.error
    at.button[0].click().run()  # a third statement within the minute
    assert at.error[0].value.startswith("Refused: more than 2 statements a minute")
    logged = [r.getMessage() for r in caplog.records if r.name == "fleet.dashboard.console"]
    assert len(logged) == 2 and all(m.startswith("console: refused for alice: ") for m in logged)
    assert "ALLOW FILTERING" in logged[0]
