"""The expression engine behind ``when:``: CEL, through Google's cel-cpp (cel-expr-python).

Chosen for compile-time checking of names (a typo fails at load, not at a checkout), built-in
depth/size/iteration budgets, and speed (a few µs per rule). It sits behind this module so it
can be swapped: nothing else imports cel_expr_python.

The engine's trap: an evaluation error comes back as an ERROR *value* whose ``bool()`` is
True. ``Condition.evaluate`` therefore checks the type and reports an error explicitly, and
the policy set turns that into its fail mode; an error never counts as "matched" or "not".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from gate.policy.context import VARIABLES

__all__ = ["CelEngine", "CompileFailure", "Condition", "EvalFailure"]

_TYPES = {
    "number": cel.Type.DYN,  # DYN so that `available <= 0` (double vs int) type-checks
    "text": cel.Type.STRING,
    "yes/no": cel.Type.BOOL,
    "time": cel.Type.TIMESTAMP,
    "list of text": cel.Type.List(cel.Type.STRING),
    "list of pools": cel.Type.List(cel.Type.Map(cel.Type.STRING, cel.Type.DYN)),
}
_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")


@dataclass(frozen=True, slots=True)
class CompileFailure:
    """Why a condition did not compile; ``line``/``column`` are within the expression."""

    message: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class EvalFailure:
    """A condition that could not be evaluated for one request."""

    message: str


class Condition:
    """A compiled condition. ``evaluate`` returns True, False or an EvalFailure, never raises."""

    __slots__ = ("_expr", "source")

    def __init__(self, expr: Any, source: str) -> None:
        self._expr = expr
        self.source = source

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
    """Holds the CEL environment with every declared variable; compile once, eval per request."""

    def __init__(self) -> None:
        self._env = cel.NewEnv(variables={v.name: _TYPES[v.kind] for v in VARIABLES})

    def compile(self, source: str) -> Condition | CompileFailure:
        try:
            expr = self._env.compile(source)
        except Exception as exc:  # cel-cpp reports every compile problem as RuntimeError
            return _compile_failure(str(exc))
        returns = expr.return_type()
        if returns != cel.Type.BOOL and returns != cel.Type.DYN:
            return CompileFailure(
                f"a condition must be true or false, but this gives {_kind(returns)}", 1, 1
            )
        return Condition(expr, source)

    def activation(self, data: dict[str, Any]) -> Any:
        """Bind one request's facts once, so every rule of the set evaluates against them."""
        return self._env.Activation(data)


def _compile_failure(text: str) -> CompileFailure:
    found = _POSITION.search(text)
    if not found:
        return CompileFailure(text.strip(), 1, 1)
    message = found.group(3).split("\n")[0].strip()
    return CompileFailure(message, int(found.group(1)), int(found.group(2)))


def _kind(t: Any) -> str:
    names = {"int": "a number", "double": "a number", "string": "text", "bool": "true/false"}
    return names.get(t.name().lower(), t.name())
