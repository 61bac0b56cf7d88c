"""HdrHistogram in microseconds, 3 significant digits: recorded, encoded, merged exactly."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from harness.models import Frozen

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: nothing a benchmark measures is longer
SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def encode(histogram: HdrHistogram) -> str:
    """Compressed, base64 HDR encoding (the standard interchange form)."""
    return str(histogram.encode().decode("ascii"))


def decode(encoded: str) -> HdrHistogram:
    histogram = new_histogram()
    if encoded:
        histogram.add(HdrHistogram.decode(encoded.encode("ascii")))
    return histogram


def merge(encoded: list[str]) -> HdrHistogram:
    """One histogram holding every count of the given ones (exact, no re-binning)."""
    total = new_histogram()
    for item in encoded:
        if item:
            total.add(HdrHistogram.decode(item.encode("ascii")))
    return total


class Percentiles(Frozen):
    """Latency percentiles in microseconds (the run record's `latency_us` / `service_us`)."""

    p50: int
    p90: int
    p99: int
    p999: int
    max: int
    mean: float

    @classmethod
    def of(cls, histogram: HdrHistogram) -> Percentiles | None:
        """The percentiles of an HDR histogram in µs, None when it is empty."""
        if histogram.get_total_count() == 0:
            return None
        return cls(
            p50=int(histogram.get_value_at_percentile(50)),
            p90=int(histogram.get_value_at_percentile(90)),
            p99=int(histogram.get_value_at_percentile(99)),
            p999=int(histogram.get_value_at_percentile(99.9)),
            max=int(histogram.get_max_value()),
            mean=round(float(histogram.get_mean_value()), 1),
        )


def percentile_distribution(histogram: HdrHistogram) -> list[tuple[float, int]]:
    """(percentile, µs) points for a percentile-distribution plot (log-spaced tail)."""
    points = [50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0]
    return [(p, int(histogram.get_value_at_percentile(p))) for p in points]
