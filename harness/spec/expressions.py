"""Integer bounds written as arithmetic in `scale` ("100000 * scale"), as pgbench's `\\set` writes them.

A native operation's parameter ranges may grow with the dataset: pgbench's TPC-B-like script
draws `aid` from `random(1, 100000 * :scale)`. A bound is an integer, or a string holding
`+ - * / // %`, parentheses, numbers and the one name `scale` (the run's `--scale` factor).
Parsed with Python's own `ast` (never evaluated as code); the value is truncated toward zero
to an integer, as pgbench's integer arithmetic does.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

Bound = int | str  # an integer, or an expression in `scale`
SCALE = "scale"

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
MAX_LENGTH = 200  # characters of one expression


class ExpressionError(ValueError):
    """A bound that does not parse, or uses something other than numbers, `scale` and + - * / // %."""


def parse(text: str) -> ast.expr:
    """The checked syntax tree of `text`; ExpressionError (one line) otherwise."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ExpressionError(f"{text!r} does not parse; write arithmetic in scale, e.g. \"100000 * scale\"") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id != SCALE:
            raise ExpressionError(f"{text!r}: unknown name {node.id!r}; only 'scale' may be used")
        allowed = (ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, *_BINARY, *_UNARY)
        if not isinstance(node, allowed):
            raise ExpressionError(f"{text!r}: only numbers, 'scale', + - * / // % and parentheses are allowed")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, (int, float))):
            raise ExpressionError(f"{text!r}: {node.value!r} is not a number")
    return tree


def uses_scale(bound: Bound) -> bool:
    """Whether `bound` names `scale` (so --scale changes it)."""
    return isinstance(bound, str) and any(isinstance(n, ast.Name) for n in ast.walk(parse(bound)))


def evaluate(bound: Bound, scale: float = 1.0) -> int:
    """The integer value of `bound` with `scale` given; ExpressionError for a bad one or a division by zero."""
    if isinstance(bound, int):
        return bound
    try:
        return int(_value(parse(bound), scale))
    except (ZeroDivisionError, OverflowError, ValueError) as exc:
        if isinstance(exc, ExpressionError):
            raise
        raise ExpressionError(f"{bound!r} cannot be computed at scale {scale:g} ({exc})") from None


def _value(node: ast.expr, scale: float) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Name):
        return scale
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_value(node.operand, scale))
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_value(node.left, scale), _value(node.right, scale))
    raise ExpressionError(f"unexpected {type(node).__name__}")  # parse() admits nothing else
