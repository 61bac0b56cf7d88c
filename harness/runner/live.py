"""The live page of a run (`--web`): per-operation throughput and latency while it runs.

Served by the run's master (a gevent process) from gevent.pywsgi in its own greenlets, fed
once a second with a LiveSnapshot built from dbarena's own HDR histograms (the workers'
per-second histograms merged exactly), never from Locust's rounded statistics.

Routes (127.0.0.1 by default; nothing is fetched from outside: the machine may be offline):
- `/`            one self-contained HTML page (inline CSS, JS and SVG) that polls `/stats.json`
                 every second: phase, the phase's own elapsed/total (warm-up and measurement each
                 their own clock: `phase_elapsed_s`/`phase_total_s`), a table of the last complete
                 second per operation (errors highlighted), ops/s and p99 over time per operation;
- `/stats.json`  `{"snapshot": LiveSnapshot | null, "history": {op: {"t": [s], "ops_s": [ops/s],
                 "p99_us": [µs | null], "errors": [count]}}, "phases": [[t (s), phase], ...]}`, at most
                 HISTORY_S points per operation; `phases` gives where each phase began on the same clock.

The server never writes to stdout (the master's stdout carries the protocol to the parent).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal

from hdrh.histogram import HdrHistogram

from harness.models import Frozen

if TYPE_CHECKING:
    from gevent.pywsgi import WSGIServer

HISTORY_S = 600  # points kept per operation (one a second: the last ten minutes)
STOP_TIMEOUT_S = 2.0

Phase = Literal["loading", "warm-up", "measure", "done"]
StartResponse = Callable[[str, list[tuple[str, str]]], object]

log = logging.getLogger(__name__)


class LiveOperation(Frozen):
    """One operation in the last complete second: throughput (ops/s), errors (count), latency (µs)."""

    ops_s: float
    errors: int
    p50_us: int | None  # None when no operation succeeded in the second
    p99_us: int | None
    max_us: int | None

    @classmethod
    def of(cls, count: int, errors: int, histogram: HdrHistogram, seconds: float = 1.0) -> LiveOperation:
        """From one second's counts and its merged HDR histogram (µs) over `seconds` seconds."""
        empty = histogram.get_total_count() == 0
        return cls(ops_s=count / seconds if seconds > 0 else 0.0, errors=errors,
                   p50_us=None if empty else int(histogram.get_value_at_percentile(50)),
                   p99_us=None if empty else int(histogram.get_value_at_percentile(99)),
                   max_us=None if empty else int(histogram.get_max_value()))


class LiveSnapshot(Frozen):
    """The run as it stands: identity, phase, clock (s) and the last complete second per operation."""

    run: str
    engine: str
    workload: str
    phase: Phase
    elapsed_s: float  # seconds into the phase's clock (warm-up and measure share one, from warm-up start)
    total_s: float  # the same clock's planned end (0 when unknown, e.g. while loading)
    phase_elapsed_s: float = 0.0  # seconds into this phase alone (warm-up and measure each have their own clock)
    phase_total_s: float = 0.0  # this phase's planned length (0 when unknown, e.g. while loading)
    operations: dict[str, LiveOperation]


class History:
    """Per-operation series, one point per snapshot time, at most `limit` points each, and the phase changes."""

    def __init__(self, limit: int = HISTORY_S) -> None:
        self.limit = limit
        self.series: dict[str, deque[tuple[float, float, int | None, int]]] = {}
        self.phases: deque[tuple[float, str]] = deque(maxlen=16)  # (t, phase) where a phase began
        self.last_t: float | None = None

    def add(self, snapshot: LiveSnapshot) -> None:
        """Append the snapshot's second; a clock that went back (a new phase clock) starts afresh."""
        t = snapshot.elapsed_s
        if self.last_t is not None and t < self.last_t:
            self.series.clear()
            self.phases.clear()
        self.last_t = t
        if not self.phases or self.phases[-1][1] != snapshot.phase:
            self.phases.append((t, snapshot.phase))
        for name, op in snapshot.operations.items():
            points = self.series.setdefault(name, deque(maxlen=self.limit))
            point = (t, op.ops_s, op.p99_us, op.errors)
            if points and points[-1][0] == t:
                points[-1] = point
            else:
                points.append(point)

    def to_data(self) -> dict[str, dict[str, list[float | int | None]]]:
        """Column form: {op: {"t": [...], "ops_s": [...], "p99_us": [...], "errors": [...]}}."""
        data: dict[str, dict[str, list[float | int | None]]] = {}
        for name, points in self.series.items():
            data[name] = {"t": [p[0] for p in points], "ops_s": [p[1] for p in points],
                          "p99_us": [p[2] for p in points], "errors": [p[3] for p in points]}
        return data


class LiveView:
    """The live page's server: `start()` once, `update()` every second, `stop()` at the end."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.snapshot: LiveSnapshot | None = None
        self.history = History()
        self._server: WSGIServer | None = None
        self._json: bytes | None = None  # /stats.json, built once per update

    def start(self) -> str:
        """Bind and serve in background greenlets; the page's URL (the bound port when `port` is 0)."""
        from gevent.pywsgi import WSGIServer  # here: importing the models must not import gevent

        if self._server is None:
            self._server = WSGIServer((self.host, self.port), self._app, log=None, error_log=log)
            self._server.start()
            self.port = int(self._server.server_port)
        return self.url

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def update(self, snapshot: LiveSnapshot) -> None:
        """Keep the snapshot as the last one and add its second to the history."""
        self.snapshot = snapshot
        self.history.add(snapshot)
        self._json = None

    def stop(self) -> None:
        """Close the listening socket and end open requests (bounded by STOP_TIMEOUT_S)."""
        if self._server is not None:
            self._server.stop(timeout=STOP_TIMEOUT_S)
            self._server = None

    def stats(self) -> bytes:
        """The body of /stats.json."""
        if self._json is None:
            data = {"snapshot": None if self.snapshot is None else self.snapshot.model_dump(mode="json"),
                    "history": self.history.to_data(), "phases": [list(p) for p in self.history.phases]}
            self._json = json.dumps(data, separators=(",", ":")).encode("utf-8")
        return self._json

    def _app(self, environ: dict[str, object], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _respond(start_response, "405 Method Not Allowed", "text/plain; charset=utf-8", b"GET only\n")
        if path == "/":
            return _respond(start_response, "200 OK", "text/html; charset=utf-8", PAGE.encode("utf-8"))
        if path == "/stats.json":
            return _respond(start_response, "200 OK", "application/json", self.stats())
        return _respond(start_response, "404 Not Found", "text/plain; charset=utf-8", b"not found\n")


def _respond(start_response: StartResponse, status: str, content_type: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")])
    return [body]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dbarena live</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:1150px;margin:0 auto;padding:16px 24px}
h1{font-size:20px;margin:0 0 4px}
.sub{color:#555;margin-bottom:12px}
.phase{display:inline-block;padding:2px 10px;border-radius:10px;background:#dde4ee;font-weight:600}
.phase.measure{background:#cdebd3}.phase.warm-up{background:#fbe7c2}.phase.done{background:#d9d9d9}
.bar{height:8px;background:#dde1e6;border-radius:4px;overflow:hidden;margin:8px 0 16px}
.bar div{height:100%;background:#3b7dd8;width:0}
table{border-collapse:collapse;background:#fff;min-width:640px;margin-bottom:16px}
th,td{padding:6px 14px;border-bottom:1px solid #e3e6ea;text-align:right;font-variant-numeric:tabular-nums}
th:first-child,td:first-child{text-align:left}
th{background:#eef1f4;font-weight:600}
tr.err td{background:#fde2e1}tr.err td.errors{color:#b3261e;font-weight:700}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart{background:#fff;border:1px solid #e3e6ea;padding:8px}
.chart h2{font-size:14px;margin:0 0 4px}
svg text{font:11px system-ui,sans-serif;fill:#555}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:3px;vertical-align:middle;margin-right:4px}
.legend i.dot{background:#c8372d;width:7px;height:7px;border-radius:4px}
#status{color:#555;font-size:12px}#status.lost{color:#b3261e}
</style></head>
<body><main>
<h1>dbarena live: <span id="run">waiting for the run</span></h1>
<div class="sub"><span id="what"></span> &middot; <span class="phase" id="phase">-</span>
 &middot; <span id="clock">-</span> &middot; <span id="status">connecting</span></div>
<div class="bar"><div id="progress"></div></div>
<table id="ops"><thead><tr><th>operation</th><th>ops/s</th><th>errors + timeouts</th><th>p50</th><th>p99</th><th>max</th>
</tr></thead><tbody></tbody></table>
<div class="legend"><span id="legend"></span><span><i class="dot"></i>a second with errors</span></div>
<div class="charts">
<div class="chart"><h2>throughput (ops/s)</h2><svg id="chart-ops" width="540" height="260"></svg></div>
<div class="chart"><h2>p99 latency</h2><svg id="chart-p99" width="540" height="260"></svg></div>
</div>
</main>
<script>
"use strict";
const COLORS = ["#3b7dd8", "#e07b20", "#2e9e4f", "#c8372d", "#8a5cc2", "#8c6d31", "#d45fa6", "#5f6b7a"];
const NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
function us(v) {
  if (v === null || v === undefined) return "-";
  if (v < 1000) return v.toFixed(0) + " \\u00b5s";
  if (v < 1e6) return (v / 1000).toFixed(2) + " ms";
  return (v / 1e6).toFixed(2) + " s";
}
function rate(v) { return v >= 100 || v === 0 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1); }
function clock(s) {
  s = Math.max(0, Math.floor(s));
  return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}
function cell(row, text, cls) {
  const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; row.appendChild(td);
}
function table(ops) {
  const body = $("ops").tBodies[0]; body.replaceChildren();
  for (const name of Object.keys(ops).sort()) {
    const o = ops[name], tr = document.createElement("tr");
    tr.dataset.op = name; if (o.errors > 0) tr.className = "err";
    cell(tr, name, "name"); cell(tr, rate(o.ops_s), "ops_s"); cell(tr, String(o.errors), "errors");
    cell(tr, us(o.p50_us), "p50"); cell(tr, us(o.p99_us), "p99"); cell(tr, us(o.max_us), "max");
    body.appendChild(tr);
  }
}
function el(parent, tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  parent.appendChild(e); return e;
}
function nice(top) {
  const raw = top / 4, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}
function shade(svg, phases, x, t0, t1, y0, y1) {
  phases.forEach(([t, phase], i) => {
    if (phase !== "warm-up") return;
    const a = Math.max(t0, t), b = Math.min(t1, i + 1 < phases.length ? phases[i + 1][0] : t1);
    if (b <= a) return;
    el(svg, "rect", {x: x(a), y: y1, width: x(b) - x(a), height: y0 - y1, fill: "#fbe7c2", opacity: 0.6});
    el(svg, "text", {x: x(a) + 4, y: y1 + 12}, "warm-up");
  });
}
function chart(svg, history, phases, key, fmt) {
  svg.replaceChildren();
  const W = +svg.getAttribute("width"), H = +svg.getAttribute("height"), L = 64, R = 12, T = 8, B = 24;
  const names = Object.keys(history).sort();
  let t0 = Infinity, t1 = -Infinity, top = 0;
  for (const n of names) {
    const h = history[n];
    for (let i = 0; i < h.t.length; i++) {
      t0 = Math.min(t0, h.t[i]); t1 = Math.max(t1, h.t[i]);
      if (h[key][i] !== null) top = Math.max(top, h[key][i]);
    }
  }
  if (!isFinite(t0)) { el(svg, "text", {x: L, y: H / 2}, "no data yet"); return; }
  if (t1 <= t0) t1 = t0 + 1;
  const step = nice(top > 0 ? top : 1); top = Math.ceil((top > 0 ? top : 1) / step) * step;
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R), y = (v) => H - B - v / top * (H - T - B);
  shade(svg, phases, x, t0, t1, y(0), y(top));
  for (let v = 0; v <= top + step / 2; v += step) {
    el(svg, "line", {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e3e6ea"});
    el(svg, "text", {x: L - 6, y: y(v) + 4, "text-anchor": "end"}, fmt(v));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (t1 - t0) * i / 4;
    el(svg, "text", {x: x(t), y: H - 6, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle"}, clock(t));
  }
  names.forEach((n, k) => {
    const h = history[n]; let d = "", pen = "M";
    for (let i = 0; i < h.t.length; i++) {
      if (h[key][i] === null) { pen = "M"; continue; }
      d += pen + x(h.t[i]).toFixed(1) + "," + y(h[key][i]).toFixed(1) + " "; pen = "L";
    }
    if (d) el(svg, "path", {d: d, fill: "none", stroke: COLORS[k % COLORS.length], "stroke-width": 2, "data-op": n});
    for (let i = 0; i < h.t.length; i++) {  // seconds with errors: a red mark on the line
      if (h.errors[i] > 0 && h[key][i] !== null) {
        const mark = el(svg, "circle", {cx: x(h.t[i]), cy: y(h[key][i]), r: 3.5, fill: "#c8372d", class: "error"});
        el(mark, "title", {}, n + ": " + h.errors[i] + " errors at " + clock(h.t[i]));
      }
    }
  });
}
function legend(names) {
  const box = $("legend"); box.replaceChildren();  // one color per operation, as in the charts
  names.sort().forEach((n, k) => {
    const s = document.createElement("span"), i = document.createElement("i");
    i.style.background = COLORS[k % COLORS.length]; s.appendChild(i); s.appendChild(document.createTextNode(n));
    box.appendChild(s);
  });
}
function show(data) {
  const s = data.snapshot;
  if (!s) return;
  $("run").textContent = s.run; $("what").textContent = s.engine + " \\u00b7 " + s.workload;
  $("phase").textContent = s.phase; $("phase").className = "phase " + s.phase;
  $("clock").textContent = clock(s.phase_elapsed_s) + (s.phase_total_s > 0 ? " / " + clock(s.phase_total_s) : "");
  $("progress").style.width = (s.total_s > 0 ? Math.min(100, 100 * s.elapsed_s / s.total_s) : 0) + "%";
  table(s.operations); legend(Object.keys(data.history));
  chart($("chart-ops"), data.history, data.phases, "ops_s", (v) => rate(v));
  chart($("chart-p99"), data.history, data.phases, "p99_us", us);
}
let failures = 0;
async function poll() {
  const abort = new AbortController(), timer = setTimeout(() => abort.abort(), 3000);
  let done = false;
  try {
    const r = await fetch("stats.json", {cache: "no-store", signal: abort.signal});
    const data = await r.json(); show(data); failures = 0;
    done = data.snapshot !== null && data.snapshot.phase === "done";
    $("status").textContent = done ? "run finished" : "updated " + new Date().toLocaleTimeString();
    $("status").className = "";
  } catch (e) {
    failures += 1;
    $("status").textContent = "no answer from the run (it may have ended)"; $("status").className = "lost";
  } finally { clearTimeout(timer); }
  if (!done && failures < 600) setTimeout(poll, 1000);
}
poll();
</script>
</body></html>
"""
