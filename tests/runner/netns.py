"""Test hosts made of network namespaces: a private LAN, processes on its hosts, a delay proxy.

A `Lan` is a Linux bridge in a namespace of its own (the switch) and one namespace per host,
each joined to the switch by a veth pair created directly between the two namespaces. The
addresses (10.251.0.<n>/24) exist only inside these namespaces: the root namespace gets no
device, no address and no route. Every name carries one random suffix, so runs in parallel
never meet. `close()` stops the processes the hosts started (by PID), then any process left
inside one of these namespaces (only this Lan can have put it there), then deletes exactly the
namespaces it created, which removes their veths and the bridge with them.

This kernel has no netem qdisc, so a path is slowed by a proxy in the slow host's namespace:

    python -m tests.runner.netns proxy --listen HOST:PORT --to HOST:PORT --delay-ms N [--lifetime-s S]

forwards TCP to `--to`, waiting N ms before passing each chunk the client sends (replies pass
at once): a protocol with one request in flight per connection pays N ms per request. It
prints "ready" once listening and exits after `--lifetime-s` at the latest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

SUBNET = "10.251.0"  # used only inside namespaces made here
STOP_GRACE_S = 5.0


class NetnsError(Exception):
    """A namespace, link or address could not be made: the message says which command failed."""


def ip(*args: str) -> str:
    """Run `ip ARGS`; NetnsError with its stderr when it fails."""
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"`ip {' '.join(args)}`: {exc}") from exc
    if done.returncode != 0:
        raise NetnsError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


def stop_process(proc: subprocess.Popen[Any], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM, then SIGKILL after `grace_s`: one process, by its PID."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace_s)


@dataclass
class Host:
    """One namespace on the LAN: its address, and the processes started in it."""

    ns: str
    address: str
    veth: str
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside this host (`ip netns exec` execs it: the PID is the program's own)."""
        return ["ip", "netns", "exec", self.ns, *argv]

    def start(self, argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
        """Start `argv` in this host; it is stopped by `Lan.close()` if still running."""
        proc = subprocess.Popen(self.command(argv), **popen)
        self.procs.append(proc)
        return proc

    def run(self, argv: Sequence[str], timeout_s: float = 15.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout_s)

    def sysctl(self, path: str, value: str) -> None:
        """Write a per-namespace kernel setting (/proc/sys/<path>) as seen from this host."""
        done = self.run(["sh", "-c", f"echo {value} > /proc/sys/{path}"])
        if done.returncode != 0:
            raise NetnsError(f"/proc/sys/{path} = {value} in {self.ns}: {done.stderr.strip()}")

    def claim(self, address: str) -> None:
        """Make `address` (another host's) local to this host: its traffic to it stays inside.

        The address goes on `lo`; ARP is restricted so that this host never answers for it
        on the LAN nor announces it (arp_ignore=1, arp_announce=2): the other hosts still
        reach the real owner.
        """
        for scope in ("all", self.veth):
            self.sysctl(f"net/ipv4/conf/{scope}/arp_ignore", "1")
            self.sysctl(f"net/ipv4/conf/{scope}/arp_announce", "2")
        ip("-n", self.ns, "addr", "add", f"{address}/32", "dev", "lo")


class Lan:
    """A switch namespace with a bridge, and hosts joined to it; a context manager."""

    def __init__(self) -> None:
        self.suffix = secrets.token_hex(3)
        self.namespaces: list[str] = []  # what this Lan created, deleted by name on close
        self.hosts: dict[str, Host] = {}
        self.switch = ""

    def __enter__(self) -> Lan:
        try:
            self.switch = self._netns("sw")
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _netns(self, name: str) -> str:
        ns = f"dba-{self.suffix}-{name}"
        ip("netns", "add", ns)
        self.namespaces.append(ns)
        ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def host(self, name: str, octet: int, *extra_octets: int) -> Host:
        """A host named `name` at 10.251.0.<octet>/24 (and further addresses on the same link)."""
        ns = self._netns(name)
        veth, port = f"h{self.suffix}{octet}", f"p{self.suffix}{octet}"
        ip("link", "add", veth, "netns", ns, "type", "veth", "peer", "name", port, "netns", self.switch)
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        host = Host(ns=ns, address=f"{SUBNET}.{octet}", veth=veth)
        for n in (octet, *extra_octets):
            ip("-n", ns, "addr", "add", f"{SUBNET}.{n}/24", "dev", veth)
        ip("-n", ns, "link", "set", veth, "up")
        self.hosts[name] = host
        return host

    def close(self) -> None:
        """Stop every process started here (by PID), then delete the namespaces this Lan made."""
        for host in self.hosts.values():
            for proc in reversed(host.procs):
                stop_process(proc)
        for ns in reversed(self.namespaces):
            for pid in _pids_in(ns):  # e.g. a child of a stopped process: only ours can be in our namespace
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                ip("netns", "del", ns)
            except NetnsError as exc:
                print(f"netns cleanup: {exc}", file=sys.stderr)
        self.namespaces.clear()


def _pids_in(ns: str) -> list[int]:
    try:
        return [int(pid) for pid in ip("netns", "pids", ns).split()]
    except NetnsError:
        return []


class Lines:
    """A process's output lines, read by a thread, so that waiting for one is bounded in time."""

    def __init__(self, stream: IO[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def wait_for(self, marker: str, timeout_s: float) -> str:
        """The first line from now on containing `marker`; NetnsError after `timeout_s` or at EOF."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.queue.put(None)  # EOF stays visible to the next wait
                break
            self.seen.append(line)
            if marker in line:
                return line
        raise NetnsError(f"no line with {marker!r} within {timeout_s:.0f}s; last lines: {self.seen[-5:]}")


# ---- the delay proxy -----------------------------------------------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    try:
        while data := await reader.read(65536):
            if delay_s:
                await asyncio.sleep(delay_s)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _proxy(listen: tuple[str, int], to: tuple[str, int], delay_s: float, lifetime_s: float) -> None:
    async def connection(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*to)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, server_w, delay_s), _pipe(server_r, client_w, 0.0))

    server = await asyncio.start_server(connection, *listen)
    print("ready", flush=True)
    async with server:
        await asyncio.sleep(lifetime_s)


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.runner.netns")
    commands = parser.add_subparsers(dest="command", required=True)
    proxy = commands.add_parser("proxy", help="a TCP proxy adding a delay to each chunk towards the server")
    proxy.add_argument("--listen", required=True, type=_address)
    proxy.add_argument("--to", required=True, type=_address)
    proxy.add_argument("--delay-ms", type=float, default=0.0)
    proxy.add_argument("--lifetime-s", type=float, default=300.0)
    args = parser.parse_args(argv)
    asyncio.run(_proxy(args.listen, args.to, args.delay_ms / 1000, args.lifetime_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
