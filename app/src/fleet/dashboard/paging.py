"""Previous / next over the driver's paging states.

Cassandra pages forward only: a paging state resumes a query where the previous page ended. To
go back, the cursor keeps the state that started each page already visited; page ``n`` is
re-read from its own state. States are opaque bytes from the driver, never user input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PageCursor:
    """``starts[i]`` is the paging state that reads page ``i + 1`` (None: from the beginning)."""

    starts: tuple[bytes | None, ...] = (None,)

    @property
    def number(self) -> int:
        """The current page, from 1."""
        return len(self.starts)

    @property
    def state(self) -> bytes | None:
        """The paging state to read the current page with."""
        return self.starts[-1]

    @property
    def has_previous(self) -> bool:
        return len(self.starts) > 1

    def forward(self, next_state: bytes | None) -> PageCursor:
        """The next page, given the paging state the current page returned."""
        if next_state is None:
            raise ValueError("the current page is the last one")
        return PageCursor((*self.starts, next_state))

    def back(self) -> PageCursor:
        if not self.has_previous:
            raise ValueError("already on the first page")
        return PageCursor(self.starts[:-1])


def first_row_number(cursor: PageCursor, page_size: int) -> int:
    """1-based number of the first row of the cursor's page (pages before it are full)."""
    return (cursor.number - 1) * page_size + 1
