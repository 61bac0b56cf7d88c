"""HdrHistogram in microseconds, 3 significant digits: recorded, encoded, merged exactly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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


def record_many(histogram: HdrHistogram, values: Sequence[int] | np.ndarray) -> None:
    """Record every value of `values` (µs, ints) once: the same counts as `record_value` on each, vectorised.

    Computes HdrHistogram's counts index for all values at once (numpy) and adds the counts into the
    histogram's own counts array, so recording a second's worth of latencies is one C pass instead
    of a Python call per value (about a microsecond each). Values below 0 or above the histogram's
    range are skipped, as `record_value` skips them. The index is hdrh's `_counts_index_for`:
    bucket = bit_length(v | sub_bucket_mask) − unit_magnitude − (sub_bucket_half_count_magnitude + 1),
    sub-bucket = v >> (bucket + unit_magnitude), index = ((bucket + 1) << half_magnitude) + sub − half_count
    (HdrHistogram, G. Tene; the same layout in every port).
    """
    array = np.asarray(values, dtype=np.int64)
    array = array[array >= 0]
    if not array.size:
        return
    h = histogram
    _, bit_length = np.frexp((array | h.sub_bucket_mask).astype(np.float64))  # exact below 2**53
    bucket = bit_length.astype(np.int64) - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub_bucket = array >> (bucket + h.unit_magnitude)
    index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub_bucket - h.sub_bucket_half_count
    inside = index < h.counts_len
    if not inside.all():
        array, index = array[inside], index[inside]
        if not array.size:
            return
    counts = np.ctypeslib.as_array(h.counts)
    counts += np.bincount(index, minlength=h.counts_len).astype(counts.dtype)
    h.total_count += int(array.size)
    h.min_value = min(h.min_value, int(array.min()))
    h.max_value = max(h.max_value, int(array.max()))


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
