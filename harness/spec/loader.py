"""Load workload and suite files, checking in a fixed order.

parse (showing the bad line) → `version` → schema (unknown keys rejected) → semantic
checks (references, weights, distributions). Every problem becomes one line of the form
`<file>: <field path>: <what is wrong and what to do>`; nothing here raises a traceback
for a user's mistake.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import SpecError
from harness.paths import workloads_dir
from harness.spec import models, suite
from harness.spec.hints import did_you_mean
from harness.spec.hints import shown as _shown
from harness.spec.models import FIELD_TYPES, SPEC_VERSION, OperationKind, Workload

KINDS = tuple(kind.value for kind in OperationKind)
# What a kind needs when a required key is missing: said in words, with an example.
_NEEDS = {
    ("update", "set"): "an update needs the fields it changes, e.g. set: [email]",
    ("range", "range_field"): "a range needs the ordered field it bounds, e.g. range_field: ts",
    ("range", "window"): "a range needs its width, e.g. window: 3600 (seconds for timestamps)",
    ("aggregate", "function"): "an aggregate needs a function: mean, sum, count, min or max",
    ("search", "text_fields"): "a search needs the text fields it searches",
    ("traverse", "edges"): "a traverse needs the edge entity it follows",
    ("native", "statements"): "a native operation needs a statement per engine, e.g. statements: {postgres: 'SELECT 1'}",
}
from harness.spec.semantics import check_workload

Model = TypeVar("Model", bound=BaseModel)


def _all_keys() -> set[str]:
    """Every key any spec model accepts: the vocabulary for 'did you mean'."""
    keys: set[str] = set()
    for module in (models, suite):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                for name, info in value.model_fields.items():
                    keys.add(info.alias or name)
    return keys


_KNOWN_KEYS = _all_keys()

MAX_SPEC_BYTES = 5 * 1024 * 1024  # the largest shipped spec is a few KiB
MAX_DEPTH = 50  # nesting levels of mappings and lists; a spec needs about 6
MAX_VALUES = 200_000  # values once YAML aliases are expanded (a "billion laughs" file stops here)
_EVENT_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: fast, not recursive


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a spec file into a mapping, or raise SpecError with one line.

    Bounded before anything is built: at most MAX_SPEC_BYTES, MAX_DEPTH levels of nesting and
    MAX_VALUES values with aliases expanded, so no file can exhaust the stack, the memory or the time.
    """
    text = _read_text(path)
    _check_shape(path, text)
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        lines = text.splitlines()
        mark = exc.problem_mark
        if mark is None or mark.line >= len(lines) or not lines[mark.line].strip():
            mark = exc.context_mark or mark  # an unclosed bracket is reported at the end of the file
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        bad_line = lines[mark.line].strip() if mark and mark.line < len(lines) else ""
        raise SpecError([f"{path}: {where}: invalid YAML: {exc.problem}: {bad_line!r}"]) from exc
    except yaml.YAMLError as exc:
        raise SpecError([f"{path}: invalid YAML: {' '.join(str(exc).split())}"]) from exc
    except RecursionError:  # not reached within MAX_DEPTH; kept so no nesting ever shows a traceback
        raise SpecError([f"{path}: nested too deeply; a spec needs a few levels of mappings and lists"]) from None
    if data is None:
        raise SpecError([f"{path}: is empty; a spec starts with 'version: {SPEC_VERSION}'"])
    if not isinstance(data, dict):
        raise SpecError([f"{path}: must be a mapping of keys (version, name, ...), not a {type(data).__name__}"])
    return data


def _read_text(path: Path) -> str:
    """The text of a spec file; SpecError (one line) when missing, a folder, too large or not UTF-8."""
    if not path.exists():
        raise SpecError([f"{path}: no such file"])
    if path.is_dir():
        raise SpecError([f"{path}: is a directory; give a .yaml spec file"])
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError([f"{path}: is {size / 2**20:.1f} MiB; a spec file is at most {MAX_SPEC_BYTES // 2**20} MiB "
                             "(records are generated, not listed)"])
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([f"{path}: cannot be read ({' '.join(str(exc).split())})"]) from exc


def _check_shape(path: Path, text: str) -> None:
    """SpecError (one line) when the YAML nests deeper than MAX_DEPTH or expands past MAX_VALUES.

    Walks the parser's events (no objects built): a collection's size is known when it ends,
    an alias counts as the size of what its anchor named. Syntax errors are left to the loader,
    which shows the bad line.
    """
    open_sizes: list[list[Any]] = []  # per open collection: [its anchor, values so far]
    anchored: dict[str, int] = {}
    try:
        for event in yaml.parse(text, Loader=_EVENT_LOADER):
            size = _event_size(event, open_sizes, anchored)
            if len(open_sizes) > MAX_DEPTH:
                where = f"line {event.start_mark.line + 1}: " if event.start_mark else ""
                raise SpecError([f"{path}: {where}nested deeper than {MAX_DEPTH} levels; "
                                 "a spec needs a few levels of mappings and lists"])
            if size is None:
                continue
            if open_sizes:
                open_sizes[-1][1] += size
                size = open_sizes[-1][1]
            if size > MAX_VALUES:
                raise SpecError([f"{path}: holds more than {MAX_VALUES:,} values once its YAML aliases are "
                                 "expanded; write the spec out without aliases (records are generated, not listed)"])
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # libyaml's own limit (1000 levels)
            raise SpecError([f"{path}: nested deeper than {MAX_DEPTH} levels; "
                             "a spec needs a few levels of mappings and lists"]) from None


def _event_size(event: yaml.Event, open_sizes: list[list[Any]], anchored: dict[str, int]) -> int | None:
    """The values a finished node holds (None while a collection is still open), tracking anchors."""
    if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
        open_sizes.append([event.anchor, 1])
        return None
    if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
        anchor, size = open_sizes.pop()
    elif isinstance(event, yaml.AliasEvent):
        anchor, size = None, anchored.get(event.anchor or "", 1)
    elif isinstance(event, yaml.ScalarEvent):
        anchor, size = event.anchor, 1
    else:
        return None
    if anchor is not None:
        anchored[anchor] = size
    return int(size)


def _check_version(path: Path, data: dict[str, Any]) -> None:
    version = data.get("version")
    if version is None:
        raise SpecError([f"{path}: version: missing; add 'version: {SPEC_VERSION}' at the top"])
    if version != SPEC_VERSION:
        raise SpecError([f"{path}: version: {version!r} is not supported; this dbarena reads version {SPEC_VERSION}"])


def format_loc(loc: Iterable[int | str]) -> str:
    """('operations', 2, 'distribution') -> 'operations[2].distribution'."""
    out = ""
    parts = list(loc)
    for i, part in enumerate(parts):
        # A discriminated union puts its tag in the path: fields.id.int.min -> fields.id.min
        if i >= 2 and parts[i - 2] == "fields" and part in FIELD_TYPES:
            continue
        if i >= 2 and parts[i - 2] == "operations" and part in KINDS:  # operations.0.read.x -> operations[0].x
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).isprintable() or not str(part).strip():  # a key a message cannot show as is
            out += f"[{str(part)!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    loc = error["loc"]
    op_kind = _operation_kind(loc)
    if kind == "extra_forbidden":
        if op_kind and str(loc[-1]) in _KNOWN_KEYS:
            return f"a {op_kind} operation takes no '{loc[-1]}'; remove it"
        if str(loc[-1]) in _KNOWN_KEYS:
            return "not allowed here; check its indentation (it belongs to another section)"
        return f"unknown key; remove it{did_you_mean(str(loc[-1]), _KNOWN_KEYS)}"
    if kind == "missing":
        if op_kind:
            return f"is required: {_NEEDS.get((op_kind, str(loc[-1])), f'a {op_kind} needs it')}"
        return "is required"
    if kind == "enum":
        expected = [e.value for e in OperationKind] if loc[-1] == "kind" else [
            e.value for e in models.Distribution
        ]
        return f"{_shown(value)} is not one of {', '.join(expected)}{did_you_mean(str(value), expected)}"
    if kind == "union_tag_invalid":  # reported at the union; the bad value is its `type` (fields) or `kind`
        tags = list(KINDS) if loc and loc[0] == "operations" else [
            t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        return f"{ctx.get('tag')!r} is not one of {', '.join(tags)}{did_you_mean(str(ctx.get('tag')), tags)}"
    if kind == "union_tag_not_found":
        if loc and loc[0] == "operations":
            return f"needs a 'kind' (one of {', '.join(KINDS)})"
        return f"needs a 'type' (one of {', '.join(FIELD_TYPES)})"
    if kind == "literal_error":
        return f"{_shown(value)} is not one of {ctx.get('expected')}"
    message = str(error["msg"])
    if message.startswith("Value error, ") or isinstance(value, (dict, list)):
        return message.removeprefix("Value error, ")
    return f"{message} (got {_shown(value)})"


def _operation_kind(loc: Any) -> str | None:
    """The kind of the operation an error is inside (operations.N.<kind>.key), if any."""
    parts = list(loc)
    return str(parts[2]) if len(parts) > 3 and parts[0] == "operations" and parts[2] in KINDS else None


def _tag_suffix(error: Any) -> str:
    """A bad union tag is reported at the union: name the tag key (`kind` of operations, else `type`)."""
    if error["type"] != "union_tag_invalid":
        return ""
    return ".kind" if error["loc"] and error["loc"][0] == "operations" else ".type"


def _validate(path: Path, data: dict[str, Any], model: type[Model]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = _root_causes(exc.errors())
        problems = [f"{path}: {format_loc(err['loc'])}{_tag_suffix(err)}: {_describe(err)}" for err in errors]
        raise SpecError(problems) from None


def _root_causes(errors: list[Any]) -> list[Any]:
    """Drop errors that only echo another one, so each problem is said once.

    A list whose item failed also reports itself as too short; a misspelt key also
    reports the correct key as missing.
    """
    locs = [tuple(e["loc"]) for e in errors]
    misspelt = {
        (tuple(e["loc"][:-1]), hint)
        for e in errors if e["type"] == "extra_forbidden"
        for hint in difflib.get_close_matches(str(e["loc"][-1]), _KNOWN_KEYS, n=1, cutoff=0.6)
    }
    kept = []
    for error, loc in zip(errors, locs):
        if error["type"] == "too_short" and any(other[: len(loc)] == loc and other != loc for other in locs):
            continue
        if error["type"] == "missing" and (loc[:-1], loc[-1]) in misspelt:
            continue
        kept.append(error)
    return kept


def load_workload(path: Path) -> Workload:
    """Read and fully check one workload file."""
    data = read_yaml(path)
    _check_version(path, data)
    workload = _validate(path, data, Workload)
    problems = [f"{path}: {problem}" for problem in check_workload(workload)]
    if problems:
        raise SpecError(problems)
    return workload


def load_suite(path: Path) -> suite.Suite:
    """Read and check one suite file (workload names are resolved when it runs)."""
    data = read_yaml(path)
    _check_version(path, data)
    return _validate(path, data, suite.Suite)


def resolve_workload(name_or_path: str, base: Path | None = None) -> Path:
    """A workload given as a path or as a name under `base` (default: the project's workloads/)."""
    base = base if base is not None else workloads_dir()
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    candidate = base / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    known = sorted(p.stem for p in base.glob("*.yaml"))
    hint = did_you_mean(name_or_path, known) if known else (
        " (no workloads there: run from the project folder, or give --home DIR or $DBARENA_HOME)")
    raise SpecError([f"workload {name_or_path!r} not found in {base}/; known: {', '.join(known) or 'none'}{hint}"])


def spec_files(paths: Iterable[str]) -> list[Path]:
    """Expand directories to the .yaml files inside them (for `validate DIR`)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(path.glob("**/*.yaml")) + sorted(path.glob("**/*.yml"))
            files.extend(found or [path])
        else:
            files.append(path)
    return files


def looks_like_suite(data: dict[str, Any]) -> bool:
    return "runs" in data and "operations" not in data


def looks_like_selection(data: dict[str, Any]) -> bool:
    return "use_case" in data


def load_selection(path: Path) -> suite.Selection:
    data = read_yaml(path)
    _check_version(path, data)
    return _validate(path, data, suite.Selection)


def validate_file(path: Path) -> list[str]:
    """All problems of one workload or suite file, one line each; empty when valid."""
    try:
        data = read_yaml(path)
        if looks_like_selection(data):
            load_selection(path)
        elif looks_like_suite(data):
            load_suite(path)
        else:
            load_workload(path)
    except SpecError as exc:
        return list(exc.problems)
    return []
