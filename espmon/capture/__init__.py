"""Captures: every byte that crossed a port, with its time, as JSON Lines (``parsers.capture``)."""
