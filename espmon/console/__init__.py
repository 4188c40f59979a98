"""The full-screen console (prompt_toolkit). The only package that imports prompt_toolkit.

app.py wires an Application together; layout.py builds the containers; output_control.py
turns the visible part of the scrollback into keyed rows; output_window.py writes only the
rows that changed to the terminal; keys.py maps keys to command names;
commands.py is the one command table (help is generated from it); actions.py holds the
command handlers; style.py the one style table; scrollback.py the bounded line store;
view.py the scroll/pause/search state.
"""
