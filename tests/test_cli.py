"""The command line as a user meets it: help, version, unbuilt subcommands, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from espmon import __version__
from espmon.cli import SUBCOMMANDS, main

DESIGN_COMMANDS = {"monitor", "flash", "decode", "replay", "capture", "doctor", "plot", "sim", "ports"}


def test_help_lists_every_subcommand_of_the_design(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for name in DESIGN_COMMANDS:
        assert f"\n    {name} " in out
    assert {cmd.name for cmd in SUBCOMMANDS} == DESIGN_COMMANDS


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"espmon {__version__}"


def test_unbuilt_subcommand_says_so_in_one_line(monkeypatch, capsys):
    from espmon import cli

    monkeypatch.setattr(cli, "SUBCOMMANDS", cli.SUBCOMMANDS + (cli.Subcommand("nothing", "espmon.commands.nothing", "x"),))
    assert cli.main(["nothing"]) == 2
    err = capsys.readouterr().err
    assert err == "espmon: 'nothing' is not built yet\n"


def test_python_dash_m_and_help_do_not_import_heavy_libraries():
    code = (
        "import sys, runpy; sys.argv=['espmon','--help']\n"
        "try: runpy.run_module('espmon', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('prompt_toolkit','matplotlib','esptool','elftools','serial') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "usage: espmon" in out
    assert out.strip().endswith("HEAVY []")


def test_help_marks_the_subcommands_not_built_yet(capsys):
    import pytest

    from espmon import cli

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    listed = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ") and line.split()}
    assert all("not built yet" not in listed[cmd.name] for cmd in cli.SUBCOMMANDS)  # every one is built now


def test_an_unknown_option_prints_the_subcommands_usage(capsys):
    import pytest

    from espmon import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["decode", "--bogus", "x.txt"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("usage: espmon decode") and "unrecognized arguments: --bogus" in err


def test_ports_and_ports_json_agree_on_nothing_found(capsys, monkeypatch):
    import espmon.port.identity as identity
    from espmon import cli

    monkeypatch.setattr(identity, "find_candidates", lambda all_ports=False: [])  # a machine with no board
    assert cli.main(["ports"]) == cli.main(["ports", "--json"]) == 1
