"""Pictures of a conversation (timeline, latency, throughput) and of a device log (boot).

The only package that imports matplotlib, and only when a figure is made. The API keeps
to data in, ``Figure`` out, so the tests read the figure's objects instead of pixels:

- :func:`espmon.plot.trace_data.trace_data`: conversation records -> ``TraceData`` (the
  seam for captures: anything that yields the same records can be plotted);
- :class:`espmon.plot.boot_data.BootCollector`: device events -> ``BootData``;
- :func:`espmon.plot.figure.trace_figure` / ``boot_figure`` -> Figure; ``save`` writes it.
"""
