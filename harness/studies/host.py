"""Is the host quiet enough to measure on? Load average against cores, CPU steal, the harness's own CPU.

A selection measured while something else loads the machine ranks the neighbour, not the
engines. `HostWatch` samples the host before the study and after every run of it:
- the 1-minute load average (os.getloadavg) against the cores (os.cpu_count): before the study,
  above the cores is busy; after a run, above the cores plus the run's own processes (its load
  processes and the engine) is busy — the run itself loads the host;
- the share of CPU time stolen by the hypervisor since the previous sample (/proc/stat `steal`,
  proc(5)): above 5% is busy;
- the CPU other processes used: busy CPU time (/proc/stat user + nice + system) minus the CPU time
  of the study's own processes (this process, its descendants — masters, workers — and the native
  engine servers it started, with theirs; /proc/<pid>/stat utime + stime + cutime + cstime), over a
  1-second sample before the study and over each run: above OTHERS_BUSY of the host's CPU is busy.
  The load average alone lags a minute and cannot tell a neighbour from the run's own processes
  (two busy loops on 2 cores raised it to 3.5 while the run's own threshold was 5). Only when every
  engine is one this process started: an engine it only reaches (a URL, a container) may be on
  this host, and its CPU would look like a neighbour's;
- the harness's own CPU, read from the run records: a run invalid with cause "client" (the load
  generator saturated) says the harness was short of CPU.
Each reason is one line naming when it was seen; none means quiet.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness.results.record import RunRecord

__all__ = ["OTHERS_BUSY", "STEAL_BUSY", "HostWatch", "busy_ticks", "cpu_times", "load_average", "tree_ticks"]

STEAL_BUSY = 0.05  # share of CPU time stolen since the previous sample that makes the host busy
OTHERS_BUSY = 0.20  # share of the host's CPU (all cores) used by processes not the study's that makes it busy
BEFORE_SAMPLE_S = 1.0  # how long the host is watched before the study
PROC_STAT = Path("/proc/stat")
PROC = Path("/proc")


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


def busy_ticks() -> int | None:
    """Busy CPU time of the host since boot, clock ticks: user + nice + system of /proc/stat's `cpu` line
    (irq and softirq left out: the run's own network traffic is served there)."""
    try:
        values = [int(v) for v in PROC_STAT.read_text().splitlines()[0].split()[1:4]]
    except (OSError, IndexError, ValueError):
        return None
    return sum(values)


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, utime + stime + cutime + cstime in clock ticks) of every readable process."""
    table = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid ...
        table[int(entry.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    return table


def tree_ticks(roots: set[int]) -> int:
    """CPU time (clock ticks) of `roots` and all their live descendants, with the children they reaped.

    A process's cutime/cstime hold its reaped children, which are no longer in the table: nothing is
    counted twice.
    """
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seen, stack = set(), [pid for pid in roots if pid in table]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack += children.get(pid, ())
    return sum(table[pid][1] for pid in seen)


class HostWatch:
    """Samples the host; `reasons` collects one line per time it was seen busy.

    `own(pid)` adds a process (a native engine server this study started) to the study's own; after
    `others_unknown()` (an engine this process did not start) the others' CPU is not judged.
    """

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self._times = cpu_times()
        self._roots = {os.getpid()}
        self._judge_others = busy_ticks() is not None
        self._others_mark = self._others_sample()

    def own(self, pid: int) -> None:
        """`pid` (and its descendants) is the study's: an engine server it started."""
        self._roots.add(pid)
        self._others_mark = self._others_sample()

    def others_unknown(self) -> None:
        """An engine this study does not own runs, maybe on this host: the others' CPU is not judged."""
        self._judge_others = False

    def _others_sample(self) -> tuple[float, int, int] | None:
        busy = busy_ticks()
        return None if busy is None else (time.monotonic(), busy, tree_ticks(self._roots))

    def _others(self, when: str) -> None:
        """Busy if processes not the study's used more than OTHERS_BUSY of the CPU since the last sample."""
        now, mark = self._others_sample(), self._others_mark
        self._others_mark = now
        if not self._judge_others or now is None or mark is None or now[0] - mark[0] < 0.5:
            return
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        capacity = (now[0] - mark[0]) * hz * (os.cpu_count() or 1)
        others = max(0, (now[1] - mark[1]) - (now[2] - mark[2])) / capacity
        if others > OTHERS_BUSY:
            self.reasons.append(f"{when}: other processes used {others:.0%} of the host's CPU "
                                f"(limit {OTHERS_BUSY:.0%})")

    def _steal(self, when: str) -> None:
        now = cpu_times()
        if now is not None and self._times is not None and now[1] > self._times[1]:
            share = (now[0] - self._times[0]) / (now[1] - self._times[1])
            if share > STEAL_BUSY:
                self.reasons.append(f"{when}: {share:.0%} of CPU time stolen by the hypervisor")
        self._times = now

    def before(self, sample_s: float = BEFORE_SAMPLE_S) -> None:
        """Sample before anything runs: any load above the cores is someone else's, and so is the CPU
        busy over `sample_s` seconds now (the load average lags a minute)."""
        load1, cores = load_average()
        if load1 > cores:
            self.reasons.append(f"before the study: load average {load1:.1f} on {cores} cores")
        self._others_mark = self._others_sample()
        time.sleep(sample_s)
        self._others("before the study")
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
        self._others(when)
        self._steal(when)
        if client and "client" in tuple(getattr(record, "invalid_causes", ()) or ()):
            self.reasons.append(f"{when}: the harness was short of CPU (load generator saturated)")

    @property
    def busy(self) -> bool:
        return bool(self.reasons)
