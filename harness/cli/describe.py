"""Commands that describe the spec formats and the workload library, without running anything.

    dbarena schema workload|suite|selection   the JSON Schema of that file kind (harness.spec.schema)
    dbarena schema --write                    rewrite schemas/*.schema.json and docs/spec-reference.md
    dbarena workloads list [--json]           each library workload: entities, operations, presets, engines
    dbarena explain WORKLOAD --engine E       the schema and each operation's statement, nothing connected
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.cli.exit_codes import ExitCode
from harness.cli.options import Subcommands, add_json
from harness.engines.explain import RENDERERS, Explained, explain
from harness.engines.matrix import MATRIX_ENGINES, support
from harness.errors import UserError
from harness.paths import project_root, workloads_dir
from harness.spec.loader import load_workload, resolve_workload
from harness.spec.models import Workload
from harness.spec.reference import REFERENCE_PATH, reference_markdown
from harness.spec.schema import SCHEMA_MODELS, committed_schema, schema_text

__all__ = ["cmd_explain", "cmd_schema", "cmd_workloads_list", "explained_lines", "register", "workload_summary",
           "write_generated"]


def cmd_schema(args: argparse.Namespace) -> ExitCode:
    if args.write:
        for path in write_generated(project_root()):
            print(f"wrote {path}")
        return ExitCode.OK
    if args.name is None:
        raise UserError("schema: give a file kind (workload, suite, selection) or --write")
    print(schema_text(args.name), end="")
    return ExitCode.OK


def write_generated(root: Path) -> list[Path]:
    """Write the committed schemas and the reference page under `root`; the paths written."""
    written = []
    for name in SCHEMA_MODELS:
        path = committed_schema(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(schema_text(name), encoding="utf-8")
        written.append(path)
    page = root / REFERENCE_PATH
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(reference_markdown(root), encoding="utf-8")
    return [*written, page]


def workload_summary(workload: Workload) -> dict[str, Any]:
    """One library workload as `workloads list --json` prints it.

    Keys: name, description, entities [{name, count}], operations [{name, kind, entity, weight}]
    (weights as written, 0 = only in presets), presets {name: {operation: weight}}, engines
    {engine: {"runs": bool, "reasons": [why each operation cannot run]}} for the default mix.
    """
    engines = {}
    for engine in MATRIX_ENGINES:
        ok, reasons = support(workload.active(), engine)
        engines[engine] = {"runs": ok, "reasons": reasons}
    return {
        "name": workload.name, "description": workload.description,
        "entities": [{"name": e.name, "count": e.count} for e in workload.dataset.entities],
        "operations": [{"name": op.name, "kind": str(op.kind), "entity": op.entity, "weight": op.weight}
                       for op in workload.operations],
        "presets": {name: dict(weights) for name, weights in workload.presets.items()},
        "engines": engines,
    }


def cmd_workloads_list(args: argparse.Namespace) -> ExitCode:
    summaries = [workload_summary(load_workload(path)) for path in sorted(workloads_dir().glob("*.yaml"))]
    if args.json:
        print(json.dumps(summaries, indent=2))
        return ExitCode.OK
    if not summaries:
        print(f"no workloads in {workloads_dir()}/ (run from the project folder, or give --home DIR)")
    for summary in summaries:
        print("\n".join(_summary_lines(summary)))
    return ExitCode.OK


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    entities = ", ".join(f"{e['name']} ({e['count']:,} records)" for e in summary["entities"])
    operations = ", ".join(f"{op['name']} [{op['kind']}] {op['weight']:g}" for op in summary["operations"])
    runs = [engine for engine, cell in summary["engines"].items() if cell["runs"]]
    lines = [f"{summary['name']}: {summary['description']}".rstrip(": "),
             f"  entities:   {entities}",
             f"  operations: {operations}",
             f"  presets:    {', '.join(summary['presets']) or 'none'}",
             f"  engines:    {', '.join(runs) or 'none'}"]
    for engine, cell in summary["engines"].items():
        if not cell["runs"]:
            lines.append(f"    n/a on {engine}: {'; '.join(cell['reasons'])}")
    return [*lines, ""]


def cmd_explain(args: argparse.Namespace) -> ExitCode:
    workload = load_workload(resolve_workload(args.workload))
    if args.preset is not None:
        if args.preset not in workload.presets:
            known = ", ".join(workload.presets) or "none"
            raise UserError(f"--preset {args.preset!r}: workload {workload.name} has no such preset; known: {known}")
        workload = workload.with_preset(args.preset)
    explained = explain(workload, args.engine)
    if args.json:
        print(explained.model_dump_json(indent=2))
    else:
        print("\n".join(explained_lines(explained)))
    return ExitCode.OK


def explained_lines(explained: Explained) -> list[str]:
    """`explain`'s text: the setup statements, then per operation its statements and sample parameters."""
    lines = [f"{explained.workload} on {explained.engine} (rendered, nothing connected; parameters of one sample "
             "call built from the dataset's first records)", "", "setup:"]
    lines += [f"  {statement}" for statement in explained.setup] or ["  (none)"]
    shown: set[str] = set()  # scripts whose body is printed already
    for op in explained.operations:
        lines += ["", f"{op.name} ({op.kind}, weight {op.weight:g}):"]
        if op.unsupported is not None:
            lines.append(f"  n/a: {op.unsupported}")
            continue
        if op.note is not None:
            lines.append(f"  ({op.note})")
        for i, statement in enumerate(op.sends):
            lines.append(f"  {statement}")
            if i < len(op.parameters):
                lines.append(f"  parameters: {op.parameters[i]}")
            lines += _script_lines(statement, explained.scripts, shown)
    return lines


def _script_lines(statement: str, scripts: dict[str, str], shown: set[str]) -> list[str]:
    """The body of the script `statement` calls by SHA1 (redis EVALSHA), indented, the first time it is named."""
    for sha, body in scripts.items():
        if sha in statement.split() and sha not in shown:
            shown.add(sha)
            return [f"    script {sha}:", *(f"      {line}" for line in body.strip("\n").splitlines())]
    return []


def register(sub: Subcommands) -> None:
    """Add `schema` and `workloads list` to the `dbarena` parser."""
    parser = sub.add_parser("schema", help="print the JSON Schema of workload, suite or selection files")
    parser.add_argument("name", nargs="?", choices=tuple(SCHEMA_MODELS), metavar="KIND",
                        help=f"the file kind: {', '.join(SCHEMA_MODELS)}")
    parser.add_argument("--write", action="store_true",
                        help="rewrite schemas/*.schema.json and docs/spec-reference.md under the project root "
                             "from the models (default: off)")
    parser.set_defaults(func=cmd_schema)

    workloads = sub.add_parser("workloads", help="the workload library")
    verbs = workloads.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="each workload's entities, operations, presets and engines")
    add_json(listing, "the list")
    listing.set_defaults(func=cmd_workloads_list)

    explaining = sub.add_parser("explain", help="the schema and each operation's exact statement on one engine, "
                                                "without connecting")
    explaining.add_argument("workload", metavar="WORKLOAD", help="workload name under <home>/workloads/ or a file")
    explaining.add_argument("--engine", required=True, metavar="NAME",
                            help=f"the engine whose statements to show: {', '.join(RENDERERS)} (required)")
    explaining.add_argument("--preset", metavar="NAME",
                            help="show the operations of this preset only (default: every operation as written)")
    add_json(explaining, "the explanation")
    explaining.set_defaults(func=cmd_explain)
