"""A version-3 record (before outcomes and invalid causes) still loads, with what it could not have measured at 0."""

from __future__ import annotations

import json
from pathlib import Path

from harness.results import store
from harness.results.record import SCHEMA_VERSION
from tests.results.test_store import sample_record

V3_OPERATION_FIELDS = {"kind", "count", "errors", "throughput_ops_s", "latency_us", "service_us", "warmup_count",
                       "histogram", "service_histogram", "errors_sample", "unsupported"}
V3_LOAD_FIELDS = {"users", "processes", "duration_s", "warmup_s", "target_rate", "schedule", "think_time_s",
                  "max_error_rate", "stages", "scenarios"}


def test_a_version_3_record_gets_outcomes_causes_and_stopped_by(tmp_path: Path) -> None:
    data = json.loads(sample_record().model_dump_json())
    data = {key: value for key, value in data.items() if key not in ("invalid_causes", "stopped_by")}
    data["schema_version"], data["valid"] = 3, False
    data["invalid_reasons"] = ["load generator fell behind: 9% of operations started more than 1 s late", "errors: 2%"]
    data["load"] = {key: value for key, value in data["load"].items() if key in V3_LOAD_FIELDS}
    data["operations"] = {name: {key: value for key, value in op.items() if key in V3_OPERATION_FIELDS}
                          for name, op in data["operations"].items()}
    data["timeseries"] = [{"t": 0, "op": "read", "phase": "measure", "count": 10, "errors": 0}]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    record = store.load(path)
    assert record.schema_version == SCHEMA_VERSION == 4
    assert record.invalid_causes == ("other", "other")  # one per reason, the cause unknown then
    assert record.stopped_by == "duration"
    read = record.operations["read"]
    assert (read.count, read.timeouts, read.not_found, read.clamped, read.lag_us) == (10, 0, 0, 0, None)
    assert record.timeseries[0].timeouts == 0
    assert record.load.op_timeout_s is None and record.load.operation_count is None
