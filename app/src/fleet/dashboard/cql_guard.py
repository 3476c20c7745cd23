"""The CQL console's allow-list: one read-only statement, or a clear reason why not.

This is a second line of defence; the first is the console's own role (FLEET_CONSOLE_USERNAME),
granted SELECT only. The check is deliberately strict and simple to reason about:

* one statement: no ``;`` outside literals, except a single trailing one;
* it starts with an allowed keyword (SELECT, DESCRIBE / DESC) as a whole ASCII word;
* outside quotes, ASCII only (no look-alike letters);
* no comments (``--``, ``//``, ``/* */``) and no control characters, which could hide text;
* string literals (``'...'`` with ``''`` escapes, ``$$...$$``) and quoted identifiers
  (``"..."``) are skipped as a whole, and must be closed.

The statement is sent as typed (minus the trailing ``;``); nothing is ever added to it.
"""

from __future__ import annotations

import re

ALLOWED_KEYWORDS = frozenset({"SELECT", "DESCRIBE", "DESC"})
MAX_STATEMENT_CHARS = 10_000
_FIRST_WORD = re.compile(r"\w+", re.ASCII)
_QUOTES = {"'": "'", '"': '"'}


class StatementRejected(ValueError):
    """The console refuses this statement; the message tells the user why."""


def _skip_quoted(text: str, start: int, quote: str) -> int:
    """Index just after the literal opened at ``start``; a doubled quote is an escaped one."""
    i = start + 1
    while True:
        end = text.find(quote, i)
        if end < 0:
            kind = "string literal" if quote == "'" else "quoted identifier"
            raise StatementRejected(f"unterminated {kind} starting at character {start + 1}")
        if text.startswith(quote, end + 1):
            i = end + 2
            continue
        return end + 1


def _skip_dollar(text: str, start: int) -> int:
    end = text.find("$$", start + 2)
    if end < 0:
        raise StatementRejected(f"unterminated $$ string starting at character {start + 1}")
    return end + 2


def _code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the parts of ``text`` outside literals and quoted identifiers."""
    spans: list[tuple[int, int]] = []
    i = span_start = 0
    while i < len(text):
        ch = text[i]
        if ch in _QUOTES:
            spans.append((span_start, i))
            i = span_start = _skip_quoted(text, i, _QUOTES[ch])
        elif text.startswith("$$", i):
            spans.append((span_start, i))
            i = span_start = _skip_dollar(text, i)
        else:
            i += 1
    spans.append((span_start, len(text)))
    return spans


def masked(text: str) -> str:
    """``text`` with the inside of its string literals (``'...'``, ``$$...$$``) blanked to the
    same length: a keyword then only matches code or a quoted identifier."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "'":
            end = _skip_quoted(text, i, "'")
            out.append("'" + " " * (end - i - 2) + "'")
            i = end
        elif text[i] == '"':
            end = _skip_quoted(text, i, '"')
            out.append(text[i:end])
            i = end
        elif text.startswith("$$", i):
            end = _skip_dollar(text, i)
            out.append("$$" + " " * (end - i - 4) + "$$")
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def check_statement(text: str) -> str:
    """The statement to run (trimmed, no trailing ``;``); else :class:`StatementRejected`."""
    if len(text) > MAX_STATEMENT_CHARS:
        raise StatementRejected(f"statement longer than {MAX_STATEMENT_CHARS} characters")
    bad = next((c for c in text if (ord(c) < 32 and c not in "\t\r\n") or ord(c) == 127), None)
    if bad is not None:
        raise StatementRejected(f"control character {bad!r} in the statement")
    statement = text.strip()
    if statement.endswith(";"):
        statement = statement[:-1].rstrip()
    if not statement:
        raise StatementRejected("empty statement")
    for start, end in _code_spans(statement):
        code = statement[start:end]
        for marker in ("--", "//", "/*", "*/"):
            if marker in code:
                raise StatementRejected(f"comments ({marker}) are not allowed in the console")
        if ";" in code:
            raise StatementRejected("one statement at a time: ';' may only end the statement")
        if not code.isascii():
            raise StatementRejected("non-ASCII characters are only allowed inside quotes")
    word = _FIRST_WORD.match(statement)
    keyword = word.group(0).upper() if word else ""
    if keyword not in ALLOWED_KEYWORDS:
        allowed = ", ".join(sorted(ALLOWED_KEYWORDS))
        shown = keyword or statement.split(maxsplit=1)[0][:20]
        raise StatementRejected(f"only read-only statements are allowed ({allowed}); got {shown!r}")
    return statement
