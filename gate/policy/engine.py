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
from typing import Any

from cel_expr_python import cel  # type: ignore[import-untyped]

from gate.data.expiring import remember
from gate.policy.cel_checker import ARITHMETIC, CompileFailure, check, mixes_whole_and_decimal
from gate.policy.cel_literals import Text
from gate.policy.context import VARIABLES

__all__ = ["CelEngine", "CompileFailure", "Condition", "EvalFailure"]

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
#: A whole number or arithmetic, maybe (a digit in quoted text only costs a probe).
_MAY_MEET_WHOLE = re.compile(r"[-+*/%]|(?<![\w.])\d")


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
            found = remember(self._compiled, source, self._compile(source), _CACHE_SIZE)
        return found

    def _compile(self, source: str) -> Condition | CompileFailure:
        text = Text(source)
        expr, issues = check(self._env, source)
        for _ in range(_MAX_PASSES):
            if expr is None:
                edits = [edit for issue in issues for edit in text.fixes(issue)]
                if not edits:
                    break
                before, first = text.copy(), issues[0]
                text.apply(edits)
                expr, issues = check(self._env, text.current)
                if expr is None and any("Syntax error" in i.message for i in issues):
                    text, expr, issues = before, None, [first]  # a rewrite went wrong
                    break
                continue
            if not self._needs_probe(text):
                break
            edits = []
            for issue in check(self._probe, text.current)[1]:
                fixes = text.fixes(issue)
                if fixes:
                    edits.extend(fixes)
                elif issue.operator in ARITHMETIC and mixes_whole_and_decimal(issue):
                    # A pool number with a whole number that is no literal: an error at run time.
                    return text.failure(issue)
            if not edits:
                break
            # Decimals where whole numbers were can show a whole number that is no literal
            # beside them (size(plans) > 1.0 + p.available): the loop reports it, with a fix.
            text.apply(edits)
            expr, issues = check(self._env, text.current)
        if expr is None:
            return text.failure(issues[0])
        returns = expr.return_type()
        if returns != cel.Type.BOOL and returns != cel.Type.DYN:
            return CompileFailure(
                f"a condition must be true or false, but this gives {_kind(returns)}", 1, 1
            )
        return Condition(expr, source, text.current)

    def _needs_probe(self, text: Text) -> bool:
        """Whether a pool field may meet a whole number: only then can the probe change a thing."""
        if self._reads_pool_fields is None or not self._reads_pool_fields.search(text.current):
            return False
        return _MAY_MEET_WHOLE.search(text.current) is not None

    def activation(self, data: dict[str, Any]) -> Any:
        """Bind one request's facts once, so every rule of the set evaluates against them."""
        return self._env.Activation(data)


def _kind(t: Any) -> str:
    names = {"int": "a number", "double": "a number", "string": "text", "bool": "true/false"}
    name = str(t.name())
    return names.get(name.lower(), name)
