from __future__ import annotations

import pytest

from fleet.dashboard.paging import PageCursor, first_row_number


def test_forward_and_back_replay_the_same_states() -> None:
    cursor = PageCursor()
    assert (cursor.number, cursor.state, cursor.has_previous) == (1, None, False)
    second = cursor.forward(b"after-page-1")
    third = second.forward(b"after-page-2")
    assert (third.number, third.state) == (3, b"after-page-2")
    assert third.back() == second
    assert third.back().back() == cursor
    assert first_row_number(third, 50) == 101


def test_the_edges_are_refused() -> None:
    with pytest.raises(ValueError, match="first page"):
        PageCursor().back()
    with pytest.raises(ValueError, match="last one"):
        PageCursor().forward(None)


def test_cursors_are_values() -> None:
    # Kept in session_state and compared to decide whether to reset: equality by value.
    assert PageCursor().forward(b"x") == PageCursor((None, b"x"))
    assert PageCursor().forward(b"x") != PageCursor().forward(b"y")
