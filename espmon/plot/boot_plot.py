"""The boot timeline of a device log, drawn into a matplotlib Axes.

One row per log tag (bootloader tags first), one tick per ESP-IDF log line at its
timestamp, coloured by level as idf.py monitor colours them. ESP-IDF timestamps restart
at every reset, so the boots are laid end to end: each starts at a dashed line naming its
reset, its stages (ROM, second-stage bootloader, app) are shaded, and what ended it is a
red cross on the top row, labelled with the panic cause or error.
"""

from __future__ import annotations

from typing import Any

from espmon.plot.boot_data import BootData

__all__ = ["missing", "draw_boot", "CRASH_ROW", "CRASH_COLOR", "layout"]

CRASH_ROW = "crash / boot error"
CRASH_COLOR = "tab:red"
LEVEL_COLORS = {"E": "tab:red", "W": "goldenrod", "I": "tab:green", "D": "tab:gray", "V": "silver"}
LEVEL_NAMES = {"E": "error", "W": "warning", "I": "info", "D": "debug", "V": "verbose"}
PRE_LOG = "ROM and bootloader (no log)"
STAGE_COLORS = {"ROM": "0.85", PRE_LOG: "0.85", "bootloader": "tab:cyan", "app": "tab:olive"}
_MAX_LABELS = 12  # crash and reset labels drawn before they would only overlap


def missing(data: BootData) -> str | None:
    if data.points:
        return None
    resets = [b.line for b in data.boots if b.reset]
    at = ", ".join(map(str, resets[:5])) + (", ..." if len(resets) > 5 else "")
    seen = (f" ({len(resets)} reset{'s' * (len(resets) > 1)}, at line{'s' * (len(resets) > 1)} {at})"
            if resets else "")
    return ("the device log has no ESP-IDF log timestamps (`I (1234) tag: ...`)" + seen
            + ": --kind boot needs them")


def layout(data: BootData) -> list[tuple[float, float]]:
    """(offset, width) in ms of each boot on the shared axis: laid end to end with a gap."""
    longest = max((b.end_ms - b.origin_ms for b in data.boots), default=0.0)
    gap = max(longest * 0.04, 5.0)
    spans, x = [], 0.0
    for boot in data.boots:
        width = max(boot.end_ms - boot.origin_ms, gap)
        spans.append((x, width))
        x += width + gap
    return spans


def draw_boot(ax: Any, data: BootData) -> None:
    from matplotlib.collections import PolyCollection

    tags = data.tags()
    rows = [CRASH_ROW, *tags]
    y = {name: i for i, name in enumerate(rows)}
    spans = layout(data)
    by_level: dict[str, tuple[list[float], list[int]]] = {}
    stage_boxes: dict[str, list[tuple[float, float]]] = {}
    reset_x: dict[str, list[float]] = {"reset": [], "log-start": []}
    crash_x: list[float] = []
    crash_labels: list[tuple[float, str]] = []
    for k, (boot, (left, width)) in enumerate(zip(data.boots, spans)):
        x0 = left - boot.origin_ms  # where this boot's 0 ms lies on the shared axis
        for p in boot.points:
            xs, ys = by_level.setdefault(p.level, ([], []))
            xs.append(x0 + p.ms)
            ys.append(y[p.tag])
        # stages: the ROM until the first log time, then the bootloader, then the app
        first = boot.first_ms("bootloader")
        app = boot.first_ms("app")
        # without bootloader lines (a silent bootloader, Arduino) the first span is more than the ROM
        pre = "ROM" if first is not None else PRE_LOG
        starts = [(pre, 0.0 if boot.seen_start else None), ("bootloader", first), ("app", app)]
        starts = [(s, t) for s, t in starts if t is not None]
        for (stage, t), nxt in zip(starts, [*(t for _, t in starts[1:]), boot.origin_ms + width]):
            if nxt > t:
                stage_boxes.setdefault(stage, []).append((x0 + t, x0 + nxt))
        reset_x["reset" if boot.seen_start else "log-start"].append(left)
        if k < _MAX_LABELS:
            name = boot.reset or ("restart (rst: line cut)" if boot.banner else "log starts")
            if boot.download:
                name += " (download mode)"
            ax.annotate(f"boot #{k + 1}: {name}", (left, 0), xycoords=("data", "axes fraction"), xytext=(3, 4),
                        textcoords="offset points", fontsize=7, rotation=90, va="bottom")
        for crash in boot.crashes[:1]:  # what ended the boot; later ones are its aftermath
            cx = x0 + crash.ms if crash.ms is not None else left
            crash_x.append(cx)
            crash_labels.append((cx, f"{crash.label} (line {crash.line})"))
    # one collection per kind of mark: a log with thousands of boots still draws in seconds
    across = ax.get_xaxis_transform()  # x in data, y from the bottom (0) to the top (1) of the axes
    for stage in ("ROM", PRE_LOG, "bootloader", "app"):
        if stage in stage_boxes:
            boxes = [[(a, 0), (b, 0), (b, 1), (a, 1)] for a, b in stage_boxes[stage]]
            gid = "stage-pre" if stage == PRE_LOG else f"stage-{stage}"
            ax.add_collection(PolyCollection(boxes, facecolors=STAGE_COLORS[stage], alpha=0.18, edgecolors="none",
                                             transform=across, label=f"stage: {stage}", gid=gid))
    for gid, xs in reset_x.items():
        if xs:
            ax.vlines(xs, 0, 1, transform=across, colors="black", linestyles="--", linewidth=0.9, gid=gid)
    if crash_x:
        ax.vlines(crash_x, 0, 1, transform=across, colors=CRASH_COLOR, linewidth=0.8, alpha=0.6)
    for level in ("I", "W", "E", "D", "V"):
        if level in by_level:
            xs, ys = by_level[level]
            ax.scatter(xs, ys, marker="|", s=90, color=LEVEL_COLORS[level], zorder=3,
                       label=f"{LEVEL_NAMES[level]} log line ({len(xs)})", gid=f"level-{level}")
    for level in sorted(set(by_level) - set(LEVEL_COLORS)):
        xs, ys = by_level[level]
        ax.scatter(xs, ys, marker="|", s=90, color="black", zorder=3, label=f"{level} ({len(xs)})")
    if crash_x:
        ax.scatter(crash_x, [y[CRASH_ROW]] * len(crash_x), marker="X", s=80, color=CRASH_COLOR, zorder=4,
                   label=f"what ended the boot ({len(crash_x)})", gid="crash")
        for cx, text in crash_labels[:_MAX_LABELS]:
            ax.annotate(text, (cx, y[CRASH_ROW]), xytext=(-4, 7), textcoords="offset points", fontsize=7,
                        color=CRASH_COLOR, ha="right")
    if any(b.seen_start for b in data.boots):
        ax.plot([], [], color="black", linestyle="--", linewidth=0.9, label="reset (the ROM's name for it)")
    end = spans[-1][0] + spans[-1][1] if spans else 1.0
    ax.set_xlim(-end * 0.02, end * 1.02)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.4, -0.8)
    ax.set_xlabel("ESP-IDF log time (ms since each reset; boots laid end to end)" if data.boots[0].seen_start
                  else "ESP-IDF log time (ms; the log starts after the reset; boots laid end to end)")
    ax.set_ylabel("log tag")
    crashes = sum(bool(b.crashes) for b in data.boots)
    ax.set_title(f"Boot timeline: {len(data.boots)} boot{'s' * (len(data.boots) != 1)}, "
                 f"{crashes} ended by a crash or boot error, {data.points} timed log lines", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
