"""The console's one style table: semantic class names -> colours."""

from __future__ import annotations

from prompt_toolkit.styles import Style

__all__ = ["STYLE", "build_style"]

STYLE = {
    "device": "",
    "annotation": "#8a8a8a italic",
    "reset": "#5fafd7 italic",
    "crash": "#ff5f5f bold",
    "decoded": "#d7af5f",
    "alert": "bg:#870000 #ffffff bold",
    "note": "#87afd7",
    "sent": "#5fd75f",
    "hex": "#afafaf",
    "timestamp": "#6c6c6c",
    "partial": "",
    "search.match": "bg:#d7af00 #000000",
    "search.current": "bg:#ff5f00 #ffffff bold underline",
    "search.line": "bg:#303030",
    "status": "bg:#303030 #d0d0d0",
    "status.port": "bg:#303030 #ffffff bold",
    "status.key": "bg:#303030 #87afd7",
    "status.state.running": "bg:#005f00 #ffffff",
    "status.state.download": "bg:#5f5f00 #ffffff",
    "status.state.crashed": "bg:#870000 #ffffff bold",
    "status.state.disconnected": "bg:#875f00 #ffffff bold",
    "status.paused": "bg:#5f00af #ffffff bold",
    "status.flag": "bg:#303030 #d7d787",
    "status.message": "bg:#303030 #ffd787",
    "status.error": "bg:#303030 #ff8787 bold",
    "input.prompt": "#87afd7 bold",
    "input.raw": "#6c6c6c italic",
    "help": "bg:#1c1c1c #d0d0d0",
    "help.title": "bg:#1c1c1c #ffffff bold",
    "help.key": "bg:#1c1c1c #87d7ff",
    "help.border": "#5f87af",
}


def build_style() -> Style:
    return Style.from_dict(STYLE)
