"""Fuzzing the policy loader: whatever staff type, it must answer, never crash or hang.

Every input ends as a PolicySet, or as a non-empty list of PolicyProblem, each at a
position that exists in the file. Four generators, together well over 10,000 inputs:

* random text made of the characters YAML cares about, and random bytes;
* real policy files with a few characters inserted, deleted or replaced;
* documents with the right shape and random keys, values and types;
* random expressions in ``when:``, written in every way YAML allows (plain, quoted,
  block, folded over lines), so positions inside conditions are checked too.

Most generators turn one Hypothesis byte string into an input: each byte is a choice
(which word, which operator, how deep), and past the end every choice is 0, the simplest.
One draw per input instead of hundreds keeps 10,000 inputs inside the time budget, and
Hypothesis still shrinks a failure, since fewer and smaller bytes give a simpler input.

Runs are derandomized, so CI sees the same inputs every time. The work is bounded by the
number of examples, not by wall time; a watchdog turns a hang into a failure instead of a
stuck CI job, and the module reports how long it took when it ends.
"""

from __future__ import annotations

import faulthandler
import io
import json
import re
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gate.errors import PolicyProblem
from gate.policy.compiler import check_policies
from gate.policy.context import VARIABLE_NAMES
from gate.policy.engine import CelEngine
from gate.policy.model import PolicyFileModel, RuleModel
from gate.policy.policyset import PolicySet

REPO = Path(__file__).parent.parent
#: One input taking longer than this is a hang, not slowness: the test fails with a traceback
#: instead of holding CI. Generous on purpose: how fast the loader is belongs in bench/.
HANG_SECONDS = 30
EXAMPLES = {"text": 2_000, "bytes": 500, "mutated": 2_500, "documents": 2_500, "conditions": 3_000}
MINIMUM_INPUTS = 10_000
_T = TypeVar("_T")

#: Line ends as the YAML reader counts them (it does not count \x85 or \u2028).
_LINE_BREAKS = re.compile("\r\n|[\r\n]")


def _fuzz_settings(name: str) -> settings:
    return settings(
        max_examples=EXAMPLES[name],
        # Bounded by example count, never by wall time: a loaded CI machine must not flake.
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        # Inputs are big on purpose and the loader is slower than Hypothesis expects of a
        # test; these checks would only get in the way.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


@dataclass
class _Run:
    """Shared by every fuzz test: one file rewritten per input, one engine, the tallies."""

    path: Path
    engine: CelEngine = field(default_factory=CelEngine)
    inputs: int = 0
    valid: int = 0
    #: Time spent inside check_policies, to tell loader cost from generation cost.
    loading: float = 0.0
    started: float = field(default_factory=time.monotonic)
    finished: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Run]:
    state = _Run(tmp_path_factory.mktemp("fuzz") / "policy.yaml")
    # Last resort against a hang inside the C++ engine, where no Python signal can reach:
    # dump every thread's stack and end the run instead of stalling CI forever.
    faulthandler.dump_traceback_later(HANG_SECONDS * 20, exit=True)
    try:
        yield state
    finally:
        faulthandler.cancel_dump_traceback_later()


class _Hang(Exception):
    pass


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    """Fail an input that runs for ``seconds`` (Python-level loops; see also faulthandler)."""

    def expire(signum: int, frame: Any) -> None:
        raise _Hang(f"the loader did not finish within {seconds} s")

    if not hasattr(signal, "setitimer"):  # Windows: faulthandler alone has to do
        yield
        return
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _load(run: _Run, content: str | bytes) -> tuple[PolicySet | None, list[PolicyProblem]]:
    """The property itself: check one input and hold the answer to the contract."""
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    run.path.write_bytes(raw)
    run.inputs += 1
    began = time.monotonic()
    with _watchdog(HANG_SECONDS):
        policy_set, problems = check_policies([run.path], run.engine)
    run.loading += time.monotonic() - began
    if policy_set is not None:
        assert isinstance(policy_set, PolicySet)
        assert problems == []
        run.valid += 1
        return policy_set, problems
    assert problems, "no policy set and no problem either"
    said = [(p.line, p.column, p.message) for p in problems]
    assert len(said) == len(set(said)), f"a problem is reported twice: {problems}"
    lines = _lines(raw)
    for problem in problems:
        assert isinstance(problem, PolicyProblem), problem
        assert problem.file == str(run.path), problem
        assert isinstance(problem.message, str) and problem.message.strip(), problem
        assert problem.line >= 1 and problem.column >= 1, problem
        # The position must exist in the file: at most one past the end of its line.
        assert problem.line <= len(lines), (problem, len(lines))
        assert problem.column <= len(lines[problem.line - 1]) + 1, (
            problem, lines[problem.line - 1])
    return policy_set, problems


def _lines(raw: bytes) -> list[str]:
    """The file's lines as the loader counts them (the last, possibly empty, included)."""
    return _LINE_BREAKS.split(raw.decode("utf-8", "replace"))


# --- choices read from bytes ---------------------------------------------------------------


class _Choices:
    """Reads choices from a byte string; past its end every choice is 0, the simplest."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        self.at += 1
        return self.data[self.at - 1] if self.at <= len(self.data) else 0

    def pick(self, options: Sequence[_T]) -> _T:
        return options[self.byte() % len(options)]

    def fraction(self) -> float:
        return (self.byte() * 256 + self.byte()) / 65535

    @property
    def left(self) -> bool:
        return self.at < len(self.data)


# --- (a) random YAML-ish text, random bytes, and real files with typos ----------------------

_YAML_CHARS = (
    " \n\t:-#&*!|>'\"%@`,?[]{}.=<()/\\\r~+"
    "aenrstuwlpv_ABCPSU0129é€\u2028\x00\x85\ufeff"
)
_WORDS = [
    "apiVersion", "booking-gate/v1", "rules", "name", "when", "action", "to", "status",
    "message", "reason", "return_to", "mode", "shadow", "default", "on_error", "timezone",
    "allow", "deny", "redirect", "available", "<=", "0", "true", "yes", "null", "~", "- ",
    ": ", "'", '"', "|", ">-", "&a", "*a", "!tag", "!!str", "---", "...", "#", "\t", "  ",
    "/plans", "https://x", "[", "]", "{", "}", "403", "1.5", ".inf", "0x1F", "0403",
]
_PIECES = [*_WORDS, *_YAML_CHARS, "\n  - ", "\n    ", ": |\n", '\\"', "''", "\\ud800"]
_SEPARATORS = [": ", ":", " ", "- ", "", ": - "]


def _yamlish(data: bytes) -> str:
    """Characters, tokens or whole `key: value` lines: three ways to look nearly like YAML."""
    choices = _Choices(data)
    mode = choices.byte() % 3
    if mode == 0:
        return "".join(choices.pick(_YAML_CHARS) for _ in range(len(data) - 1))
    if mode == 1:
        return "".join(choices.pick(_PIECES) for _ in range(len(data) - 1))
    lines = []
    while choices.left:
        indent = " " * (choices.byte() % 9)
        lines.append(indent + choices.pick(_WORDS) + choices.pick(_SEPARATORS)
                     + choices.pick(_WORDS))
    return "\n".join(lines)


def _corpus_texts() -> list[str]:
    files = [REPO / "policies" / "10-checkout.yaml"]
    files += sorted((Path(__file__).parent / "policy_errors").rglob("*.yaml"))
    return [p.read_text("utf-8") for p in files]


_BASES = _corpus_texts()


def _with_typos(text: str, choices: _Choices) -> str:
    """A few characters inserted, deleted or replaced, as a hurried editor leaves them."""
    while choices.left:
        at = int(choices.fraction() * len(text))
        kind, piece = choices.byte() % 3, choices.pick(_PIECES)
        if kind == 0:
            text = text[:at] + piece + text[at:]
        elif kind == 1:
            text = text[:at] + text[at + 1 + choices.byte() % 8:]
        else:
            text = text[:at] + piece + text[at + len(piece):]
    return text


@_fuzz_settings("text")
@given(text=st.one_of(st.binary(max_size=120).map(_yamlish), st.text(max_size=60)))
def test_random_yamlish_text(run: _Run, text: str) -> None:
    _load(run, text)
    run.finished.add("text")


@_fuzz_settings("bytes")
@given(data=st.binary(max_size=200), base=st.sampled_from(["", *_BASES]))
def test_random_bytes(run: _Run, data: bytes, base: str) -> None:
    # Raw bytes alone, or spliced into a real file: not UTF-8, control bytes, stray BOMs.
    raw = base.encode()
    at = len(raw) // 2
    _load(run, raw[:at] + data + raw[at:])
    run.finished.add("bytes")


@_fuzz_settings("mutated")
@given(base=st.sampled_from(_BASES), edits=st.binary(min_size=4, max_size=20))
def test_policies_with_typos(run: _Run, base: str, edits: bytes) -> None:
    _load(run, _with_typos(base, _Choices(edits)))
    run.finished.add("mutated")


# --- (b) documents with the right shape and random keys, values and types -------------------

_SCALAR_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 403, 200, 599, 10**20, -(10**30), 1.5, -0.0, 1e300,
    float("inf"), float("-inf"), float("nan"), "", " ", "allow", "deny", "redirect",
    "redirekt", "booking-gate/v1", "booking-gate/v2", "/plans-pricing", "//evil.example",
    "https://evil.example", "plans", "no-credits", "No Credits!", "Europe/Lisbon",
    "Mars/Olympus", "../etc", "shadow", "enforce", "yes", "on", "403", "true",
    "available <= 0", "availble <= 0", "x" * 600, "a b\tc", "/a\nb", "!signed_in", "*x",
    "&x", "a: b", "- x", "# not a comment", "é€☀", "\x00", "\u2028", "'", '"',
    "https://[evil.example/", "//[", "/[a]?b=[c]", "/\\evil", "javascript:alert(1)",
    "../../etc/passwd", "Europe/", "tzdata.zi",
]
_KEYS = [*RuleModel.model_fields, *PolicyFileModel.model_fields, "acton", "whn", "rulez",
         "Name", "to ", "", "1", "ünïcode", "a: b"]
_TEXT_CHARS = "abz AZ09:-_/'\"\\\t\n#!&*é€☀\x7f\u200b"


def _value(choices: _Choices, depth: int = 0) -> Any:
    """Any value YAML can hold: scalars, text, lists and mappings, a few levels deep."""
    kind = choices.byte()
    if depth >= 3 or kind < 150:
        return choices.pick(_SCALAR_VALUES)
    if kind < 180:
        return "".join(choices.pick(_TEXT_CHARS) for _ in range(choices.byte() % 12))
    if kind < 220:
        return [_value(choices, depth + 1) for _ in range(choices.byte() % 4)]
    return {choices.pick(_KEYS): _value(choices, depth + 1) for _ in range(choices.byte() % 4)}


_GOOD_WHEN = [
    "available <= 0", "!signed_in", 'status == "PAUSED"', "available < cost", "!has_plan",
    'pools.exists(p, p.status == "PAUSED")', '"gold" in plans', "balance_age > 300.0",
    'now.getHours("Europe/Lisbon") >= 22', 'today == "2026-12-25"', "true", "false",
    'path.startsWith("/booking-form") && method == "POST"', "reserved > 0.5",
]
_GOOD_OUTCOMES: list[dict[str, Any]] = [
    {"action": "allow"},
    {"action": "allow", "mode": "shadow", "description": "trial"},
    {"action": "redirect", "to": "/plans-pricing"},
    {"action": "redirect", "to": "/login", "return_to": True, "reason": "sign-in"},
    {"action": "redirect", "to": "/a?b=c", "reason": "no-credits", "mode": "enforce"},
    {"action": "deny", "message": "Your plan is paused."},
    {"action": "deny", "message": "Closed, see you tomorrow ☀ é", "status": 429, "reason": "x_1"},
]
#: Outcomes with the values that need the most care: addresses, statuses, fields left over.
_ODD_OUTCOMES: list[dict[str, Any]] = [
    *({"action": "redirect", "to": to} for to in [
        "https://[evil.example/", "//[", "//evil.example", "https://evil.example/x", "plans",
        "/plans pricing", "/\\evil", "javascript:alert(1)", "/ok?x=[1]", "", "/a\tb"]),
    {"action": "deny", "message": "No.", "status": 200},
    {"action": "deny", "message": "No.", "status": "403"},
    {"action": "allow", "to": "/plans-pricing", "message": "Hi."},
    {"action": "redirect", "to": "/x", "reason": "Bad Reason!"},
]
#: Rules that are right on their own (every condition with every kind of outcome), and a
#: few with one odd value.
_RULES = [
    *({"when": when, **outcome} for when in _GOOD_WHEN for outcome in _GOOD_OUTCOMES),
    *({"when": "available <= 0", **outcome} for outcome in _ODD_OUTCOMES),
]
_SETTINGS: list[dict[str, Any]] = [
    {}, {"timezone": "Europe/Lisbon"}, {"default": {"action": "allow"}},
    {"on_error": {"action": "deny", "message": "Try again soon.", "status": 503}},
    {"timezone": "Asia/Tokyo", "default": {"action": "redirect", "to": "/plans-pricing"}},
    {"timezone": "Europe/"}, {"timezone": "tzdata.zi"}, {"timezone": "../../etc/passwd"},
    {"default": {"action": "redirect", "to": "https://[x"}},
]
_CHANGES = ["set", "set", "delete", "set-top", "swap", "replace-rule"]


def _document(choices: _Choices) -> Any:
    """Mostly a (nearly) correct policy with up to two things changed; sometimes anything."""
    if choices.byte() >= 224:
        return _value(choices)
    document: dict[str, Any] = {"apiVersion": "booking-gate/v1", **choices.pick(_SETTINGS)}
    picked = [choices.pick(_RULES) for _ in range(choices.byte() % 5)]
    document["rules"] = [{"name": f"rule-{i}", **rule} for i, rule in enumerate(picked)]
    # Fresh copies: the changes below edit in place.
    document = json.loads(json.dumps(document))
    for _ in range(choices.byte() % 3):
        _change(document, choices.pick(_CHANGES), choices.fraction(), choices.pick(_KEYS),
                _value(choices))
    return document


def _change(document: dict[str, Any], kind: str, where: float, name: str, value: Any) -> None:
    rules = document.get("rules")
    if kind == "set-top" or not isinstance(rules, list) or not rules:
        document[name] = value
        return
    at = min(int(where * len(rules)), len(rules) - 1)
    if kind == "swap":
        rules.insert(0, rules.pop(at))
    elif kind == "replace-rule":
        rules[at] = value
    elif not isinstance(rules[at], dict):
        return
    elif kind == "delete":
        rules[at].pop(name, None)
    else:
        rules[at][name] = value


_DUMPER = YAML(typ="safe", pure=True)
_DUMPER.default_flow_style = False
_DUMPER.allow_unicode = True


def _dump(document: Any) -> str:
    out = io.StringIO()
    _DUMPER.dump(document, out)
    return out.getvalue()


def _hand_written(value: Any, quoted: bool, indent: int = 0) -> str:
    """How a person writes YAML: block style, text quoted or (where mistakes come from) not."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            key_text = _scalar_text(key, quoted)
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{key_text}:\n{_hand_written(item, quoted, indent + 2)}")
            else:
                out.append(f"{pad}{key_text}: {_scalar_text(item, quoted)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            if isinstance(item, dict) and item:
                out.append(f"{pad}- {_hand_written(item, quoted, indent + 2).lstrip()}")
            elif isinstance(item, list) and item:
                out.append(f"{pad}-\n{_hand_written(item, quoted, indent + 2)}")
            else:
                out.append(f"{pad}- {_scalar_text(item, quoted)}\n")
        return "".join(out)
    return pad + _scalar_text(value, quoted) + "\n"


def _scalar_text(value: Any, quoted: bool) -> str:
    if value is None:
        return "null" if quoted else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}.get(repr(value), repr(value))
    if isinstance(value, dict | list):
        return json.dumps(value, default=str) if quoted else str(value)
    if isinstance(value, str) and quoted:
        return json.dumps(value)  # a JSON string is a YAML double-quoted string
    return str(value).replace("\n", " ")


@_fuzz_settings("documents")
@given(data=st.binary(max_size=48), writer=st.sampled_from(["ruamel", "quoted", "unquoted"]))
def test_documents_with_random_fields(run: _Run, data: bytes, writer: str) -> None:
    document = _document(_Choices(data))
    if writer == "ruamel":
        text = _dump(document)
    else:
        text = _hand_written(document, quoted=writer == "quoted")
    _load(run, text)
    run.finished.add("documents")


# --- (c) random expressions in `when:`, written every way YAML allows -----------------------

_ATOMS = [
    *sorted(VARIABLE_NAMES), "availble", "Status", "PAUSED", "True", "yes", "x", "p", "and",
    "or", "not", "in", "0", "1", "-1", "2", "403", "9223372036854775807",
    "9223372036854775808", "99999999999999999999999", "0.0", "1.0", "2.5", "-0.5", "1e999",
    "1e-30", "0x1F", "1u", "0u", "true", "false", "null", "[]", "{}", '""', "''", '"PAUSED"',
    "'ACTIVE'", '"/booking-form"', '"é☀"', '"a\\"b"', "'it''s'", "b'x'", "duration('1h')",
    "timestamp('2026-01-01T00:00:00Z')", '"Europe/Lisbon"', '"Nowhere/Place"', "-", "=", "!",
    "(", ")", ":", "?", ".", ",", "&", "|", "#", "@", "$", "\\", "\t", "\n", "'", '"',
]
_OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "&&", "||", "+", "-", "*", "/", "%", "in",
              "=", "and", "<==", "&&&", ": ", " ", "=>"]
_METHODS = ["startsWith", "endsWith", "contains", "matches", "size", "getHours", "exists",
            "all", "map", "filter", "foo"]
_FUNCTIONS = ["size", "has", "int", "double", "string", "type", "bool", "timestamp"]
_MACROS = ["exists", "all", "exists_one", "filter", "map"]
_FIELDS = ["status", "available", "id", "plan", "reserved", "nope"]


def _expression(choices: _Choices, depth: int = 0) -> str:
    """A CEL-ish expression: mostly well formed, built from the gate's own names."""
    if depth >= 4 or choices.byte() < 90:
        return choices.pick(_ATOMS)
    kind = choices.byte() % 10

    def inner() -> str:
        return _expression(choices, depth + 1)

    if kind == 0:
        return f"{inner()} {choices.pick(_OPERATORS)} {inner()}"
    if kind == 1:
        return choices.pick(["!", "-", "!!"]) + inner()
    if kind == 2:
        return f"({inner()})"
    if kind == 3:
        return f"{inner()}.{choices.pick(_METHODS)}({inner()})"
    if kind == 4:
        return f"{choices.pick(_FUNCTIONS)}({inner()})"
    if kind == 5:
        return f"pools.{choices.pick(_MACROS)}(p, {inner()})"
    if kind == 6:
        return "[" + ", ".join(inner() for _ in range(choices.byte() % 4)) + "]"
    if kind == 7:
        return f"{inner()}[{inner()}]"
    if kind == 8:
        return f"{inner()}.{choices.pick(_FIELDS)}"
    return f"{inner()} ? {inner()} : {inner()}"


_STYLES = ["plain", "double", "double-unicode", "single", "literal", "folded", "multi-line"]
_RULE_HEAD = "apiVersion: booking-gate/v1\nrules:\n  - name: fuzzed\n    when:"
_RULE_TAIL = "    action: deny\n    message: Stopped.\n"


def _written(expression: str, style: str, fold_at: float) -> str:
    """``when:`` and its value, in one of YAML's styles, ending with a line break."""
    if style == "plain":
        return f" {expression}\n"
    if style == "double":
        return f" {json.dumps(expression)}\n"
    if style == "double-unicode":
        return f" {json.dumps(expression, ensure_ascii=False)}\n"
    if style == "single":
        return " '" + expression.replace("'", "''") + "'\n"
    lines = expression.split("\n")
    if style in ("literal", "folded"):
        head = " |\n" if style == "literal" else " >-\n"
        return head + "".join(f"      {line}\n" for line in lines)
    # Plain, folded over two lines at a space, as people do with long conditions.
    spaces = [i for i, ch in enumerate(expression) if ch == " "]
    if not spaces or "\n" in expression:
        return f" {expression}\n"
    cut = spaces[int(fold_at * (len(spaces) - 1))]
    return f" {expression[:cut]}\n      {expression[cut + 1:]}\n"


@_fuzz_settings("conditions")
@given(data=st.binary(max_size=64), style=st.sampled_from(_STYLES),
       typos=st.binary(max_size=6))
def test_random_conditions(run: _Run, data: bytes, style: str, typos: bytes) -> None:
    choices = _Choices(data)
    expression = _with_typos(_expression(choices), _Choices(typos))
    value = _written(expression, style, choices.fraction())
    _, problems = _load(run, _RULE_HEAD + value + _RULE_TAIL)
    # A mistake in the condition is reported inside it: on the `when:` line or the lines
    # its value continues on, never somewhere else in the file.
    first = _RULE_HEAD.count("\n") + 1
    last = first + len(_LINE_BREAKS.findall(value))
    for problem in problems:
        if problem.code in {"condition", "condition-runtime", "empty-condition"}:
            assert first <= problem.line <= last, (problem, first, last)
    run.finished.add("conditions")


def test_fuzz_totals(run: _Run, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last: at least 10,000 inputs went through (the time is reported, not judged)."""
    if run.finished != set(EXAMPLES):
        pytest.skip("only part of the fuzz tests ran")
    elapsed = time.monotonic() - run.started
    with capsys.disabled():
        print(f"\npolicy fuzz: {run.inputs} inputs ({run.valid} valid policy sets) in "
              f"{elapsed:.1f} s, {run.loading:.1f} s of it in the loader")
    assert run.inputs >= MINIMUM_INPUTS
