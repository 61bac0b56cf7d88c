"""HdrHistogram in microseconds, 3 significant digits: recorded, encoded, merged exactly."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from harness.models import Frozen

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: the least ceiling; a run's recorder raises it to the run's length
SIGNIFICANT_DIGITS = 3


def new_histogram(highest_us: int = HIGHEST_US) -> HdrHistogram:
    """An empty histogram of 1 µs .. `highest_us` (values above are the recorder's to clamp and count)."""
    return HdrHistogram(LOWEST_US, max(HIGHEST_US, highest_us), SIGNIFICANT_DIGITS)


def ceiling_us(*seconds: float) -> int:
    """The histogram ceiling (µs) for a run whose phases last `seconds` in all (warm-up, window, drain, timeout).

    No latency measured in such a run can exceed their sum; the ceiling is at least HIGHEST_US.
    """
    return max(HIGHEST_US, int(sum(seconds) * 1_000_000) + 1)


def encode(histogram: HdrHistogram) -> str:
    """Compressed, base64 HDR encoding (the standard interchange form)."""
    return str(histogram.encode().decode("ascii"))


def decode(encoded: str) -> HdrHistogram:
    """An encoded histogram ("" is an empty one), its ceiling at least HIGHEST_US."""
    return merge([encoded])


def merge(encoded: list[str]) -> HdrHistogram:
    """One histogram holding every count of the given ones (exact, no re-binning), up to the highest ceiling."""
    parts = [HdrHistogram.decode(item.encode("ascii")) for item in encoded if item]
    total = new_histogram(max((p.highest_trackable_value for p in parts), default=HIGHEST_US))
    for part in parts:
        total.add(part)
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
