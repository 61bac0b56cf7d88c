"""InfluxDB 1.8 starts natively, takes v2 writes and Flux queries from influxdb-client, stops by PID."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.provision.native import base
from harness.provision.native.influxdb.launcher import InfluxDBLauncher

influxdb_client = pytest.importorskip("influxdb_client")


@pytest.mark.influxdb
def test_influxdb_serves_v2_write_and_flux() -> None:
    from influxdb_client.client.write_api import SYNCHRONOUS

    launcher = InfluxDBLauncher()
    port = base.free_port_for(launcher)  # its RPC port (+2) is free too
    server = base.start(launcher, port=port)
    try:
        assert all(base.port_open(p) for p in launcher.ports(port))
        parts = urlsplit(server.url)
        options = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert options == {"org": "-", "bucket": "dbarena/autogen", "token": "user:pass"}
        with influxdb_client.InfluxDBClient(url=f"{parts.scheme}://{parts.netloc}", token=options["token"], org=options["org"]) as client:
            assert client.ping()
            assert client.version() == "1.8.10"
            t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
            points = [
                influxdb_client.Point("cpu").tag("host", host).field("usage", float(i + offset)).time(t0 + timedelta(seconds=10 * i))
                for host, offset in (("a", 0), ("b", 100))
                for i in range(18)
            ]
            client.write_api(write_options=SYNCHRONOUS).write(bucket=options["bucket"], record=points)
            flux = f"""
                from(bucket: "{options["bucket"]}")
                  |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:03:00Z)
                  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage" and r.host == "a")
                  |> aggregateWindow(every: 1m, fn: mean)
            """
            tables = client.query_api().query(flux)
            means = [(r.get_time(), r.get_value()) for table in tables for r in table.records]
            assert means == [
                (t0 + timedelta(minutes=1), 2.5),
                (t0 + timedelta(minutes=2), 8.5),
                (t0 + timedelta(minutes=3), 14.5),
            ]
            grouped = client.query_api().query(
                f'from(bucket: "{options["bucket"]}") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-02T00:00:00Z)'
                ' |> filter(fn: (r) => r._measurement == "cpu") |> group(columns: ["host"]) |> count()'
            )
            counts = {r.values["host"]: r.get_value() for table in grouped for r in table.records}
            assert counts == {"a": 18, "b": 18}
    finally:
        base.stop(server)
    assert not base.pid_alive(server.pid)
    assert not any(base.port_open(p) for p in launcher.ports(port))
