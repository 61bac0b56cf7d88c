"""Is the host quiet enough to measure on? Load average against cores, CPU steal, the harness's own CPU.

A selection measured while something else loads the machine ranks the neighbour, not the
engines. `HostWatch` samples the host before the study and after every run of it:
- the 1-minute load average (os.getloadavg) against the cores (os.cpu_count): before the study,
  above the cores is busy; after a run, above the cores plus the run's own processes (its load
  processes and the engine) is busy — the run itself loads the host;
- the share of CPU time stolen by the hypervisor since the previous sample (/proc/stat `steal`,
  proc(5)): above 5% is busy;
- the harness's own CPU, read from the run records: a run invalid with cause "client" (the load
  generator saturated) says the harness was short of CPU.
Each reason is one line naming when it was seen; none means quiet.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.results.record import RunRecord

__all__ = ["STEAL_BUSY", "HostWatch", "cpu_times", "load_average"]

STEAL_BUSY = 0.05  # share of CPU time stolen since the previous sample that makes the host busy
PROC_STAT = Path("/proc/stat")


def load_average() -> tuple[float, int]:
    """(1-minute load average, cores); (0, cores) where the platform has no load average."""
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        load1 = 0.0
    return load1, os.cpu_count() or 1


def cpu_times() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs since boot from /proc/stat's `cpu` line; None without /proc/stat."""
    try:
        first = PROC_STAT.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(v) for v in first[1:]]
    steal = values[7] if len(values) > 7 else 0
    return steal, sum(values[:8])


class HostWatch:
    """Samples the host; `reasons` collects one line per time it was seen busy."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self._times = cpu_times()

    def _steal(self, when: str) -> None:
        now = cpu_times()
        if now is not None and self._times is not None and now[1] > self._times[1]:
            share = (now[0] - self._times[0]) / (now[1] - self._times[1])
            if share > STEAL_BUSY:
                self.reasons.append(f"{when}: {share:.0%} of CPU time stolen by the hypervisor")
        self._times = now

    def before(self) -> None:
        """Sample before anything runs: any load above the cores is someone else's."""
        load1, cores = load_average()
        if load1 > cores:
            self.reasons.append(f"before the study: load average {load1:.1f} on {cores} cores")
        self._steal("before the study")

    def after(self, record: RunRecord, own_processes: int, client: bool = True) -> None:
        """Sample after `record`'s run; `own_processes` is what the run itself ran (load processes + engine).

        `client`: a record invalid with cause "client" says the harness was short of CPU (off for capacity
        steps, where the load generator reaching its limit is the client-bound result, said as such)."""
        when = f"during run {record.run_id}"
        load1, cores = load_average()
        if load1 > cores + own_processes:
            self.reasons.append(f"{when}: load average {load1:.1f} on {cores} cores "
                                f"(the run itself accounts for about {own_processes})")
        self._steal(when)
        if client and "client" in tuple(getattr(record, "invalid_causes", ()) or ()):
            self.reasons.append(f"{when}: the harness was short of CPU (load generator saturated)")

    @property
    def busy(self) -> bool:
        return bool(self.reasons)
