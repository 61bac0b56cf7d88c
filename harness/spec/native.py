"""Checks of native operations that `validate` makes before any engine is reached.

A native operation is the user's own text per engine, so the spec checks what can be known
without a server: each parameter's range parses and is not empty, every placeholder names
`key` or a declared parameter, every declared parameter is used, and the PostgreSQL text is
what the server would accept: parsed by pglast (PostgreSQL's own parser, libpg_query), one
statement per string, no transaction control inside a list (the list already is one
transaction). What is not checked here: names of tables and columns and the types of
parameters (they need the server; a statement that fails there fails on every call and the
run's error budget marks it invalid), and the syntax of the other engines' commands.

Placeholders per engine, as their adapters fill them: PostgreSQL `%(name)s` (psycopg), Neo4j
`$name` (Cypher parameters), Redis and MongoDB `{name}` (formatted per call).
"""

from __future__ import annotations

import difflib
import re

from harness.spec.expressions import ExpressionError, evaluate
from harness.spec.hints import did_you_mean
from harness.spec.models import NativeOp

IMPLICIT = "key"  # the record the operation's distribution chose; always passed
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_PLACEHOLDERS = {  # engine -> the placeholders its adapter fills (group 1: the name)
    "postgres": re.compile(r"%\((\w+)\)s"),
    "neo4j": re.compile(r"\$(\w+)"),
    "redis": re.compile(r"\{(\w+)"),
    "mongodb": re.compile(r"\{(\w+)"),
    "ferretdb": re.compile(r"\{(\w+)"),
}
# psycopg's %(name)s and %%; anything else after a % is refused by psycopg (or means a positional %s)
_PG_PERCENT = re.compile(r"%(?:\((\w+)\)s|%|(.?))", re.DOTALL)
_PG_COLON = re.compile(r"(?<![:\w]):([a-z_]\w*)", re.IGNORECASE)


def native_problems(where: str, op: NativeOp) -> list[str]:
    """Problems of one native operation as 'field.path: message' lines; empty when sound."""
    problems = _param_problems(where, op)
    used: set[str] = set()
    undeclared: set[str] = set()
    for engine in op.statements:
        texts = op.statement_list(engine)
        at = f"{where}.statements.{engine}"
        if not texts:
            problems.append(f"{at}: an empty list; give one statement, or a list of statements run as one transaction")
            continue
        pattern = _PLACEHOLDERS.get(engine)
        for i, text in enumerate(texts):
            spot = f"{at}[{i}]" if op.is_transaction(engine) else at
            if engine == "postgres":
                problems += _postgres_problems(spot, text, op.is_transaction(engine))
                used |= set(_PG_COLON.findall(_without_literals(text)))  # pgbench's :name: said once, above
            if pattern is None:
                used |= {name for name in op.params if name in text}  # unknown syntax: a mention counts
                continue
            names = set(pattern.findall(text))
            used |= names
            for name in sorted(names - set(op.params) - {IMPLICIT}):
                undeclared.add(name)
                problems.append(f"{spot}: placeholder {name!r} is not a declared parameter "
                                f"(declared: {', '.join([IMPLICIT, *op.params])}){did_you_mean(name, list(op.params))}")
    for name in op.params:  # a misspelt placeholder was said above: not said again as an unused parameter
        if name not in used and not difflib.get_close_matches(name, undeclared, n=1, cutoff=0.6):
            problems.append(f"{where}.params.{name}: declared but used by no statement; use it or remove it")
    return problems


def _param_problems(where: str, op: NativeOp) -> list[str]:
    problems = []
    for name, spec in op.params.items():
        at = f"{where}.params.{name}"
        if name == IMPLICIT:
            problems.append(f"{at}: 'key' is the record the operation's distribution chooses; give the parameter another name")
        elif not _NAME.match(name):
            problems.append(f"{at}: a parameter name is lower-case letters, digits and _ (not starting with a digit)")
        try:
            low, high = (evaluate(bound) for bound in spec.bounds)
        except ExpressionError as exc:
            problems.append(f"{at}.{spec.distribution}: {exc}")
            continue
        if low > high:
            problems.append(f"{at}.{spec.distribution}: low ({low}) exceeds high ({high}) at scale 1")
    return problems


def _postgres_problems(where: str, text: str, in_list: bool) -> list[str]:
    """One PostgreSQL statement: placeholders psycopg accepts, and text PostgreSQL's parser accepts."""
    for match in _PG_PERCENT.finditer(text):
        if match.group(2) is not None:
            shown = "%" + match.group(2)
            return [f"{where}: {shown!r} is not a placeholder here; name parameters as %(name)s (a literal % is %%)"]
    parsed = re.sub(r"%\(\w+\)s", "$1", text).replace("%%", "%")
    from pglast import parser  # PostgreSQL's own parser; imported when a spec has PostgreSQL statements

    try:
        statements = parser.parse_sql(parsed)
    except parser.ParseError as exc:
        colon = _PG_COLON.search(_without_literals(text))
        if colon:
            return [f"{where}: pgbench's :{colon.group(1)} is written %({colon.group(1)})s here"]
        return [f"{where}: PostgreSQL would reject it: {exc}"]
    if len(statements) != 1:
        return [f"{where}: holds {len(statements)} statements in one string; give a list with one statement per "
                "item (run as one transaction)"]
    node = statements[0].stmt
    if type(node).__name__ == "TransactionStmt":
        hint = "the list already runs as one transaction" if in_list else "use a list of statements for a transaction"
        return [f"{where}: transaction control (BEGIN, COMMIT, ROLLBACK...) is not allowed; {hint}"]
    return []


def _without_literals(text: str) -> str:
    """`text` with quoted strings and identifiers blanked, so a ':' inside them is not taken for a placeholder."""
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "''", text)
