"""Small stand-ins for driver objects, for unit tests of the read layer and the console."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakePrepared:
    cql: str
    fetch_size: int | None = None
    is_idempotent: bool = False

    def bind(self, values: Sequence[Any]) -> FakeBound:
        return FakeBound(self, tuple(values))


@dataclass
class FakeBound:
    prepared: FakePrepared
    values: tuple[Any, ...]
    fetch_size: int | None = None


@dataclass
class FakeResult:
    rows: list[tuple[Any, ...]]
    column_names: list[str] = field(default_factory=list)
    paging_state: bytes | None = None

    @property
    def current_rows(self) -> list[tuple[Any, ...]]:
        return self.rows

    @property
    def has_more_pages(self) -> bool:
        return self.paging_state is not None

    def one(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Any:
        return iter(self.rows)


@dataclass
class FakeSession:
    """``answer(statement, params, profile)`` returns a FakeResult or raises."""

    answer: Callable[[Any, Any, Any], FakeResult]
    calls: list[tuple[Any, Any, Any]] = field(default_factory=list)

    def prepare(self, cql: str) -> FakePrepared:
        return FakePrepared(cql)

    def execute(
        self,
        statement: Any,
        parameters: Any = None,
        timeout: Any = None,
        paging_state: bytes | None = None,
        execution_profile: Any = "default",
    ) -> FakeResult:
        self.calls.append((statement, parameters, execution_profile))
        return self.answer(statement, parameters, execution_profile)
