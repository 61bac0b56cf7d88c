"""The bulk load's line protocol: the text influxdb-client's `Point.to_line_protocol` writes, built directly.

A Point per record spent most of a load's client time in the client library (a method call per tag and
field, type checks and escaping per value, then an import per item while serialising the batch). The
encoder here gives the same line for the same record — measurement, tags sorted by key, fields sorted by
name, escaping, `i` integers, floats without a trailing `.0`, non-finite floats and None dropped, the time
in nanoseconds — and hands any value type it does not write itself to `Point` (tests check the two agree on
every library workload and on the edge cases). Line protocol:
https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from influxdb_client.client.util.date_utils import get_date_helper
from influxdb_client.client.write.point import EPOCH

from harness.engines.influxdb.statements import Layout, field_value

MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


class LineEncoder:
    """`line(values, time_ns)` == `layout.point(values, time_ns).to_line_protocol()`, faster."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.head = layout.measurement.translate(MEASUREMENT)
        self.tags = tuple((tag, tag.translate(KEY)) for tag in sorted(layout.tags))
        self.skip = frozenset((*layout.tags, layout.time_field))
        self.keys: dict[str, str] = {}  # field name -> escaped

    def line(self, values: Mapping[str, Any], time_ns: int) -> str:
        tags = self._tags(values)
        fields = self._fields(values)
        if fields is None:  # a value type only Point knows how to write
            return self.layout.point(values, time_ns).to_line_protocol()
        if not fields:
            return ""
        when = values[self.layout.time_field] if self.layout.time_field else time_ns
        if type(when) is int:
            stamp = when
        elif isinstance(when, datetime):
            helper = get_date_helper()
            stamp = int(helper.to_nanoseconds(helper.to_utc(when) - EPOCH))
        else:
            return self.layout.point(values, time_ns).to_line_protocol()
        return f"{self.head}{tags} {fields} {stamp}"

    def _tags(self, values: Mapping[str, Any]) -> str:
        out = []
        for tag, key in self.tags:
            value = str(values[tag]).translate(KEY)
            if value.endswith("\\"):
                value += " "
            if key and value:
                out.append(f",{key}={value}")
        return "".join(out)

    def _fields(self, values: Mapping[str, Any]) -> str | None:
        out = []
        for name in sorted(values):
            if name in self.skip or values[name] is None:
                continue
            value = field_value(values[name])
            key = self.keys.get(name) or self.keys.setdefault(name, name.translate(KEY))
            kind = type(value)
            if kind is str:
                out.append(f'{key}="{value.translate(STRING)}"')
            elif kind is int:
                out.append(f"{key}={value}i")
            elif kind is float:
                if math.isfinite(value):
                    text = str(value)
                    out.append(f"{key}={text[:-2] if text.endswith('.0') else text}")
            elif kind is bool:
                out.append(f"{key}={'true' if value else 'false'}")
            else:
                return None
        return ",".join(out)
