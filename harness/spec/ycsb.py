"""YCSB properties -> a dbarena workload (and the load profile of a suite): `dbarena import ycsb`.

YCSB (Cooper et al., SoCC 2010; github.com/brianfrankcooper/YCSB) describes a run with Java
properties read by `site.ycsb.Client` and `site.ycsb.workloads.CoreWorkload`. This module maps
every CoreWorkload and Client property that changes what is measured onto the dbarena spec, with
YCSB's own defaults where a property is absent (readproportion 0.95, updateproportion 0.05,
fieldcount 10, fieldlength 100, maxscanlength 1000, requestdistribution uniform, ...). What has
no equivalent is refused, one line per property, naming the property and why (`SpecError`):
nothing is silently approximated. `PROPERTIES` lists every property known here and where it goes;
the README's table is the same list in words.

    parse_properties(text)          Java .properties text -> {key: value}
    to_spec(properties, name, ...)  -> YcsbSpec: the workload mapping and the load-profile mapping
    workload_yaml / suite_yaml      the YAML texts `dbarena import ycsb` writes
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import SpecError
from harness.spec.models import SPEC_VERSION, Workload
from harness.spec.semantics import check_workload
from harness.spec.suite import LoadProfile, Suite

CORE_WORKLOADS = ("site.ycsb.workloads.CoreWorkload", "com.yahoo.ycsb.workloads.CoreWorkload")
KEY_FIELD = "ycsb_key"
LONGEST_RUN = "1h"  # the duration bound of a run that stops at `operationcount` when no maxexecutiontime is given

# Properties that only change what YCSB reports, how it connects or how a key is spelled: dbarena always
# records µs HDR histograms per operation and per second and reaches engines with --url; accepted, ignored.
IGNORED = ("measurementtype", "measurement.interval", "measurement.raw.output_file", "measurement.trackjvm",
             "histogram.buckets", "hdrhistogram.percentiles", "hdrhistogram.fileoutput", "hdrhistogram.output.path",
             "timeseries.granularity", "status.interval", "exporter", "exportfile", "reportlatencyforeacherror",
             "latencytrackederrors", "debug", "db", "readallfieldsbyname", "zeropadding")

# property -> why dbarena cannot honour it (refused when given with a value other than YCSB's default)
UNSUPPORTED: dict[str, tuple[str, str]] = {
    "readallfields": ("true", "a read returns every field; reading one random field (false) needs a projection "
                              "drawn per call, which dbarena's prepared reads do not have"),
    "dataintegrity": ("false", "dbarena does not verify the values it reads back"),
    "fieldlengthhistogram": ("hist.txt", "field lengths from a histogram file are not supported "
                                         "(fieldlengthdistribution constant, uniform or zipfian are)"),
    "insertionretrylimit": ("0", "dbarena never retries a failed insert: it counts as an error"),
    "insertionretryinterval": ("3", "dbarena never retries a failed insert: it counts as an error"),
    "core_workload_insertion_retry_limit": ("0", "dbarena never retries a failed insert: it counts as an error"),
    "core_workload_insertion_retry_interval": ("3", "dbarena never retries a failed insert: it counts as an error"),
    "exponential.percentile": ("95", "requestdistribution=exponential is not supported"),
    "exponential.frac": ("0.8571428571", "requestdistribution=exponential is not supported"),
    "batchsize": ("1", "dbarena's operations are one call each; the load batches by itself (1,000 records)"),
    "deleteproportion": ("0", "not a CoreWorkload operation"),
}

DISTRIBUTIONS = ("uniform", "zipfian", "latest", "hotspot", "sequential")

# Every YCSB core property -> where it goes in dbarena (the README's table says the same in words).
PROPERTIES: dict[str, str] = {
    "workload": "must be CoreWorkload (site.ycsb.workloads.CoreWorkload)",
    "dotransactions": "must be true: dbarena loads, then measures the transaction phase",
    "recordcount": "dataset.entities[0].count",
    "operationcount": "load.operationcount",
    "threadcount": "load.users",
    "target": "load.target_rate",
    "maxexecutiontime": "load.duration",
    "insertstart": "load.insertstart",
    "insertcount": "load.insertcount",
    "table": "dataset.entities[0].name",
    "fieldcount": "dataset.entities[0].fields (field0 ...)",
    "fieldnameprefix": "the field names' prefix",
    "fieldlength": "fields.*.length",
    "minfieldlength": "fields.*.min_length",
    "fieldlengthdistribution": "fields.*.length_distribution",
    "insertorder": "the key field: hashed = unique string, ordered = int sequence",
    "readproportion": "operations.read.weight",
    "updateproportion": "operations.update.weight",
    "insertproportion": "operations.insert.weight",
    "scanproportion": "operations.scan.weight",
    "readmodifywriteproportion": "operations.read-modify-write.weight (update, read_first)",
    "readallfields": "true only (reads return every field)",
    "writeallfields": "operations.update.write (all | one)",
    "requestdistribution": "operations.*.distribution",
    "zipfianconstant": "operations.*.zipf_constant",
    "hotspotdatafraction": "operations.*.hot_fraction",
    "hotspotopnfraction": "operations.*.hot_share",
    "maxscanlength": "operations.scan.limit",
    "minscanlength": "operations.scan.min_length",
    "scanlengthdistribution": "operations.scan.length_distribution",
    **{key: f"not supported, because {why}" for key, (_, why) in UNSUPPORTED.items()},
    **{key: "ignored (reporting, connection or key spelling)" for key in IGNORED},
}


def parse_properties(text: str) -> dict[str, str]:
    """Java .properties text -> {key: value}: `#`/`!` comments, `key=value`, `key: value` or `key value`,
    backslash line continuations; surrounding whitespace stripped; a later key wins (as java.util.Properties)."""
    out: dict[str, str] = {}
    logical = re.sub(r"\\\r?\n[ \t]*", "", text)
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        found = re.match(r"^([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if found is None:
            out[line] = ""
        else:
            out[found.group(1)] = found.group(2).strip()
    return out


@dataclass
class YcsbSpec:
    """The mapping of one properties file: a workload (YAML-ready mapping) and the load profile's values."""

    workload: dict[str, Any]
    load: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Reader:
    """Typed reads of the properties with YCSB's defaults; each problem becomes one line."""

    props: Mapping[str, str]
    where: str
    problems: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def text(self, key: str, default: str) -> str:
        self.used.add(key)
        return self.props.get(key, default)

    def number(self, key: str, default: str, convert: Callable[[str], Any], ok: Callable[[Any], bool],
               want: str) -> Any:
        value = self.text(key, default)
        try:
            number = convert(value)
        except ValueError:
            number = None
        if number is None or not ok(number):
            self.refuse(key, f"give {want}")
            return convert(default)
        return number

    def count(self, key: str, default: str, low: int = 0, high: int = 10**12) -> int:
        return int(self.number(key, default, int, lambda v: low <= v <= high, f"a whole number from {low} to {high:,}"))

    def share(self, key: str, default: str) -> float:
        return float(self.number(key, default, float, lambda v: 0 <= v <= 1, "a proportion from 0 to 1"))

    def refuse(self, key: str, why: str) -> None:
        self.used.add(key)
        self.problems.append(f"{self.where}: {key}={self.props.get(key, '')}: {why}")


def to_spec(props: Mapping[str, str], name: str, where: str = "properties") -> YcsbSpec:
    """The dbarena workload and load profile equivalent to YCSB properties `props`.

    `name` names the workload (lower case, letters, digits and dashes); `where` prefixes each
    problem line. Raises SpecError with one line per property that cannot be mapped.
    """
    reader = _Reader(props, where)
    _check_workload_class(reader)
    _check_unsupported(reader)
    entity = _entity(reader)
    operations = _operations(reader, entity)
    load = _load(reader)
    for key in sorted(set(props) - reader.used - set(IGNORED)):
        reader.refuse(key, "not a YCSB CoreWorkload or client property dbarena knows (see the README's YCSB table)")
    if not operations and not reader.problems:
        reader.problems.append(f"{where}: every operation proportion is 0; give readproportion, updateproportion, "
                               "insertproportion, scanproportion or readmodifywriteproportion above 0")
    if reader.problems:
        raise SpecError(reader.problems)
    workload = {"version": SPEC_VERSION, "name": name,
                "description": f"imported from YCSB properties ({where})",
                "dataset": {"seed": 42, "entities": [entity]}, "operations": operations}
    spec = YcsbSpec(workload, load)
    _check(spec, where)
    return spec


def _check_workload_class(reader: _Reader) -> None:
    workload = reader.text("workload", CORE_WORKLOADS[0])
    if workload not in CORE_WORKLOADS:
        reader.refuse("workload", "only YCSB's CoreWorkload is mapped (site.ycsb.workloads.CoreWorkload)")
    if reader.text("dotransactions", "true").lower() != "true":
        reader.refuse("dotransactions", "dbarena always loads, then measures the transaction phase")


def _check_unsupported(reader: _Reader) -> None:
    for key, (default, why) in UNSUPPORTED.items():
        if key in reader.props and reader.props[key].strip().lower() != default:
            reader.refuse(key, f"not supported, because {why}")
        reader.used.add(key)


def _entity(reader: _Reader) -> dict[str, Any]:
    table = reader.text("table", "usertable")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", table):
        reader.refuse("table", "give a table name of lower-case letters, digits and underscores")
        table = "usertable"
    count = reader.count("recordcount", "1000", 1)
    fields = reader.count("fieldcount", "10", 1, 1000)
    prefix = reader.text("fieldnameprefix", "field")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        reader.refuse("fieldnameprefix", "give letters, digits and underscores")
        prefix = "field"
    length = reader.count("fieldlength", "100", 1, 1_000_000)
    shortest = reader.count("minfieldlength", "1", 1, 1_000_000)
    distribution = reader.text("fieldlengthdistribution", "constant")
    value: dict[str, Any] = {"type": "string", "length": length}
    if distribution in ("uniform", "zipfian"):
        if shortest > length:
            reader.refuse("minfieldlength", f"give at most fieldlength ({length})")
        value.update(min_length=min(shortest, length), length_distribution=distribution)
    elif distribution != "constant":
        reader.refuse("fieldlengthdistribution", "give constant, uniform or zipfian (histogram is not supported)")
    order = reader.text("insertorder", "hashed")
    if order == "hashed":
        key: dict[str, Any] = {"type": "string", "prefix": "user", "unique": True}
    elif order == "ordered":
        key = {"type": "int", "sequence": True}  # keys in insertion order: scans and latest see neighbours
    else:
        reader.refuse("insertorder", "give hashed or ordered")
        key = {"type": "string", "prefix": "user", "unique": True}
    return {"name": table, "count": count, "key": KEY_FIELD,
            "fields": {KEY_FIELD: key, **{f"{prefix}{i}": dict(value) for i in range(fields)}}}


def _key_choice(reader: _Reader) -> dict[str, Any]:
    """The `distribution` (and its parameters) of every keyed operation: YCSB's requestdistribution."""
    distribution = reader.text("requestdistribution", "uniform")
    if distribution not in DISTRIBUTIONS:
        reader.refuse("requestdistribution", f"give one of {', '.join(DISTRIBUTIONS)} (exponential is not supported)")
        return {"distribution": "uniform"}
    choice: dict[str, Any] = {"distribution": distribution}
    theta = reader.number("zipfianconstant", "0.99", float, lambda v: 0 < v < 10, "a constant above 0 and below 10")
    if distribution in ("zipfian", "latest") and theta != 0.99:
        choice["zipf_constant"] = theta
    if distribution == "hotspot":
        choice["hot_fraction"] = reader.number("hotspotdatafraction", "0.2", float, lambda v: 0 < v < 1,
                                               "a fraction above 0 and below 1")
        choice["hot_share"] = reader.number("hotspotopnfraction", "0.8", float, lambda v: 0 < v < 1,
                                            "a fraction above 0 and below 1")
    else:
        reader.used.update(("hotspotdatafraction", "hotspotopnfraction"))
    return choice


def _operations(reader: _Reader, entity: dict[str, Any]) -> list[dict[str, Any]]:
    choice, table = _key_choice(reader), entity["name"]
    fields = [name for name in entity["fields"] if name != KEY_FIELD]
    write = "all" if reader.text("writeallfields", "false").lower() == "true" else "one"
    shares = {kind: reader.share(f"{kind}proportion", default) for kind, default in
              (("read", "0.95"), ("update", "0.05"), ("insert", "0"), ("scan", "0"), ("readmodifywrite", "0"))}
    ops: list[dict[str, Any]] = []
    if shares["read"]:
        ops.append({"name": "read", "kind": "read", "entity": table, "weight": shares["read"], **choice})
    if shares["update"]:
        ops.append({"name": "update", "kind": "update", "entity": table, "weight": shares["update"], **choice,
                    "write": write, "set": fields})
    if shares["insert"]:
        ops.append({"name": "insert", "kind": "insert", "entity": table, "weight": shares["insert"]})
    if shares["scan"]:
        ops.append({"name": "scan", "kind": "scan", "entity": table, "weight": shares["scan"], **choice,
                    **_scan_lengths(reader)})
    else:
        reader.used.update(("maxscanlength", "minscanlength", "scanlengthdistribution"))
    if shares["readmodifywrite"]:
        ops.append({"name": "read-modify-write", "kind": "update", "entity": table,
                    "weight": shares["readmodifywrite"], **choice, "read_first": True, "write": write, "set": fields})
    return ops


def _scan_lengths(reader: _Reader) -> dict[str, Any]:
    longest = reader.count("maxscanlength", "1000", 1, 10_000)
    shortest = reader.count("minscanlength", "1", 1, 10_000)
    if shortest > longest:
        reader.refuse("minscanlength", f"give at most maxscanlength ({longest})")
    distribution = reader.text("scanlengthdistribution", "uniform")
    if distribution not in ("uniform", "zipfian"):
        reader.refuse("scanlengthdistribution", "give uniform or zipfian")
        distribution = "uniform"
    lengths: dict[str, Any] = {"limit": longest, "length_distribution": distribution}
    if shortest != 1:
        lengths["min_length"] = min(shortest, longest)
    return lengths


def _load(reader: _Reader) -> dict[str, Any]:
    """The load profile: threads, operation count, target rate, time bound, and the records to load."""
    load: dict[str, Any] = {"users": reader.count("threadcount", "1", 1, 10_000), "warmup": "0s"}
    if "operationcount" in reader.props:
        load["operationcount"] = reader.count("operationcount", "0", 1)
    target = reader.number("target", "0", float, lambda v: v >= 0, "a rate in operations per second, 0 or more")
    if target > 0:
        load["target_rate"] = target
    if "maxexecutiontime" in reader.props:
        load["duration"] = f"{reader.count('maxexecutiontime', '0', 1, 86_400)}s"
    elif "operationcount" in load:
        load["duration"] = LONGEST_RUN
    for key in ("insertstart", "insertcount"):
        if key in reader.props:
            load[key] = reader.count(key, "0", 0 if key == "insertstart" else 1)
    return load


def _check(spec: YcsbSpec, where: str) -> None:
    """The mapping is a valid workload and load profile (a bug here is ours, said as a spec problem)."""
    try:
        workload = Workload.model_validate(spec.workload)
        LoadProfile.model_validate(spec.load)
    except ValidationError as exc:
        raise SpecError([f"{where}: the mapped spec is not valid: {error['msg']}" for error in exc.errors()]) from None
    problems = check_workload(workload)
    if problems:
        raise SpecError([f"{where}: {problem}" for problem in problems])


def workload_yaml(spec: YcsbSpec, source: str) -> str:
    """The workload file's text, headed by where it came from and the `bench` flags of its load profile."""
    flags = " ".join(f"--{_FLAGS.get(key, key)} {value:g}" if isinstance(value, float) else f"--{_FLAGS.get(key, key)} {value}"
                     for key, value in spec.load.items())
    header = (f"# Imported by `dbarena import ycsb` from {source}; its load profile as flags:\n"
              f"#   dbarena bench --engine ENGINE --workload THIS_FILE {flags}\n")
    return header + yaml.safe_dump(spec.workload, sort_keys=False, width=120, default_flow_style=None)


_FLAGS = {"target_rate": "rate"}  # load keys whose `bench` flag is named otherwise


def suite_yaml(spec: YcsbSpec, workload_path: str, engine: str) -> str:
    """A suite running the imported workload on `engine` with the properties' load profile."""
    suite = {"version": SPEC_VERSION, "name": spec.workload["name"],
             "description": f"YCSB properties imported as workload {workload_path}",
             "runs": [{"workload": workload_path, "engines": [engine], "load": spec.load}]}
    Suite.model_validate(suite)
    return yaml.safe_dump(suite, sort_keys=False, width=120, default_flow_style=None)


def workload_name(stem: str) -> str:
    """A workload name from a file name: lower case, other characters as dashes, starting with a letter."""
    name = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")
    return name if re.fullmatch(r"[a-z][a-z0-9-]*", name) else f"ycsb-{name}".rstrip("-")
