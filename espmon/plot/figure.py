"""Figures of one input: a matplotlib ``Figure`` with one Axes per kind, and saving it.

matplotlib is imported here, lazily (only when a figure is made), and never through
pyplot: a bare ``Figure`` with the Agg canvas has no GUI backend and no global state, so
plotting works headless and the tests can inspect the objects. Only ``espmon/plot/``
imports matplotlib (tests/test_architecture.py checks it).
"""

from __future__ import annotations

import os
from typing import Any

from espmon.errors import UserError
from espmon.plot.boot_data import BootData
from espmon.plot.trace_data import TraceData

__all__ = ["trace_figure", "boot_figure", "save", "FORMATS"]

FORMATS = ("png", "svg")
WIDTH = 12.0  # inches; at 100 dpi a 1200 px wide PNG


def _figure(heights: list[float]) -> tuple[Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg", force=False)  # harmless when pyplot is never imported; says the intent
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, sum(heights) + 0.9), layout="constrained")
    axes = fig.subplots(len(heights), 1, squeeze=False, height_ratios=heights)[:, 0]
    return fig, list(axes)


def _title(fig: Any, parts: list[str]) -> None:
    fig.suptitle(" \u00b7 ".join(p for p in parts if p), fontsize=12, fontweight="bold")


def trace_figure(data: TraceData, kinds: list[str], name: str) -> Any:
    """The Figure of ``kinds`` (timeline, latency, throughput) of one conversation."""
    from espmon.plot.trace_plots import draw_latency, draw_throughput, draw_timeline, rows_of

    draw = {"timeline": draw_timeline, "latency": draw_latency, "throughput": draw_throughput}
    fig, axes = _figure([max(2.2, 0.26 * rows_of(k, data) + 1.2) for k in kinds])
    for kind, ax in zip(kinds, axes):
        draw[kind](ax, data)
    s = data.summary
    esptool = s.get("esptool")
    outcome = s.get("outcome")
    _title(fig, [s.get("chip") or "chip not told", os.path.basename(name),
                 f"esptool {esptool}" if esptool else "esptool --trace", f"outcome: {outcome}" if outcome else ""])
    return fig


def boot_figure(data: BootData, name: str) -> Any:
    from espmon.plot.boot_plot import draw_boot

    fig, (ax,) = _figure([max(2.6, 0.26 * (len(data.tags()) + 1) + 1.6)])
    draw_boot(ax, data)
    _title(fig, [data.chip or "chip not told", os.path.basename(name), "device log"])
    return fig


def save(fig: Any, path: str) -> None:
    """Write the figure; the format is the file's extension (.png or .svg)."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise UserError(f"{path}: unknown picture format '.{ext}', expected .png or .svg" if ext else
                        f"{path}: no extension, expected OUT.png or OUT.svg")
    try:
        fig.savefig(path, format=ext, dpi=100, metadata={"Software": "espmon"} if ext == "png" else None)
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None
