"""The recorder: warm-up excluded, open-loop latency from the intended start, lag counted."""

from __future__ import annotations

from harness.metrics.histogram import decode
from harness.runner import protocol
from harness.runner.pacing import NS_PER_S
from harness.runner.recorder import Recorder

MS = 1_000_000


def test_warmup_is_kept_apart_and_closed_loop_latency_is_service_time() -> None:
    recorder = Recorder(["read"], t0_ns=0, warmup_s=1, duration_s=2, open_loop=False)
    stats = recorder.stats[0]
    recorder.record(stats, 0, 100 * MS, 105 * MS)  # during warm-up
    recorder.record(stats, 0, 1500 * MS, 1502 * MS)  # measured: 2 ms
    recorder.record(stats, 0, 2990 * MS, 3100 * MS)  # ends after the window: dropped
    assert stats.count == 1
    assert stats.warmup.get_total_count() == 1
    assert stats.response.get_max_value() == 2000 - 0 or abs(stats.response.get_max_value() - 2000) <= 2


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
        recorder.record_error(stats, 5 * NS_PER_S, ConnectionError("engine gone"))
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
