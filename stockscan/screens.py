"""The screen language of ``--where`` (issue 19): a small grammar of our own, parsed by
recursive descent and compiled to a parameterised SQL condition. Nothing the user typed ever
reaches the SQL text: names are looked up in FIELDS (a fixed table of column expressions),
operators in fixed tables, and every number and string becomes a bound parameter. No eval.

    condition  := disjunct ("or" disjunct)*
    disjunct   := negation ("and" negation)*
    negation   := "not" negation | comparison
    comparison := sum [ compare_op sum
                      | "is" ["not"] "null"
                      | ["not"] "in" "(" literal ("," literal)* ")"
                      | ["not"] "between" sum "and" sum ]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | NAME | WORD | "(" condition ")"
    compare_op := "<" | "<=" | ">" | ">=" | "=" | "==" | "!=" | "<>"

Keywords and names are case-insensitive. A WORD is a bare value of a text field's vocabulary
(``BUY``, ``long``, ``demo``): ``verdict in (BUY, STRONG_BUY)`` needs no quotes. Types are
checked: arithmetic and ordering take numbers, ``and``/``or``/``not`` take conditions, a
text field is compared with text, and a verdict, side or source with one of its values.
Comparisons follow SQL: a NULL value (an indicator undefined at the last bar, a plan with no
stop) makes a comparison unknown, and the row does not pass (``is null`` asks for it).

Every error is a ``UsageError`` (exit 2) naming the position (1-based character) and, for an
unknown name, the known ones. Pure: no database, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from stockscan import vocab
from stockscan.errors import UsageError

Kind = Literal["number", "text", "condition"]

INDICATORS = (
    "sma_20", "sma_50", "sma_200", "ema_20", "rsi_14", "macd", "macd_signal", "macd_hist",
    "atr_14", "bb_upper", "bb_middle", "bb_lower", "adx_14", "roc_20", "volume_ratio_20",
    "high_52w", "low_52w",
)  # fmt: skip
DERIVED = ("atr_pct", "stop_pct", "pct_from_52w_high")


@dataclass(frozen=True)
class Field:
    """A name of the language: the SQL expression it reads (over ``r``, the result, and ``i``,
    its result_indicators row), its kind, and for a text field the values it can hold."""

    sql: str
    kind: Literal["number", "text"]
    values: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    "score": Field("r.score", "number"),
    "close": Field("r.close", "number"),
    "entry": Field("r.entry", "number"),
    "stop": Field("r.stop", "number"),
    "target": Field("r.target", "number"),
    "reward_risk": Field("r.reward_risk", "number"),
    **{name: Field(f"i.{name}", "number") for name in INDICATORS + DERIVED},
    "verdict": Field("r.verdict", "text", vocab.VERDICTS),
    "side": Field("r.side", "text", ("long", "short", "none")),
    "source": Field("r.analysis_source", "text", (*vocab.SOURCES, "unknown")),
    "ticker": Field("r.ticker", "text"),
}

# Bare words that are values, not names: each text field's vocabulary, matched without case.
WORDS: dict[str, str] = {
    value.lower(): value for field in FIELDS.values() for value in field.values
}
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "between"})
COMPARE = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "==": "=", "!=": "<>", "<>": "<>"}
ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/"}

# Bounds that keep a hostile expression cheap and within SQLite's own limits (an expression
# tree of depth 1000, 32766 parameters): far beyond any screen a person writes.
MAX_LENGTH = 2000
MAX_DEPTH = 40  # parentheses, 'not' and '-' within one another: Python's recursion
MAX_TREE = 200  # operations within one another, chains included: SQLite's expression depth

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<string>'[^'\n]*'|"[^"\n]*")
      | (?P<op><=|>=|==|!=|<>|[<>=+\-*/(),])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # number, name, string, op, end
    text: str
    position: int  # 1-based character


@dataclass(frozen=True)
class Compiled:
    """A checked expression: the SQL condition (fixed text, ``?`` for every value) and its
    parameters in order; ``indicators``: whether it reads result_indicators (``i``)."""

    text: str
    sql: str
    params: tuple[Any, ...]
    indicators: bool


@dataclass(frozen=True)
class _Node:
    sql: str
    params: tuple[Any, ...]
    kind: Kind
    position: int
    depth: int
    field: Field | None = None  # a bare field: what a value compared with it must be
    word: str | None = None  # a bare WORD, a text value only beside a field that has it
    literal: bool = False  # a number or a string literal


def _show(text: str) -> str:
    """A token as an error names it: never more than a few dozen characters of input."""
    return repr(text if len(text) <= 30 else text[:30] + "…")


def tokenize(text: str, option: str = "--where") -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if match is None:
            char = text[index]
            what = "an unclosed string" if char in "'\"" else f"unexpected character {char!r}"
            raise UsageError(f"{option}: {what} at position {index + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), index + 1))
        index = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, option: str) -> None:
        self.option = option
        self.tokens = tokenize(text, option)
        self.at = 0
        self.level = 0
        self.uses_indicators = False

    # --- helpers ---
    def error(self, message: str, position: int, then: str = "") -> UsageError:
        return UsageError(f"{self.option}: {message} at position {position}{then}")

    def unknown(self, name: str, position: int) -> UsageError:
        return self.error(f"unknown name {_show(name)}", position, f"; {known()}")

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def keyword(self, *words: str) -> bool:
        token = self.token
        return token.kind == "name" and token.text.lower() in words

    def op(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.text in ops

    def advance(self) -> Token:
        token = self.token
        self.at += 1
        return token

    def expect_op(self, op: str, what: str) -> None:
        if not self.op(op):
            raise self.unexpected(what)
        self.advance()

    def unexpected(self, wanted: str) -> UsageError:
        token = self.token
        found = "the end" if token.kind == "end" else _show(token.text)
        return self.error(f"expected {wanted}, found {found}", token.position)

    def check_depth(self, node: _Node) -> _Node:
        if node.depth > MAX_TREE:
            raise self.error(f"more than {MAX_TREE} operations in one chain", node.position)
        return node

    def value_of(self, node: _Node, other: _Node) -> _Node:
        """``node`` as a value beside ``other``: a WORD becomes text when ``other`` is a text
        field that has it; text compared with a field of a vocabulary must be in it."""
        field = other.field
        if node.word is not None:
            if field is None or field.kind != "text" or not field.values:
                raise self.unknown(node.word, node.position)
            value = WORDS[node.word.lower()]
            if value not in field.values:
                raise self.error(
                    f"{_show(node.word)} is not a value of {_name(field)}:"
                    f" expected one of {', '.join(field.values)}",
                    node.position,
                )
            return _Node("?", (value,), "text", node.position, 1, literal=True)
        if field is not None and field.values and node.literal and node.kind == "text":
            value = node.params[0]
            if value not in field.values:
                raise self.error(
                    f"{_show(value)} is not a value of {_name(field)}:"
                    f" expected one of {', '.join(field.values)}",
                    node.position,
                )
        return node

    def need(self, node: _Node, kind: Kind, role: str) -> _Node:
        if node.word is not None:
            raise self.unknown(node.word, node.position)
        if node.kind != kind:
            raise self.error(f"{role} needs {_kind(kind)}, not {_kind(node.kind)}", node.position)
        return node

    # --- the grammar ---
    def parse(self) -> _Node:
        if self.token.kind == "end":
            raise self.error("empty expression", 1)
        node = self.condition()
        if self.token.kind != "end":
            raise self.unexpected("an operator (and, or, a comparison) or the end")
        return self.need(node, "condition", "a screen")

    def condition(self) -> _Node:
        return self.chain("or", self.disjunct)

    def disjunct(self) -> _Node:
        return self.chain("and", self.negation)

    def chain(self, word: str, part: Any) -> _Node:
        node = part()
        while self.keyword(word):
            position = self.advance().position
            left = self.need(node, "condition", f"'{word}'")
            right = self.need(part(), "condition", f"'{word}'")
            node = self.check_depth(
                _Node(
                    f"({left.sql} {word.upper()} {right.sql})",
                    left.params + right.params,
                    "condition",
                    position,
                    max(left.depth, right.depth) + 1,
                )
            )
        return node

    def negation(self) -> _Node:
        if self.keyword("not"):
            position = self.advance().position
            self.nested(position)
            inner = self.need(self.negation(), "condition", "'not'")
            self.level -= 1
            return self.check_depth(
                _Node(f"(NOT {inner.sql})", inner.params, "condition", position, inner.depth + 1)
            )
        return self.comparison()

    def comparison(self) -> _Node:
        left = self.sum()
        if self.op(*COMPARE):
            token = self.advance()
            right = self.sum()
            left_value, right_value = self.value_of(left, right), self.value_of(right, left)
            for side in (left_value, right_value):
                self.need(side, side.kind if side.kind != "condition" else "number", "comparing")
            if left_value.kind != right_value.kind:
                raise self.error(
                    f"{token.text!r} compares {_kind(left_value.kind)} with"
                    f" {_kind(right_value.kind)}",
                    token.position,
                )
            if left_value.kind == "text" and COMPARE[token.text] not in ("=", "<>"):
                raise self.error(f"{token.text!r} needs numbers, not text", token.position)
            return self.compared(left_value, f"{COMPARE[token.text]} {right_value.sql}",
                                 right_value, token)  # fmt: skip
        if self.keyword("is"):
            token = self.advance()
            negated = self.keyword("not")
            if negated:
                self.advance()
            if not self.keyword("null"):
                raise self.unexpected("'null'")
            self.advance()
            value = self.need_value(left)
            return self.compared(value, "IS NOT NULL" if negated else "IS NULL", None, token)
        negated = False
        if self.keyword("not"):
            negated = True
            self.advance()
            if not self.keyword("in", "between"):
                raise self.unexpected("'in' or 'between' after 'not'")
        if self.keyword("in"):
            token = self.advance()
            self.expect_op("(", "'(' after 'in'")
            items: list[_Node] = []
            while True:
                item = self.sum()
                if not (item.literal or item.word is not None):
                    raise self.error("'in' takes a list of values", item.position)
                items.append(self.value_of(item, left))
                if self.op(","):
                    self.advance()
                    continue
                self.expect_op(")", "',' or ')'")
                break
            value = self.need_value(left)
            for item in items:
                if item.kind != value.kind:
                    raise self.error(
                        f"'in' compares {_kind(value.kind)} with {_kind(item.kind)}",
                        item.position,
                    )
            marks = ", ".join("?" for _ in items)
            params = tuple(p for item in items for p in item.params)
            return self.compared(
                value, f"{'NOT IN' if negated else 'IN'} ({marks})", None, token, params
            )
        if self.keyword("between"):
            token = self.advance()
            low = self.need(self.sum(), "number", "'between'")
            if not self.keyword("and"):
                raise self.unexpected("'and' in 'between … and …'")
            self.advance()
            high = self.need(self.sum(), "number", "'between'")
            value = self.need(left, "number", "'between'")
            return self.compared(
                value,
                f"{'NOT BETWEEN' if negated else 'BETWEEN'} {low.sql} AND {high.sql}",
                None,
                token,
                low.params + high.params,
                max(low.depth, high.depth),
            )
        return left

    def need_value(self, node: _Node) -> _Node:
        if node.word is not None:
            raise self.unknown(node.word, node.position)
        if node.kind == "condition":
            raise self.error("this needs a value, not a condition", node.position)
        return node

    def compared(
        self,
        left: _Node,
        rest: str,
        right: _Node | None,
        token: Token,
        extra: tuple[Any, ...] = (),
        depth: int = 0,
    ) -> _Node:
        params = left.params + (right.params if right else ()) + extra
        deepest = max(left.depth, right.depth if right else 0, depth) + 1
        return self.check_depth(
            _Node(f"({left.sql} {rest})", params, "condition", token.position, deepest)
        )

    def sum(self) -> _Node:
        return self.arithmetic(("+", "-"), self.product)

    def product(self) -> _Node:
        return self.arithmetic(("*", "/"), self.unary)

    def arithmetic(self, ops: tuple[str, ...], part: Any) -> _Node:
        node = part()
        while self.op(*ops):
            token = self.advance()
            left = self.need(node, "number", f"{token.text!r}")
            right = self.need(part(), "number", f"{token.text!r}")
            node = self.check_depth(
                _Node(
                    f"({left.sql} {ARITHMETIC[token.text]} {right.sql})",
                    left.params + right.params,
                    "number",
                    token.position,
                    max(left.depth, right.depth) + 1,
                )
            )
        return node

    def unary(self) -> _Node:
        if self.op("-"):
            token = self.advance()
            self.nested(token.position)
            inner = self.need(self.unary(), "number", "'-'")
            self.level -= 1
            return self.check_depth(
                _Node(f"(- {inner.sql})", inner.params, "number", token.position, inner.depth + 1)
            )
        return self.primary()

    def primary(self) -> _Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            value = float(token.text)
            if value != value or value in (float("inf"), float("-inf")):
                raise self.error(f"number {_show(token.text)} is out of range", token.position)
            return _Node("?", (value,), "number", token.position, 1, literal=True)
        if token.kind == "string":
            self.advance()
            return _Node("?", (token.text[1:-1],), "text", token.position, 1, literal=True)
        if token.kind == "name":
            word = token.text.lower()
            if word in KEYWORDS:
                raise self.unexpected("a value")
            self.advance()
            field = FIELDS.get(word)
            if field is not None:
                if field.sql.startswith("i."):
                    self.uses_indicators = True
                return _Node(field.sql, (), field.kind, token.position, 1, field=field)
            if word in WORDS:
                return _Node("", (), "text", token.position, 1, word=token.text)
            raise self.unknown(token.text, token.position)
        if self.op("("):
            self.nested(self.advance().position)
            inner = self.condition()
            self.expect_op(")", "')'")
            self.level -= 1
            return inner
        raise self.unexpected("a value, a name or '('")

    def nested(self, position: int) -> None:
        """One level further down the recursion (a parenthesis, a 'not', a '-'): refused past
        MAX_DEPTH, before Python's own recursion limit could be met."""
        self.level += 1
        if self.level > MAX_DEPTH:
            raise self.error(f"the expression nests deeper than {MAX_DEPTH} levels", position)


def _kind(kind: Kind) -> str:
    return {"number": "a number", "text": "text", "condition": "a condition"}[kind]


def _name(field: Field) -> str:
    return next(name for name, f in FIELDS.items() if f is field)


def known() -> str:
    return f"known names: {', '.join(FIELDS)}"


def compile_where(text: str, option: str = "--where") -> Compiled:
    """Check ``text`` and compile it; ``UsageError`` (exit 2) for anything wrong with it."""
    if len(text) > MAX_LENGTH:
        raise UsageError(
            f"{option}: the expression is {len(text)} characters; at most {MAX_LENGTH}"
        )
    parser = _Parser(text, option)
    node = parser.parse()
    return Compiled(text, node.sql, node.params, parser.uses_indicators)


# --- --sort ---------------------------------------------------------------------------------

SORT_FIELDS: dict[str, str] = {
    "date": "r.analysis_date",
    **{name: field.sql for name, field in FIELDS.items()},
}


@dataclass(frozen=True)
class Sort:
    """A checked --sort: the text as typed and its ORDER BY (fixed SQL, no value of the
    input), each field with NULLs last whichever the direction, the ticker breaking ties."""

    text: str
    sql: str
    indicators: bool


def compile_sort(text: str, option: str = "--sort") -> Sort:
    """``FIELD[,FIELD…]``, each ascending or, with a leading ``-``, descending."""
    terms: list[str] = []
    indicators = False
    if len(text) > MAX_LENGTH:
        raise UsageError(f"{option}: {len(text)} characters; at most {MAX_LENGTH}")
    for part in text.split(","):
        name = part.strip()
        descending = name.startswith("-")
        name = name[1:].strip().lower() if descending else name.lower()
        if not name:
            raise UsageError(f"{option} {_show(text)}: an empty field; expected FIELD[,FIELD…]")
        sql = SORT_FIELDS.get(name)
        if sql is None:
            raise UsageError(
                f"{option}: unknown field {_show(name)}; known fields: {', '.join(SORT_FIELDS)}"
            )
        indicators = indicators or sql.startswith("i.")
        terms.append(f"{sql} {'DESC' if descending else 'ASC'} NULLS LAST")
    return Sort(text, ", ".join([*terms, "r.ticker"]), indicators)
