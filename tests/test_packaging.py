"""What an installed espmon holds: every package, and the demo firmware as package data
(``sim://CHIP?firmware=demo``, ``--elf demo``) - checked on pyproject.toml and on a real,
non-editable install of a wheel built from the tree, run outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import CHIPS, ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_package_list_names_every_package_on_disk():
    listed = set(_setuptools()["packages"])
    on_disk = {".".join(path.parent.relative_to(ROOT).parts)
               for top in ("espmon", "parsers") for path in (ROOT / top).rglob("__init__.py")}
    assert on_disk <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(on_disk - listed)}"


def test_every_chip_demo_is_package_data():
    config = _setuptools()
    for chip in CHIPS:
        package = f"espmon.sim.demo.{chip}"
        assert package in config["packages"]
        folder = ROOT / config["package-dir"][package]
        assert folder == ROOT / "samples" / "firmware" / chip
        for name in ("merged.bin", "app.elf"):
            assert name in config["package-data"][package] and (folder / name).is_file(), (chip, name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """espmon installed from a wheel (not editable) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("install")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp)],
                           capture_output=True, text=True, timeout=300)
    wheels = list(tmp.glob("espmon-*.whl"))
    if build.returncode != 0 or not wheels:
        pytest.skip(f"cannot build a wheel here (no setuptools for the build?): {build.stderr[-300:]}")
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheels[0])], check=True, capture_output=True, timeout=300)
    env = dict(os.environ, PYTHONPATH=str(target))  # ahead of the editable install of this tree
    env.pop("ESPMON_SAMPLES", None)
    return target, env, tmp


def test_an_installed_espmon_has_the_demo_firmware_and_its_elfs(installed):
    target, env, cwd = installed
    probe = ("import espmon.sim.firmware as f; print(f.__file__); print(f.samples_dir()); "
             "print(len(f.firmware_image('esp32s3'))); print(f.demo_elfs('esp32c6'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=60, check=True).stdout.splitlines()
    assert out[0].startswith(str(target)), out
    assert out[1] == str(target / "espmon" / "sim" / "demo")
    assert int(out[2]) > 65536
    assert str(target / "espmon" / "sim" / "demo" / "esp32c6" / "app.elf") in out[3]


def test_an_installed_espmon_decodes_the_demo_crash_with_elf_demo(installed):
    _, env, cwd = installed
    proc = subprocess.Popen([sys.executable, "-m", "espmon", "monitor", "--elf", "demo",
                             "sim://esp32c3?firmware=demo&fault=panic"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    seen = b""
    try:
        for line in proc.stdout:
            seen += line
            if b"crash_here at src/app.c" in seen:
                break
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    text = seen.decode("utf-8", "replace")
    assert "hello from espmon-demo on ESP32-C3" in text and "crash_here at src/app.c" in text, text[-2000:]
    assert "Traceback" not in text


def test_elf_demo_needs_to_know_the_chip():
    proc = subprocess.run([sys.executable, "-m", "espmon", "monitor", "--elf", "demo", "/dev/ttyUSB-none"],
                          capture_output=True, text=True, cwd=ROOT, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "--elf demo: which chip's demo? give --chip CHIP" in proc.stderr, proc.stderr


def test_flash_then_monitor_with_elf_demo_uses_the_detected_chip(sim_server):
    """Over RFC 2217 the URL names no chip: the one esptool detected picks the demo ELFs."""
    board = sim_server("esp32c3", "--fault", "panic", record=False)
    image = ROOT / "samples" / "firmware" / "esp32c3" / "merged.bin"
    proc = subprocess.Popen([sys.executable, "-m", "espmon", "flash", "--monitor", "--elf", "demo", board.url,
                             "0x0", str(image)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=ROOT)
    seen = b""
    try:
        for line in proc.stdout:
            seen += line
            if b"crash_here at src/app.c" in seen or b"error:" in seen:
                break
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    assert b"crash_here at src/app.c" in seen, seen.decode("utf-8", "replace")[-2000:]
