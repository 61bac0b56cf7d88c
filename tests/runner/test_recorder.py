"""The recorder: warm-up excluded, open-loop latency from the intended start, lag counted."""

from __future__ import annotations

from harness.metrics.histogram import HIGHEST_US, ceiling_us, decode
from harness.runner import protocol
from harness.runner.pacing import NS_PER_S
from harness.runner.recorder import Recorder

MS = 1_000_000


def test_warmup_is_kept_apart_and_closed_loop_latency_is_service_time() -> None:
    recorder = Recorder(["read"], t0_ns=0, warmup_s=1, duration_s=2, open_loop=False)
    stats = recorder.stats[0]
    recorder.record(stats, 0, 100 * MS, 105 * MS)  # during warm-up
    recorder.record(stats, 0, 1500 * MS, 1502 * MS)  # measured: 2 ms
    recorder.record(stats, 0, 2990 * MS, 3100 * MS)  # started in the window, ended after it: measured (110 ms)
    recorder.record(stats, 0, 3000 * MS, 3001 * MS)  # started at the window's end: not measured
    assert stats.count == 2
    assert stats.warmup.get_total_count() == 1
    assert stats.response.get_min_value() == 2000
    assert abs(stats.response.get_max_value() - 110_000) <= 110


def test_open_loop_measures_from_intended_start_and_counts_lag() -> None:
    recorder = Recorder(["read"], t0_ns=0, warmup_s=0, duration_s=10, open_loop=True)
    stats = recorder.stats[0]
    # intended at 1 s, started 1.5 s late (a stall), served in 1 ms
    recorder.record(stats, 1 * NS_PER_S, 2500 * MS, 2501 * MS)
    # on time
    recorder.record(stats, 3 * NS_PER_S, 3 * NS_PER_S, 3 * NS_PER_S + MS)
    assert stats.response.get_max_value() >= 1_500_000  # response time includes the wait
    assert stats.service.get_max_value() <= 1_001  # service time does not
    assert (stats.started, stats.lagging) == (2, 1)


def test_errors_are_counted_with_a_sample() -> None:
    recorder = Recorder(["write"], t0_ns=0, warmup_s=0, duration_s=10, open_loop=False)
    stats = recorder.stats[0]
    for _ in range(10):
        recorder.record_error(stats, 0, 5 * NS_PER_S, 5 * NS_PER_S, ConnectionError("engine gone"))
    assert stats.errors == 10
    assert stats.errors_sample[0] == "ConnectionError: engine gone"
    assert len(stats.errors_sample) == 5


def test_result_carries_histograms_and_a_timeseries() -> None:
    recorder = Recorder(["read"], t0_ns=0, warmup_s=1, duration_s=2, open_loop=False)
    stats = recorder.stats[0]
    for i in range(100):
        recorder.record(stats, 0, 1100 * MS + i * MS, 1100 * MS + i * MS + 300_000)
    result = recorder.result(process=0, complete=True, measured_s=2.0, cpu_fraction=None)
    assert decode(result.operations["read"].histogram).get_total_count() == 100
    assert [(r.t, r.phase, r.count) for r in result.timeseries] == [(1, "measure", 100)]
    assert protocol.decode(protocol.encode(result)) == result  # the same model on both ends of the pipe


def test_an_operation_belongs_to_the_window_of_its_intended_start_whenever_it_ends() -> None:
    recorder = Recorder(["read"], t0_ns=0, warmup_s=1, duration_s=2, open_loop=True)
    stats = recorder.stats[0]
    recorder.record(stats, 900 * MS, 1100 * MS, 1101 * MS)  # intended in the warm-up, ended in the window
    recorder.record(stats, 2900 * MS, 4400 * MS, 4500 * MS)  # intended in the window, ended 1.6 s after it
    recorder.record(stats, 3000 * MS, 3000 * MS, 3001 * MS)  # intended at the window's end: not measured
    assert (stats.count, stats.warmup.get_total_count()) == (1, 1)
    assert abs(stats.response.get_max_value() - 1_600_000) <= 1_600  # end - intended start
    rows = recorder.timeseries()
    assert [(r.t, r.phase, r.count) for r in rows] == [(1, "warmup", 1), (4, "measure", 1)]


def test_timeouts_are_their_own_outcome_with_their_elapsed_time_in_the_histogram() -> None:
    recorder = Recorder(["read"], t0_ns=0, warmup_s=0, duration_s=10, open_loop=True)
    stats = recorder.stats[0]
    recorder.record(stats, 1 * NS_PER_S, 1 * NS_PER_S, 1 * NS_PER_S + MS)
    recorder.record_timeout(stats, 2 * NS_PER_S, 2 * NS_PER_S, 4 * NS_PER_S)  # given up after 2 s
    recorder.record_timeout(stats, 9 * NS_PER_S, 0, 12 * NS_PER_S)  # never issued: counted at the drain's end
    assert (stats.count, stats.errors, stats.timeouts) == (1, 0, 2)
    assert stats.response.get_total_count() == 3
    assert abs(stats.response.get_max_value() - 3_000_000) <= 3_000
    assert stats.service.get_total_count() == 1  # a timeout has no service time
    part = recorder.result(process=0, complete=True, measured_s=10, cpu_fraction=None).operations["read"]
    assert (part.count, part.timeouts) == (1, 2)
    rows = recorder.timeseries()
    assert sum(r.timeouts for r in rows) == 2 and sum(r.count for r in rows) == 1


def test_not_found_is_counted_for_must_hit_operations_only() -> None:
    recorder = Recorder(["read", "scan"], t0_ns=0, warmup_s=0, duration_s=10, open_loop=False, must_hit=[True, False])
    read, scan = recorder.stats
    for rows in (1, 0, 0, 3):
        recorder.record(read, 0, 1 * NS_PER_S, 1 * NS_PER_S + MS, rows)
        recorder.record(scan, 0, 1 * NS_PER_S, 1 * NS_PER_S + MS, rows)
    assert (read.count, read.not_found) == (4, 2)
    assert (scan.count, scan.not_found) == (4, 0)


def test_latencies_above_the_ceiling_are_clamped_and_counted() -> None:
    ceiling = ceiling_us(3600)
    recorder = Recorder(["read"], t0_ns=0, warmup_s=0, duration_s=3600, open_loop=True, highest_us=ceiling)
    stats = recorder.stats[0]
    recorder.record(stats, 1, 1, 2 * ceiling * 1000)  # a clock jump: twice the ceiling
    recorder.record(stats, 1, 1, 1 + 5 * MS)
    assert (stats.count, stats.clamped) == (2, 1)
    assert stats.response.get_total_count() == 2  # nothing dropped
    assert stats.response.get_max_value() >= ceiling * 0.999


def test_the_ceiling_follows_the_run_length() -> None:
    assert ceiling_us(10, 2) == HIGHEST_US  # at least an hour
    long = ceiling_us(7200, 60, 10, 10)
    assert long > 7280 * 1_000_000
    recorder = Recorder(["read"], t0_ns=0, warmup_s=60, duration_s=7200, open_loop=False, highest_us=long)
    stats = recorder.stats[0]
    recorder.record(stats, 0, 61 * NS_PER_S, 61 * NS_PER_S + 7000 * NS_PER_S)  # a 7,000 s call
    assert stats.clamped == 0 and abs(stats.response.get_max_value() - 7_000_000_000) <= 7_000_000


def test_open_loop_start_lag_is_a_histogram_per_operation() -> None:
    recorder = Recorder(["read"], t0_ns=0, warmup_s=0, duration_s=10, open_loop=True)
    stats = recorder.stats[0]
    for lag_us in (10, 20, 40, 2000):
        recorder.record(stats, 1 * NS_PER_S, 1 * NS_PER_S + lag_us * 1000, 1 * NS_PER_S + lag_us * 1000 + MS)
    lag = decode(recorder.result(process=0, complete=True, measured_s=10, cpu_fraction=None).operations["read"].lag_histogram)
    assert lag.get_total_count() == 4
    assert abs(lag.get_max_value() - 2000) <= 2 and abs(lag.get_value_at_percentile(50) - 20) <= 1
