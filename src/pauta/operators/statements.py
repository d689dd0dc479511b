"""Splitting a SQL script into statements, without splitting inside quotes or comments.

Pure text work: a ``;`` ends a statement unless it is inside a string (``'...'``, with ``''``
for a quote; backslash escapes on MySQL/MariaDB and in PostgreSQL's ``E'...'``), a quoted
name (``"..."``, or backticks on MySQL/MariaDB), a comment (``-- ...``, ``# ...`` on
MySQL/MariaDB, ``/* ... */``) or a PostgreSQL dollar-quoted body (``$$ ... $$``,
``$fn$ ... $fn$``), which is how PostgreSQL functions are written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True, slots=True)
class Dialect:
    """What a dialect's SQL text allows, as far as splitting goes."""

    backslash_escapes: bool = False  # '\'' is a quote inside a string
    backticks: bool = False  # `name`
    hash_comments: bool = False  # # to the end of the line
    dollar_quotes: bool = False  # $tag$ ... $tag$
    e_strings: bool = False  # E'...' has backslash escapes

    @classmethod
    def named(cls, name: str) -> Dialect:
        """The rules for a SQLAlchemy dialect name (``postgresql``, ``mysql``, ``sqlite``...)."""
        if name in ("mysql", "mariadb"):
            return cls(backslash_escapes=True, backticks=True, hash_comments=True)
        if name == "postgresql":
            return cls(dollar_quotes=True, e_strings=True)
        return cls()


def split_statements(script: str, dialect: Dialect | None = None) -> list[str]:
    """The statements of ``script``, stripped, without empty ones (a lone ``;``, comments)."""
    rules = dialect or Dialect()
    statements: list[str] = []
    start = i = 0
    n = len(script)
    has_code = False  # the current statement holds more than blanks and comments
    while i < n:
        c = script[i]
        if c == ";":
            if has_code:
                statements.append(script[start:i].strip())
            start, i, has_code = i + 1, i + 1, False
            continue
        if (c == "-" and script.startswith("--", i)) or (c == "#" and rules.hash_comments):
            end = script.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c == "/" and script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        has_code = has_code or not c.isspace()
        if c == "'":
            escapes = rules.backslash_escapes or (rules.e_strings and _after_e(script, i))
            i = _closing_quote(script, i, "'", escapes)
        elif c == '"' or (c == "`" and rules.backticks):
            i = _closing_quote(script, i, c, False)
        elif c == "$" and rules.dollar_quotes and (found := _DOLLAR_TAG.match(script, i)):
            tag = found.group(0)
            end = script.find(tag, found.end())
            i = n if end < 0 else end + len(tag)
        else:
            i += 1
    if has_code:
        statements.append(script[start:].strip())
    return statements


def _after_e(text: str, i: int) -> bool:
    """The quote at ``i`` opens ``E'...'``: an E that is not the end of a longer word."""
    if i < 1 or text[i - 1] not in "eE":
        return False
    return i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_")


def _closing_quote(text: str, i: int, quote: str, escapes: bool) -> int:
    """The index just past the quote that closes the one at ``i`` (doubled quotes and, with
    ``escapes``, backslash-escaped ones do not close it); the end of ``text`` if none does."""
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if escapes and c == "\\":
            j += 2
            continue
        if c == quote:
            if j + 1 < n and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n
