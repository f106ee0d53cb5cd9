"""Xero's `where` filter: a small subset of its .NET-style expressions.

Supported: Field=="x", Field!="x", comparisons (<, <=, >, >=) on numbers and DateTime(y,m,d), Field.Contains("x"),
Field.StartsWith("x"), Field.EndsWith("x"), Field.ToLower()/ToUpper(), dotted paths (Contact.ContactID),
guid("..."), true/false/null, AND/&&, OR/||, and parentheses. String equality ignores case, like Xero.

String literals follow Dynamic LINQ, the parser behind Xero's `where` (its messages are that parser's: "Unterminated
string literal", "Character literal must contain exactly one character"): "..." holds anything but a lone quote, a
quote inside is written twice (""), and a backslash is just a backslash. So Name=="Say \"hi\"" is a syntax error, as
in Xero (Xero-Java#347), and Name=="Say ""hi"" now" finds the contact named Say "hi" now.
"""

import operator
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from .errors import query_error
from .formats import parse_day

Predicate = Callable[[dict], bool]
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"]|"")*")|(?P<char>\'(?:[^\']|\'\')*\')|(?P<num>-?\d+(?:\.\d+)?)'
                    r"|(?P<op>==|!=|>=|<=|&&|\|\||[<>().,])|(?P<name>[A-Za-z_][A-Za-z0-9_]*))")
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_METHODS = {"contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}


def compile_where(expr: str) -> Predicate:
    parser = _Parser(_tokens(expr))
    predicate = parser.or_expr()
    if parser.peek() is not None:
        raise query_error(f"Unexpected '{parser.peek()[1]}' in where clause")
    return predicate


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr.rstrip()):
        match = _TOKEN.match(expr, pos)
        if match is None or match.end() == pos:
            if expr[pos:].lstrip()[:1] in ('"', "'"):
                raise query_error("Unterminated string literal")
            raise query_error("Syntax error")
        kind = match.lastgroup or "op"
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise query_error("Unexpected end of where clause")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise query_error(f"Expected '{value}' in where clause")

    def _is(self, *values: str) -> bool:
        token = self.peek()
        return token is not None and token[1].upper() in values

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self._is("OR", "||"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else lambda doc: any(p(doc) for p in parts)

    def and_expr(self) -> Predicate:
        parts = [self.atom()]
        while self._is("AND", "&&"):
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else lambda doc: all(p(doc) for p in parts)

    def atom(self) -> Predicate:
        if self._is("("):
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        if self._is("NOT", "!"):
            self.take()
            inner = self.atom()
            return lambda doc: not inner(doc)
        return self.comparison()

    def comparison(self) -> Predicate:
        path = [self._name()]
        while self._is("."):
            self.take()
            name = self._name()
            if name.lower() in _METHODS:
                return self._method(path, name.lower())
            if name.lower() in ("tolower", "toupper"):
                self.expect("(")
                self.expect(")")
                continue
            path.append(name)
        op = self.take()[1]
        if op not in ("==", "!=", "<", "<=", ">", ">="):
            raise query_error(f"Unsupported operator '{op}' in where clause")
        value = self.value()
        return lambda doc: _compare(_lookup(doc, path), op, value)

    def _method(self, path: list[str], method: str) -> Predicate:
        self.expect("(")
        arg = self.value()
        self.expect(")")
        func = _METHODS[method]
        return lambda doc: func(str(_lookup(doc, path) or "").casefold(), str(arg).casefold())

    def _name(self) -> str:
        kind, text = self.take()
        if kind != "name":
            raise query_error(f"Expected a field name, got '{text}'")
        return text

    def value(self) -> object:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace('""', '"')
        if kind == "char":
            inner = text[1:-1].replace("''", "'")
            if len(inner) != 1:
                raise query_error("Character literal must contain exactly one character")
            return inner
        if kind == "num":
            return Decimal(text)
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        if lowered == "guid":
            self.expect("(")
            inner = self.value()
            self.expect(")")
            return inner
        if lowered == "datetime":
            return self._datetime()
        raise query_error(f"Unexpected '{text}' in where clause")

    def _datetime(self) -> date:
        self.expect("(")
        parts = [int(self.value())]
        while self._is(","):
            self.take()
            parts.append(int(self.value()))
        self.expect(")")
        return date(*parts[:3])


def _lookup(doc: dict, path: list[str]) -> object:
    current: object = doc
    for name in path:
        if not isinstance(current, dict):
            return None
        current = next((v for k, v in current.items() if k.lower() == name.lower()), None)
    return current


def _compare(left: object, op: str, right: object) -> bool:
    if isinstance(right, date):
        left = parse_day(left)
    elif isinstance(right, Decimal):
        left = Decimal(str(left)) if isinstance(left, int | float) and not isinstance(left, bool) else None
    elif isinstance(right, str):
        left, right = ("" if left is None else str(left)).casefold(), right.casefold()
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False
    try:
        return _ORDER[op](left, right)
    except TypeError:
        return False
