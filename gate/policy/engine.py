"""The expression engine behind ``when:``: CEL, through Google's cel-cpp (cel-expr-python).

Chosen for compile-time checking of names (a typo fails at load, not at a checkout), built-in
depth/size/iteration budgets, and speed (a few µs per rule). It sits behind this module so it
can be swapped: nothing else imports cel_expr_python.

The engine's trap: an evaluation error comes back as an ERROR *value* whose ``bool()`` is
True. ``Condition.evaluate`` therefore checks the type and reports an error explicitly, and
the policy set turns that into its fail mode; an error never counts as "matched" or "not".

**Numbers.** Every "number" variable is declared ``DOUBLE`` (credits can have decimals), so
the type checker sees at load time a condition that can never match, such as
``available == "0"`` or ``plans == "gold"``. CEL does not mix whole numbers (``int``) and
decimals (``double``) in one operator, while staff write ``available <= 0`` and
``available - 1 < cost``. So ``CelEngine.compile`` compiles in a loop: each time the checker
reports an operator applied to ``(double, int)`` (either order, also ``in`` with a list of
whole numbers and the two branches of ``? :``), the whole-number *literal* next to the
operator is rewritten as a decimal (``1`` → ``1.0``, ``0x10`` → ``16.0``) and the condition
is compiled again, at most ``_MAX_PASSES`` times. A whole number that is not a literal, such
as ``size(pools)``, is not rewritten: that is reported, with the fix ``double(size(pools))``.
Integer-valued conditions (``size(pools) > 0``, ``[1, 2][0] == 1``,
``now.getHours("Europe/Lisbon") >= 22``) never reach the checker as a mismatch and are not
touched. A pool's fields are ``DYN`` (a map holds text and numbers), so the checker cannot
see ``p.available - 1``; a second *probe* environment, in which every pool field is a
decimal, finds those literals the same way (it only ever rewrites literals; arithmetic
between a pool field and a non-literal whole number is refused with the ``double()`` fix).
Positions of anything still wrong are mapped back to the text as written, and
``Condition.source`` stays that text; only the compiled expression uses the rewritten one
(``Condition.rewritten``).

**Activations.** Values are converted by their declared type, so a "number" variable may be
bound to a Python ``float`` or ``int`` (an ``int`` is evaluated as a decimal); text bound to a
number variable evaluates to an error (the fail mode), never to a silent mismatch. Pool maps
are not converted (their values are ``DYN``): whoever builds the activation must pass pool
``available``/``reserved`` as ``float``, as ``Facts.as_cel`` does; an ``int`` there makes
``p.available - 1.0`` an evaluation error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from cel_expr_python import cel  # type: ignore[import-untyped]

from gate.policy.context import VARIABLES

__all__ = ["CelEngine", "CompileFailure", "Condition", "EvalFailure", "split_types"]

_POOL = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
_TYPES = {
    "number": cel.Type.DOUBLE,  # typed, so number-vs-text mistakes fail at load
    "text": cel.Type.STRING,
    "yes/no": cel.Type.BOOL,
    "time": cel.Type.TIMESTAMP,
    "list of text": cel.Type.List(cel.Type.STRING),
    "list of pools": cel.Type.List(_POOL),
}
#: The probe sees every pool field as a decimal, to find whole-number literals beside them.
_PROBE_POOLS = cel.Type.List(cel.Type.Map(cel.Type.STRING, cel.Type.DOUBLE))
#: Each pass rewrites at least one literal; a condition needing more is reported as it is.
_MAX_PASSES = 32
_CACHE_SIZE = 1024
_ISSUE = re.compile(r"<input>:(\d+):(\d+): ([^\n]*)")
_OVERLOAD = re.compile(r"found no matching overload for '([^']+)' applied to '\((.*)\)'")
_TRAILER = re.compile(r"\s*\[[A-Z_]{3,}\]\s*$")
_WHOLE = {"int", "uint"}
_ARITHMETIC = {"_+_", "_-_", "_*_", "_/_", "_%_"}
#: A whole number or arithmetic, maybe (a digit in quoted text only costs a probe).
_MAY_MEET_WHOLE = re.compile(r"[-+*/%]|(?<![\w.])\d")
_BINARY = {"_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", *_ARITHMETIC}
#: Operators whose two operands a message quotes.
_QUOTED = {*_BINARY, "@in"}


@dataclass(frozen=True, slots=True)
class CompileFailure:
    """Why a condition did not compile; ``line``/``column`` are within the expression.

    ``operands``, when the problem is an operator used on values of the wrong kinds, holds
    the text (as written) on each side of that operator, for the message to quote.
    """

    message: str
    line: int
    column: int
    operands: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EvalFailure:
    """A condition that could not be evaluated for one request."""

    message: str


class Condition:
    """A compiled condition. ``evaluate`` returns True, False or an EvalFailure, never raises.

    ``source`` is the condition as written; ``rewritten`` is what was compiled (whole-number
    literals next to decimals written as decimals), the same text when nothing was changed.
    """

    __slots__ = ("_expr", "rewritten", "source")

    def __init__(self, expr: Any, source: str, rewritten: str | None = None) -> None:
        self._expr = expr
        self.source = source
        self.rewritten = source if rewritten is None else rewritten

    def evaluate(self, activation: Any) -> bool | EvalFailure:
        try:
            value = self._expr.eval(activation)
        except Exception as exc:  # the binding may raise for host-side conversion errors
            return EvalFailure(f"{type(exc).__name__}: {exc}")
        result = value.value()
        if value.type() == cel.Type.BOOL:
            return bool(result)
        if value.type() == cel.Type.ERROR:
            return EvalFailure(str(result))
        return EvalFailure(f"the condition gave {value.type().name()}, not true or false")


class CelEngine:
    """Holds the CEL environment with every declared variable; compile once, eval per request.

    Compiled conditions are kept by their text (``_CACHE_SIZE`` of them), so a reload, which
    compiles mostly the same conditions again, does not pay for them twice.
    """

    def __init__(self) -> None:
        declared = {v.name: _TYPES.get(v.kind, cel.Type.DYN) for v in VARIABLES}
        self._env = cel.NewEnv(variables=declared)
        pools = [v.name for v in VARIABLES if v.kind == "list of pools"]
        self._probe = cel.NewEnv(variables={**declared, **dict.fromkeys(pools, _PROBE_POOLS)})
        # A pool's fields are reached through a macro or method (pools.exists...) or an index.
        self._reads_pool_fields = (
            re.compile(r"\b(?:" + "|".join(map(re.escape, pools)) + r")\s*[.\[]")
            if pools else None
        )
        self._compiled: dict[str, Condition | CompileFailure] = {}

    def compile(self, source: str) -> Condition | CompileFailure:
        found = self._compiled.get(source)
        if found is None:
            if len(self._compiled) >= _CACHE_SIZE:
                self._compiled.clear()
            found = self._compiled[source] = self._compile(source)
        return found

    def _compile(self, source: str) -> Condition | CompileFailure:
        text = _Text(source)
        expr, issues = _check(self._env, source)
        for _ in range(_MAX_PASSES):
            if expr is None:
                edits = [edit for issue in issues for edit in text.fixes(issue)]
                if not edits:
                    break
                before, first = text.copy(), issues[0]
                text.apply(edits)
                expr, issues = _check(self._env, text.current)
                if expr is None and any("Syntax error" in i.message for i in issues):
                    text, expr, issues = before, None, [first]  # a rewrite went wrong
                    break
                continue
            if not self._needs_probe(text):
                break
            edits = []
            for issue in _check(self._probe, text.current)[1]:
                fixes = text.fixes(issue)
                if fixes:
                    edits.extend(fixes)
                elif issue.operator in _ARITHMETIC and _mixes_whole_and_decimal(issue):
                    # A pool number with a whole number that is no literal: an error at run time.
                    return text.failure(issue)
            if not edits:
                break
            # Decimals where whole numbers were can show a whole number that is no literal
            # beside them (size(plans) > 1.0 + p.available): the loop reports it, with a fix.
            text.apply(edits)
            expr, issues = _check(self._env, text.current)
        if expr is None:
            return text.failure(issues[0])
        returns = expr.return_type()
        if returns != cel.Type.BOOL and returns != cel.Type.DYN:
            return CompileFailure(
                f"a condition must be true or false, but this gives {_kind(returns)}", 1, 1
            )
        return Condition(expr, source, text.current)

    def _needs_probe(self, text: _Text) -> bool:
        """Whether a pool field may meet a whole number: only then can the probe change a thing."""
        if self._reads_pool_fields is None or not self._reads_pool_fields.search(text.current):
            return False
        return _MAY_MEET_WHOLE.search(text.current) is not None

    def activation(self, data: dict[str, Any]) -> Any:
        """Bind one request's facts once, so every rule of the set evaluates against them."""
        return self._env.Activation(data)


class _Issue(NamedTuple):
    """One problem the checker reported, at its line and column in the compiled text."""

    line: int
    column: int
    message: str
    operator: str
    types: tuple[str, ...]


def _check(env: Any, text: str) -> tuple[Any, list[_Issue]]:
    """The compiled expression, or None and every problem the checker reported."""
    try:
        return env.compile(text), []
    except Exception as exc:  # cel-cpp reports every compile problem as RuntimeError
        return None, _issues(str(exc))


def _issues(text: str) -> list[_Issue]:
    issues = []
    for found in _ISSUE.finditer(text):
        message = _TRAILER.sub("", found.group(3)).strip()
        overload = _OVERLOAD.search(message)
        operator, types = "", tuple[str, ...]()
        if overload:
            operator, types = overload.group(1), tuple(split_types(overload.group(2)))
        issues.append(_Issue(int(found.group(1)), int(found.group(2)), message, operator, types))
    if not issues:
        issues.append(_Issue(1, 1, _TRAILER.sub("", text.strip()), "", ()))
    return issues


def split_types(text: str) -> list[str]:
    """"list(int), map(string, dyn)" → its two types: split at commas outside brackets."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "(<") - (ch in ")>")
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return [p for p in parts if p]


def _base(engine_type: str) -> str:
    return engine_type.split("(")[0].strip().lower()


def _kind(t: Any) -> str:
    names = {"int": "a number", "double": "a number", "string": "text", "bool": "true/false"}
    name = str(t.name())
    return names.get(name.lower(), name)


# --- reading the condition's text: tokens, operands, rewrites --------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+|//[^\n]*)
    |(?P<string>(?:[rR][bB]?|[bB][rR]?)?
        (?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))
    |(?P<float>\d*\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
    |(?P<int>0[xX][0-9a-fA-F]+[uU]?|\d+[uU]?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
#: Binary operators by precedence, lowest first, as CEL groups them.
_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3,
               "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}
_VALUES = {"int", "float", "string", "name"}


class _Token(NamedTuple):
    kind: str
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    out = []
    for found in _TOKEN.finditer(text):
        kind = found.lastgroup or "other"
        if kind == "space":
            continue
        word = found.group()
        if kind == "name" and word == "in":
            kind = "op"
        start, end = found.span()
        out.append(_Token(kind, word, start, end))
    return out


class _Tokens:
    """A condition's tokens with their bracket pairs, to find the operands of an operator."""

    def __init__(self, text: str) -> None:
        self.items = _tokens(text)
        self._starts: dict[int, int] | None = None
        self.pair: dict[int, int] = {}
        stack: list[int] = []
        for i, token in enumerate(self.items):
            if token.text in _OPEN and token.kind == "op":
                stack.append(i)
            elif token.text in _CLOSE and token.kind == "op" and stack and (
                self.items[stack[-1]].text == _CLOSE[token.text]
            ):
                opener = stack.pop()
                self.pair[opener], self.pair[i] = i, opener

    def at(self, offset: int) -> int | None:
        """The token that starts at ``offset``, if one does."""
        if self._starts is None:
            self._starts = {token.start: i for i, token in enumerate(self.items)}
        return self._starts.get(offset)

    def text(self, i: int) -> str:
        return self.items[i].text if 0 <= i < len(self.items) else ""

    def _ends_value(self, i: int) -> bool:
        if i < 0:
            return False
        token = self.items[i]
        return token.kind in _VALUES or (token.kind == "op" and token.text in _CLOSE)

    def primary_after(self, i: int) -> tuple[int, int] | None:
        """First and last token of the value starting at ``i`` (a call, index or field too)."""
        items = self.items
        if i >= len(items):
            return None
        token = items[i]
        if token.kind == "op" and token.text in _OPEN:
            end = self.pair.get(i)
        elif token.kind in _VALUES:
            end = i
            if token.kind == "name" and self.text(i + 1) == "(":
                end = self.pair.get(i + 1)
        elif token.text == "." and i + 1 < len(items) and items[i + 1].kind == "name":
            end = i + 1
        else:
            return None
        while end is not None:
            if self.text(end + 1) == "." and end + 2 < len(items) and (
                items[end + 2].kind == "name"
            ):
                end += 2
                if self.text(end + 1) == "(":
                    end = self.pair.get(end + 1)
            elif self.text(end + 1) == "[":
                end = self.pair.get(end + 1)
            else:
                break
        return None if end is None else (i, end)

    def primary_before(self, i: int) -> tuple[int, int] | None:
        """First and last token of the value ending at ``i`` (a call, index or field too)."""
        last = i
        while i >= 0:
            token = self.items[i]
            if token.kind == "op" and token.text in _CLOSE:
                opener = self.pair.get(i)
                if opener is None:
                    return None
                i = opener
                if token.text == ")" and i > 0 and self.items[i - 1].kind == "name":
                    i -= 1  # a call: size(pools)
                elif token.text == "]" and self._ends_value(i - 1):
                    i -= 1  # an index: plans[0]
                    continue
            elif token.kind not in _VALUES:
                return None
            if i >= 2 and self.text(i - 1) == "." and self._ends_value(i - 2):
                i -= 2  # a field or method: p.available, plans.size()
                continue
            return i, last
        return None

    def _unary_before(self, i: int) -> int:
        while i > 0 and self.text(i - 1) in {"-", "!"} and not self._ends_value(i - 2):
            i -= 1
        return i

    def operand_before(self, op: int) -> tuple[int, int] | None:
        """The whole left operand of the binary operator at ``op``, by CEL's precedence."""
        level = _PRECEDENCE.get(self.text(op), 0)
        found = self.primary_before(op - 1)
        if found is None:
            return None
        first = self._unary_before(found[0])
        while first >= 2 and _PRECEDENCE.get(self.text(first - 1), 0) >= level and (
            self._ends_value(first - 2)
        ):
            more = self.primary_before(first - 2)
            if more is None:
                break
            first = self._unary_before(more[0])
        return first, op - 1

    def operand_after(self, op: int) -> tuple[int, int] | None:
        """The whole right operand of the binary operator at ``op``, by CEL's precedence."""
        level = _PRECEDENCE.get(self.text(op), 0)
        start = i = op + 1
        while self.text(i) in {"-", "!"}:
            i += 1
        found = self.primary_after(i)
        if found is None:
            return None
        last = found[1]
        while _PRECEDENCE.get(self.text(last + 1), 0) > level:
            i = last + 2
            while self.text(i) in {"-", "!"}:
                i += 1
            more = self.primary_after(i)
            if more is None:
                break
            last = more[1]
        return start, last

    def literal(self, span: tuple[int, int] | None) -> int | None:
        """The whole-number literal token that ``span`` is, through ( ) and a leading -."""
        if span is None:
            return None
        first, last = span
        while True:
            if self.pair.get(first) == last and self.text(first) == "(":
                first, last = first + 1, last - 1
            elif first < last and self.text(first) == "-":
                first += 1
            else:
                break
        if first == last and self.items[first].kind == "int":
            return first
        return None

    def branch(self, question: int, third: bool) -> tuple[int, int] | None:
        """The first value of the second (or, with ``third``, the last) part of ``a ? b : c``."""
        if not third:
            return self.value_at(question + 1)
        depth = nested = 0
        for i in range(question + 1, len(self.items)):
            text = self.text(i)
            if self.items[i].kind != "op":
                continue
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                depth -= 1
                if depth < 0:
                    return None
            elif depth == 0 and text == "?":
                nested += 1
            elif depth == 0 and text == ":":
                if not nested:
                    return self.value_at(i + 1)
                nested -= 1
        return None

    def value_at(self, i: int) -> tuple[int, int] | None:
        while self.text(i) in {"-", "!"}:
            i += 1
        return self.primary_after(i)

    def list_items(self, span: tuple[int, int] | None) -> list[int]:
        """The whole-number literal items of a list written out, like [1, 2]."""
        if span is None or self.text(span[0]) != "[" or self.pair.get(span[0]) != span[1]:
            return []
        found, item_start, depth = [], span[0] + 1, 0
        for i in range(span[0] + 1, span[1] + 1):
            text = self.text(i)
            if self.items[i].kind == "op" and text in _OPEN:
                depth += 1
            elif self.items[i].kind == "op" and text in _CLOSE and i != span[1]:
                depth -= 1
            elif depth == 0 and (text == "," or i == span[1]):
                if item_start <= i - 1:
                    literal = self.literal((item_start, i - 1))
                    if literal is not None:
                        found.append(literal)
                item_start = i + 1
        return found


class _Edit(NamedTuple):
    start: int
    end: int
    text: str


class _Text:
    """The condition being compiled: the text as written, the rewritten text, and the map
    from each position of the rewritten text back to the text as written."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.current = source
        self._origin: list[int] | None = None
        self._tokens: _Tokens | None = None

    @property
    def origin(self) -> list[int]:
        """For each position of the rewritten text, its position in the text as written."""
        if self._origin is None:
            self._origin = list(range(len(self.source) + 1))
        return self._origin

    @property
    def tokens(self) -> _Tokens:
        if self._tokens is None:
            self._tokens = _Tokens(self.current)
        return self._tokens

    def _operator(self, issue: _Issue) -> int | None:
        return self.tokens.at(_offset(self.current, issue.line, issue.column))

    def fixes(self, issue: _Issue) -> list[_Edit]:
        """Whole-number literals to write as decimals so that ``issue`` goes away."""
        kinds = [_base(t) for t in issue.types]
        op = self._operator(issue) if len(kinds) >= 2 else None
        if op is None:
            return []
        tokens = self.tokens
        literals: list[int | None] = []
        if issue.operator in _BINARY and len(kinds) == 2:
            if kinds[0] == "double" and kinds[1] in _WHOLE:
                literals = [tokens.literal(tokens.value_at(op + 1))]
            elif kinds[0] in _WHOLE and kinds[1] == "double":
                literals = [tokens.literal(tokens.primary_before(op - 1))]
        elif issue.operator == "@in" and len(kinds) == 2:
            inner = _base(issue.types[1][len("list("):-1]) if kinds[1] == "list" else ""
            if kinds[0] == "double" and inner in _WHOLE:
                literals = [*tokens.list_items(tokens.primary_after(op + 1))]
            elif kinds[0] in _WHOLE and inner == "double":
                literals = [tokens.literal(tokens.primary_before(op - 1))]
        elif issue.operator == "_?_:_" and len(kinds) == 3:
            if kinds[1] == "double" and kinds[2] in _WHOLE:
                literals = [tokens.literal(tokens.branch(op, third=True))]
            elif kinds[1] in _WHOLE and kinds[2] == "double":
                literals = [tokens.literal(tokens.branch(op, third=False))]
        return [_as_decimal(tokens.items[i]) for i in literals if i is not None]

    def apply(self, edits: list[_Edit]) -> None:
        """Replace the edited spans (they never overlap: each is one literal), in one pass."""
        old, origin = self.current, self.origin
        parts: list[str] = []
        mapped: list[int] = []
        at = 0
        for edit in sorted(set(edits)):
            parts += [old[at : edit.start], edit.text]
            mapped += [*origin[at : edit.start], *([origin[edit.start]] * len(edit.text))]
            at = edit.end
        parts.append(old[at:])
        mapped += origin[at:]
        self.current, self._origin, self._tokens = "".join(parts), mapped, None

    def copy(self) -> _Text:
        twin = _Text(self.source)
        twin.current, twin._origin, twin._tokens = self.current, self._origin, self._tokens
        return twin

    def failure(self, issue: _Issue) -> CompileFailure:
        """The problem, placed and quoted in the text as written."""
        at = self.origin[_offset(self.current, issue.line, issue.column)]
        line, column = _line_column(self.source, at)
        op = self._operator(issue) if issue.operator in _QUOTED else None
        if op is None:
            return CompileFailure(issue.message, line, column)
        tokens = self.tokens
        sides = (tokens.operand_before(op), tokens.operand_after(op))
        if issue.operator in _ARITHMETIC or _mixes_whole_and_decimal(issue):
            # Of a whole number, quote just the value next to the operator: that is the one
            # to put in double() (or int() for %).
            near = (tokens.primary_before(op - 1), tokens.value_at(op + 1))
            whole = [_base(t) in _WHOLE or issue.operator == "_%_" for t in issue.types]
            sides = (near[0] if whole[0] else sides[0], near[1] if whole[1] else sides[1])
        operands = tuple(self._written(span) for span in sides if span is not None)
        return CompileFailure(issue.message, line, column, operands if len(operands) == 2 else ())

    def _written(self, span: tuple[int, int]) -> str:
        items = self.tokens.items
        start, end = self.origin[items[span[0]].start], self.origin[items[span[1]].end]
        return self.source[start:end].strip()


def _mixes_whole_and_decimal(issue: _Issue) -> bool:
    kinds = {_base(t) for t in issue.types}
    return len(issue.types) == 2 and "double" in kinds and bool(kinds & _WHOLE)


def _as_decimal(token: _Token) -> _Edit:
    digits = token.text.rstrip("uU")
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits)
    return _Edit(token.start, token.end, f"{value}.0")


def _offset(text: str, line: int, column: int) -> int:
    """Index in ``text`` of a 1-based line and column (the engine counts characters)."""
    lines = text.split("\n")
    line = min(max(line, 1), len(lines))
    before = sum(len(part) + 1 for part in lines[: line - 1])
    return min(before + min(max(column, 1), len(lines[line - 1]) + 1) - 1, len(text))


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
