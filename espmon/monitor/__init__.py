"""The monitor engine, free of any UI: bytes from the port -> display records.

Shared by the full-screen console (``espmon.console``), the plain streaming mode used
when stdout is not a terminal, the script mode and the tests. Nothing here imports
prompt_toolkit.
"""
