"""The three pictures of an esptool conversation, each drawn into a matplotlib Axes.

- ``timeline``: one row per request name, a bar from each request to its first reply (or
  to the timeout that ended the wait); error replies in red, retries and timeouts marked,
  invalid bytes from the chip on their own row.
- ``latency``: per request name, the median reply latency as a bar and every reply as a dot.
- ``throughput``: payload bytes per second of each FLASH_DATA / FLASH_DEFL_DATA block (and
  of READ_FLASH data), with the running total on a second axis.

esptool prints times to the millisecond, so a bar or a block shorter than 1 ms is drawn
(and counted) as 1 ms and said to be so. :func:`missing` says in words why a kind has
nothing to draw, so the command can refuse instead of plotting an empty frame.
"""

from __future__ import annotations

from statistics import median
from typing import Any

from espmon.plot.trace_data import ERROR, NO_REPLY, OK, SENT, TIMEOUT, WRITE_OPS, TraceData

__all__ = ["TRACE_KINDS", "missing", "draw_timeline", "draw_latency", "draw_throughput", "rows_of", "COLORS"]

TRACE_KINDS = ("timeline", "latency", "throughput")
RESOLUTION = 0.001  # esptool's TRACE +delta has 3 decimals
COLORS = {OK: "tab:blue", ERROR: "tab:red", TIMEOUT: "tab:gray", NO_REPLY: "tab:orange", SENT: "tab:green"}
_LABELS = {OK: "reply ok", ERROR: "error reply", TIMEOUT: "no reply: timed out",
           NO_REPLY: "no reply read by esptool", SENT: "sent, no reply expected"}
INVALID_ROW = "invalid bytes"
_MAX_REGION_LABELS = 8  # more would only overlap


def missing(kind: str, data: TraceData) -> str | None:
    """Why ``kind`` cannot be drawn from ``data`` (None: it can)."""
    if not data.exchanges:
        return "the trace has no requests"
    if data.span <= 0:
        return (f"the trace has no times (every TRACE line says +0.000): --kind {kind} needs esptool's "
                "TRACE +delta times")
    if kind == "latency" and not any(e.latency is not None for e in data.exchanges):
        timeouts = sum(e.status == TIMEOUT for e in data.exchanges)
        return f"no request was answered ({timeouts} timeouts): --kind latency needs replies; try --kind timeline"
    if kind == "throughput" and not data.blocks:
        return ("no FLASH_DATA, FLASH_DEFL_DATA or READ_FLASH data in the trace: --kind throughput needs a "
                "write-flash or read-flash session")
    return None


def rows_of(kind: str, data: TraceData) -> int:
    """How many rows the kind's Axes needs (to size the figure)."""
    if kind == "timeline":
        return len(data.ops()) + bool(data.invalid)
    if kind == "latency":
        return len({e.op for e in data.exchanges if e.latency is not None})
    return 8


def _origin(data: TraceData) -> float:
    times = [e.start for e in data.exchanges] + [m.t for m in data.invalid]
    return min(times) if times else 0.0


def draw_timeline(ax: Any, data: TraceData) -> None:
    from matplotlib.collections import PolyCollection

    t0 = _origin(data)
    ops = data.ops()
    rows = ([INVALID_ROW] if data.invalid else []) + ops
    y = {name: i for i, name in enumerate(rows)}
    minw = max(RESOLUTION, data.span / 800)  # keep the shortest bar visible
    for status in (OK, ERROR, TIMEOUT, NO_REPLY, SENT):
        group = [e for e in data.exchanges if e.status == status]
        if not group:
            continue
        boxes = []
        for e in group:  # one collection per status: thousands of Rectangles would take seconds
            x0, x1 = e.start - t0, e.start - t0 + max((e.end if e.end is not None else e.start) - e.start, minw)
            r = y[e.op]
            boxes.append([(x0, r - 0.3), (x1, r - 0.3), (x1, r + 0.3), (x0, r + 0.3)])
        ax.add_collection(PolyCollection(boxes, facecolors=COLORS[status], edgecolors="none",
                                         label=f"{_LABELS[status]} ({len(group)})", gid=status))
    retries = [e for e in data.exchanges if e.retry]
    if retries:
        ax.scatter([e.start - t0 for e in retries], [y[e.op] for e in retries], marker=">", s=28,
                   color="tab:orange", edgecolors="black", linewidths=0.5, zorder=3,
                   label=f"retry: the same request again ({len(retries)})", gid="retry")
    timeouts = [e for e in data.exchanges if e.status == TIMEOUT]
    if timeouts:
        ax.scatter([e.end - t0 for e in timeouts], [y[e.op] for e in timeouts], marker="x", s=30,
                   color="black", zorder=3, label=f"timeout ({len(timeouts)})", gid="timeout-mark")
    if data.invalid:
        ax.scatter([m.t - t0 for m in data.invalid], [y[INVALID_ROW]] * len(data.invalid), marker="X", s=60,
                   color=COLORS[ERROR], zorder=3, label=f"invalid bytes from the chip ({len(data.invalid)})",
                   gid="invalid")
        first = data.invalid[0]
        ax.annotate(f"{first.text} (line {first.line})", (first.t - t0, y[INVALID_ROW]), xytext=(6, -3),
                    textcoords="offset points", fontsize=8, color=COLORS[ERROR])
    ends = [(e.end if e.end is not None else e.start) - t0 + minw for e in data.exchanges]
    ax.set_xlim(-data.span * 0.01, max(ends + [m.t - t0 for m in data.invalid]) + data.span * 0.01)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.4, -0.6)  # first request on top
    ax.set_xlabel("time since the first request (s)")
    ax.set_ylabel("request")
    ax.set_title(f"Commands: request \u2192 first reply ({len(data.exchanges)} requests; "
                 f"bars under {minw * 1000:.0f} ms drawn {minw * 1000:.0f} ms wide)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)


def draw_latency(ax: Any, data: TraceData) -> None:
    by_op: dict[str, list[tuple[float, str]]] = {}
    timeouts: dict[str, int] = {}
    for e in data.exchanges:
        if e.latency is not None:
            by_op.setdefault(e.op, []).append((max(e.latency, 0.0) * 1000, e.status))
        elif e.status == TIMEOUT:
            timeouts[e.op] = timeouts.get(e.op, 0) + 1
    ops = list(by_op)
    medians = [median(v for v, _ in by_op[op]) for op in ops]
    ax.barh(range(len(ops)), medians, height=0.6, color="tab:blue", alpha=0.45, label="median", gid="median")
    for status, color, label in ((OK, "black", "one reply"), (ERROR, COLORS[ERROR], "error reply")):
        # replies of the same ms would hide each other: spread them a little across the row
        pts = [(v, i + ((j % 7) - 3) * 0.05) for i, op in enumerate(ops)
               for j, (v, s) in enumerate(by_op[op]) if s == status]
        if pts:
            ax.scatter([v for v, _ in pts], [i for _, i in pts], s=12, color=color, zorder=3,
                       label=f"{label} ({len(pts)})", gid=status)
    top = max(v for op in ops for v, _ in by_op[op])
    for i, op in enumerate(ops):
        values = [v for v, _ in by_op[op]]
        note = f"n={len(values)}, max {max(values):.0f} ms"
        if timeouts.get(op):
            note += f", {timeouts[op]} timed out"
        ax.annotate(note, (max(values), i), xytext=(6, -3), textcoords="offset points", fontsize=8)
    ax.set_xlim(0, max(top, 1.0) * 1.35)
    ax.set_yticks(range(len(ops)), ops)
    ax.set_ylim(len(ops) - 0.4, -0.6)
    ax.set_xlabel("latency: request \u2192 first reply (ms; esptool times to 1 ms)")
    ax.set_ylabel("request")
    ax.set_title(f"Reply latency per request ({sum(len(v) for v in by_op.values())} replies)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)


def block_rates(data: TraceData) -> dict[str, list[tuple[float, float, bool, int, int]]]:
    """Per data op: (time s, kB/s, whether the block took under 1 ms, bytes, region) per block.

    A write block's time is its request -> reply; a read block's is since the previous one."""
    t0 = _origin(data)
    series: dict[str, list[tuple[float, float, bool, int, int]]] = {}
    for b in data.blocks:
        took = b.end - b.start
        short = took < RESOLUTION
        series.setdefault(b.op, []).append((b.end - t0, b.size / max(took, RESOLUTION) / 1000, short, b.size,
                                            b.region))
    return series


def _broken(pts: list[tuple], index: int) -> list[float]:
    """One coordinate of the points, with a gap (NaN) where a new flash region starts."""
    out: list[float] = []
    for k, p in enumerate(pts):
        if k and p[4] != pts[k - 1][4]:
            out.append(float("nan"))
        out.append(p[index])
    return out


def draw_throughput(ax: Any, data: TraceData) -> None:
    t0 = _origin(data)
    series = block_rates(data)
    total_ax = ax.twinx()
    colors = {"FLASH_DEFL_DATA": "tab:blue", "FLASH_DATA": "tab:purple", "READ_FLASH": "tab:green"}
    for op, pts in series.items():
        what = {"FLASH_DEFL_DATA": "FLASH_DEFL_DATA (compressed bytes)",
                "READ_FLASH": "READ_FLASH data (from the chip)"}.get(op, op)
        color = colors.get(op, "tab:brown")
        ax.plot(_broken(pts, 0), _broken(pts, 1), marker="o", color=color,
                label=f"{what}: {len(pts)} blocks", gid=op)
        short = [p for p in pts if p[2]]
        if short:
            ax.scatter([p[0] for p in short], [p[1] for p in short], s=70, facecolors="none", edgecolors="black",
                       zorder=3, label="block under 1 ms: at least this fast", gid=f"{op}-short")
        total, running = 0, []
        for p in pts:
            total += p[3]
            running.append(total / 1000)
        total_ax.step([p[0] for p in pts], running, where="post", color=color, linestyle=":", alpha=0.8,
                      label=f"{op} total (kB)")
    if data.regions:
        ax.vlines([r.t - t0 for r in data.regions], 0, 1, transform=ax.get_xaxis_transform(), colors="gray",
                  linestyles="--", linewidth=0.8, label=f"flash region begins ({len(data.regions)})", gid="regions")
    for region in data.regions if len(data.regions) <= _MAX_REGION_LABELS else ():
        ax.annotate(f"{region.what} {region.text}", (region.t - t0, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -10), textcoords="offset points", fontsize=7, color="gray", rotation=0)
    bauds = data.summary.get("baud") or []
    if bauds and any(op in WRITE_OPS or op == "READ_FLASH" for op in series):
        ax.axhline(bauds[-1] / 10 / 1000, color="tab:red", linestyle="-.", linewidth=0.8,
                   label=f"{bauds[-1]} baud: {bauds[-1] / 10 / 1000:.1f} kB/s on the wire")
    top = max(p[1] for pts in series.values() for p in pts)
    if bauds:
        top = max(top, bauds[-1] / 10 / 1000)
    ax.set_ylim(0, top * 1.15)  # the points of a steady write sit on one line: keep them off the frame
    total_ax.set_ylim(bottom=0)
    ax.set_xlabel("time since the first request (s)")
    ax.set_ylabel("throughput (kB/s, payload per block)")
    total_ax.set_ylabel("payload so far (kB)")
    ax.set_title(f"Data throughput ({sum(len(p) for p in series.values())} blocks)", fontsize=10)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = total_ax.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper left", bbox_to_anchor=(1.08, 1), fontsize=8, frameon=False)
