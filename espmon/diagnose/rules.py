"""The one rule table of diagnosis: for ``espmon decode``'s advice, ``espmon doctor``'s
findings and the console's failed-flash advice.

A rule has an id, the evidence keys it stands on (``espmon.diagnose.facts``: events of the
device-log, esptool-output and trace parsers, each with its line numbers), the keys that
explain the same lines better (``unless``), the cause, and the guide's sections it quotes.
``text`` is the same rule over an error text alone (what decode and the flash engine have).
Rules are ranked by their place in the table: the first that fires is the likeliest cause.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from espmon.diagnose.facts import Facts

__all__ = ["Rule", "RULES", "RULES_BY_ID"]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    needs: tuple[str, ...]  # any of these evidence keys makes the rule fire
    cause: str
    sections: tuple[str, ...]  # keys of espmon.diagnose.guide.GUIDE, the first is the finding's section
    unless: tuple[str, ...] = ()  # evidence keys of a rule that explains the same thing better
    text: re.Pattern[str] | None = None  # the rule over an error text alone (decode, flash)
    detail: Callable[[Facts], str | None] | None = None  # the user's case, said from the facts
    when: Callable[[Facts], bool] | None = None  # a further condition over the facts
    advice: str = ""  # for a rule the guide has no section for: what to do, in esptool's words


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


def _strap(f: Facts) -> str | None:
    err = f.details.get("err:wrong_boot_mode")
    if err is None or err.byte is None:
        return None
    chip = f.chip
    pin = "GPIO9" if chip is not None and chip.arch == "riscv" else "GPIO0"
    if chip is not None and chip.flash_boot[0] == err.byte:
        return (f"0x{err.byte:02x} is {chip.flash_boot[1]} on {chip.name}: {pin} was high at reset, "
                "so the chip booted its app")
    return f"0x{err.byte:02x} is a boot from flash: {pin} was high when the chip came out of reset"


_HEAD_BYTES = {0x65: "'e': the ROM's boot banner ('ets ...'): the chip reset and printed its boot log",
               0x45: "'E': the ROM's boot banner ('ESP-ROM:...') or an app's error log line: the chip reset",
               0x49: "'I': an ESP-IDF log line ('I (123) ...'): the app is running, not the ROM loader",
               0x57: "'W': an ESP-IDF warning line: the app is running, not the ROM loader",
               0x3E: "'>': a REPL prompt ('>>> '): MicroPython is running, not the ROM loader",
               0x0D: "a CR: the start of a line of text (the ROM's boot log after a reset)",
               0x0A: "a LF: the start of a line of text (the ROM's boot log after a reset)",
               0x00: "0x00: a line held low (a stuck or unpowered TX line)",
               0xFF: "0xff: a line held high or a baud-rate mismatch"}


def _head_byte(f: Facts) -> str | None:
    err = f.details.get("err:invalid_head")
    if err is None or err.byte is None:
        return None
    b = err.byte
    said = _HEAD_BYTES.get(b)
    if said is None:
        said = (f"0x{b:02x} ({chr(b)!r}): text, not a SLIP packet" if 0x20 <= b < 0x7F
                else f"0x{b:02x}: not text and not the SLIP start 0xc0: noise or a wrong baud rate")
    return f"the byte was {said}"


def _chip_words(f: Facts) -> str | None:
    chip = f.chip
    if chip is None:
        return None
    return f"{chip.name}: bootloader at 0x{chip.bootloader_offset:x}, --chip {chip.key}"


def _first(key: str, fmt: str) -> Callable[[Facts], str | None]:
    def detail(f: Facts) -> str | None:
        value = f.details.get(key)
        if value is None:
            return None
        return fmt.format(value=value, count=f.counts.get(key, 0))
    return detail


def _ended(f: Facts) -> str | None:
    if not f.boots_ended:
        return None
    parts = sorted(f.boots_ended.items(), key=lambda kv: -kv[1])
    return f"{f.reset_count} resets; the boots ended by: " + ", ".join(f"{why} (x{k})" for why, k in parts[:5])


def _write_reset(f: Facts) -> bool:
    return f.has("trace_brownout", "brownout") or (f.has("write_incomplete") and f.banner_byte() is not None)


def _loop(f: Facts) -> bool:
    return f.reset_count >= 3 and not f.has("download") and len(f.boots_ended) >= 1


_CONNECT = ("err:no_sync_reply", "err:no_serial_data", "err:wrong_boot_mode", "err:invalid_head",
            "err:timeout_header", "trace_boot_log")
# what ends a boot with its reason printed: a watchdog reset after one of these is explained
_BOOT_FAILURES = ("invalid_header_erased", "invalid_header", "flash_read_err", "csum_err", "rom_halt", "rom_halt_qio",
                  "stuck_qio", "stuck_after_entry", "bootloader_error", "panic", "int_wdt", "task_wdt",
                  "stack_overflow", "heap", "assert_abort", "brownout")
_PORT = ("err:port_busy", "err:port_permission", "err:port_missing", "err:usb_protocol")

RULES: tuple[Rule, ...] = (
    # --- esptool's errors and the trace ---------------------------------------------
    Rule("brownout", "The chip browned out", ("brownout", "trace_brownout", "write_incomplete", "err:invalid_head"),
         "the supply voltage dropped below the brownout detector's threshold and the chip reset",
         ("Insufficient Power", "Writing to Flash Fails Part Way Through"),
         text=_rx(r"brownout|brown.out"), when=_write_reset,
         detail=lambda f: f.details.get("brownout") or f.details.get("trace_brownout") or f.banner_byte()),
    Rule("usb-port-vanished", "The USB port went away", ("err:usb_protocol",),
         "the USB device disappeared or stopped answering (the app reconfigured the USB pins, or a crash)",
         ("Issues and Debugging in USB-Serial/JTAG or USB-OTG modes", "A serial exception error occurred"),
         text=_rx(r"Errno 71|Protocol error|Device not configured|returned no data|None, 433\)"),
         detail=_first("err:usb_protocol", "esptool said: {value.text}")),
    Rule("port-busy", "The serial port is held by another program", ("err:port_busy",),
         "another program (a serial monitor, modem-manager) has the port open",
         ("Bootloader Won't Respond (port)", "A serial exception error occurred"),
         text=_rx(r"Errno 16|resource busy|port is busy|Access is denied"),
         detail=_first("err:port_busy", "esptool said: {value.text}")),
    Rule("port-permission", "No permission to open the serial port", ("err:port_permission",),
         "your user may not open the port", ("A serial exception error occurred (dialout)",
                                             "A serial exception error occurred"),
         text=_rx(r"Errno 13|Permission denied"), detail=_first("err:port_permission", "esptool said: {value.text}")),
    Rule("port-missing", "The serial port does not exist", ("err:port_missing",),
         "the port named on the command line is not there (wrong name, board unplugged, no driver)",
         ("Bootloader Won't Respond (port)", "A serial exception error occurred"),
         unless=("err:port_permission", "err:port_busy", "err:usb_protocol"),
         text=_rx(r"could not open port|No such file|cannot find the file"),
         detail=_first("err:port_missing", "esptool said: {value.text}")),
    Rule("secure-download", "The chip refused: Secure Boot, flash encryption or Secure Download Mode",
         ("err:secure",), "the chip's security eFuses forbid what esptool asked (a write below 0x8000, a read "
         "or a RAM load); this is not a fault of the connection", (),
         advice="Check what the chip allows with `espefuse summary` (or `esptool get-security-info`); with "
                "Secure Boot write the app and partition table above 0x8000 only, with flash encryption or "
                "Secure Download Mode use `--encrypt` / the ESP-IDF build's signed, encrypted images, or "
                "`--force` only when you know the write is safe.",
         text=_rx(r"Secure Boot|flash encryption|Secure Download Mode|ROM does not support function"),
         detail=_first("err:secure", "esptool said: {value.text}")),
    Rule("wrong-boot-mode", "The chip booted its app instead of the download mode",
         ("err:wrong_boot_mode", "trace_boot_log"),
         "the chip is not being reset into the download mode: the auto-reset (DTR/RTS to EN/GPIO0) does not work",
         ("Wrong boot mode detected (0xXX)! The chip needs to be in download mode.", "Bootloader Won't Respond (pins)"),
         text=_rx(r"Wrong boot mode detected|boot log instead of answering"),
         detail=lambda f: _strap(f) or f.details.get("trace_boot_log")),
    Rule("no-sync-reply", "The chip does not hear esptool", ("err:no_sync_reply",),
         "the chip is in download mode and talks, but the host-to-chip (TX) line is broken",
         ("Download mode successfully detected, but getting no sync reply: The serial TX path seems to be down.",),
         text=_rx(r"getting no sync reply|TX path seems to be down")),
    Rule("invalid-head", "What came back was not a SLIP packet", ("err:invalid_head",),
         "esptool read a byte that cannot start a reply", ("Invalid head of packet (0xXX): Possible serial noise "
                                                           "or corruption.", "Insufficient Power"),
         text=_rx(r"Invalid head of packet|Invalid SLIP escape"), detail=_head_byte),
    Rule("no-serial-data", "Nothing came back from the chip", ("err:no_serial_data", "err:timeout_header"),
         "esptool received no byte at all: RX/TX not connected, no power, or no reset into download mode",
         ("No serial data received.", "Bootloader Won't Respond"), unless=("trace_boot_log", "connected"),
         text=_rx(r"No serial data received|Timed out waiting for packet header")),
    Rule("write-part-way", "Writing to flash failed part way through",
         ("err:write_part_way", "err:stopped", "err:timeout_header", "err:no_serial_data"),
         "the connection broke during the write (baud rate too high for the cable or adapter, or power)",
         ("Writing to Flash Fails Part Way Through", "Insufficient Power"),
         text=_rx(r"write to target flash|chip stopped responding|Packet content transfer stopped|stream stopped|"
                  r"MD5 of file does not match|does not match data in flash|Timed out waiting for packet content"),
         when=lambda f: f.has("err:write_part_way") or (f.has("writing", "write_incomplete", "connected")
                                                         and f.has("err:stopped", "err:timeout_header",
                                                                   "err:no_serial_data")),
         detail=lambda f: _first("err:write_part_way", "esptool said: {value.text}")(f)
         or _first("err:stopped", "esptool said: {value.text}")(f)
         or _first("err:timeout_header", "after the chip had answered, esptool said: {value.text}")(f)),
    Rule("serial-exception", "pySerial failed", ("err:serial_exception",),
         "an error of the serial port driver, not of esptool", ("A serial exception error occurred",),
         unless=_PORT, text=_rx(r"serial exception error|Errno")),
    Rule("failed-to-connect", "esptool could not connect", ("err:failed_to_connect",),
         "the chip did not enter its bootloader", ("Bootloader Won't Respond",), unless=_CONNECT + _PORT,
         text=_rx(r"Failed to connect"), detail=_first("err:failed_to_connect", "esptool said: {value.text}")),
    # --- the device log: the ROM and the bootloader ---------------------------------
    Rule("missing-bootloader", "No bootloader at the bootloader offset",
         ("invalid_header_erased", "invalid_header"),
         "the ROM found no bootloader image where it looks for one (erased flash, or an image for another "
         "offset or chip written there)", ("Missing Bootloader",),
         text=_rx(r"invalid header"), detail=lambda f: _join(
             _first("invalid_header_erased", "invalid header: 0x{value:08x}, erased flash, {count} times")(f)
             or _first("invalid_header", "invalid header: 0x{value:08x}: something else is written there")(f),
             _chip_words(f))),
    Rule("wrong-flash-mode", "The flash cannot be read in the image's QIO mode", ("stuck_qio", "rom_halt_qio"),
         "the image asks for QIO (mode:QIO) and the chip stops right after the ROM loaded it: the flash "
         "supports DIO only, or GPIO 9/10 are wired to something", ("Wrong Flash Mode", "SPI Pins Which Must "
                                                                    "Be Disconnected"),
         text=_rx(r"mode:QIO")),
    Rule("flash-read-error", "The ROM cannot read the flash", ("flash_read_err",),
         "the SPI flash does not answer: its pins (GPIO 6-11, or the eFuse-remapped flash pins) are wired "
         "to something, or the bootloader is missing", ("SPI Pins Which Must Be Disconnected", "Missing Bootloader"),
         text=_rx(r"flash read err"), detail=_first("flash_read_err", "flash read err at 0x{value:x}")),
    Rule("checksum-error", "The bootloader image is damaged", ("csum_err",),
         "a segment the ROM loaded has the wrong checksum: a write that failed part way, or an unstable supply",
         ("Missing Bootloader", "Insufficient Power"), text=_rx(r"csum err|SHA-256 comparison failed")),
    Rule("rom-loader-error", "The ROM gave up loading the bootloader", ("rom_halt",),
         "the ROM could not load a bootloader from flash", ("Missing Bootloader", "Wrong Flash Mode"),
         unless=("invalid_header_erased", "invalid_header", "flash_read_err", "csum_err", "rom_halt_qio"),
         text=_rx(r"ets_main\.c|ets_loader\.c"), detail=_first("rom_halt", "the ROM stopped at {value}")),
    Rule("bootloader-error", "The second-stage bootloader found no app to run", ("bootloader_error",),
         "the partition table or the app is missing or invalid at its offset (ESP-IDF: partition table at "
         "0x8000, app at 0x10000)", ("Missing Bootloader",), detail=_first("bootloader_error", "{value}")),
    Rule("stuck-after-entry", "The chip stops right after the ROM's 'entry' line", ("stuck_after_entry",),
         "the bootloader was loaded but printed nothing: a flash mode or SPI pin problem, or a bootloader "
         "built for another chip", ("SPI Pins Which Must Be Disconnected", "Wrong Flash Mode", "Early Stage Crash")),
    # --- the device log: the app ----------------------------------------------------
    Rule("stack-overflow", "A task overflowed its stack", ("stack_overflow",),
         "a FreeRTOS task used more stack than it was given", ("Early Stage Crash",),
         text=_rx(r"stack overflow|Stack canary"), detail=_first("stack_overflow", "{value}")),
    Rule("stack-smashing", "A local buffer overran", ("stack_smashing",),
         "the stack protector found a function's canary overwritten", ("Early Stage Crash",),
         text=_rx(r"Stack smashing")),
    Rule("heap-corruption", "The heap is corrupted", ("heap",),
         "code wrote outside a heap allocation or freed it twice", ("Early Stage Crash",),
         text=_rx(r"CORRUPT HEAP"), detail=_first("heap", "{value}")),
    Rule("task-watchdog", "The task watchdog fired", ("task_wdt",),
         "a task did not yield for the watchdog's period (a busy loop, a blocked call)", ("Early Stage Crash",),
         text=_rx(r"Task watchdog got triggered"), detail=_first("task_wdt", "tasks that did not reset it: {value}")),
    Rule("assert-abort", "An assert failed or abort() was called", ("assert_abort",),
         "the code stopped itself on a failed check", ("Early Stage Crash",),
         unless=("heap", "stack_overflow", "task_wdt"), text=_rx(r"assert failed|abort\(\) was called"),
         detail=_first("assert_abort", "{value}")),
    Rule("interrupt-watchdog", "The interrupt watchdog fired", ("int_wdt",),
         "interrupts were disabled or an ISR ran too long", ("Early Stage Crash",),
         text=_rx(r"Interrupt wdt timeout"), detail=_first("int_wdt", "{value}")),
    Rule("panic", "The app crashed", ("panic",), "a CPU exception in the app (see the decoded backtrace)",
         ("Early Stage Crash",), text=_rx(r"Guru Meditation|Fatal exception|Exception \(\d+\)"),
         detail=_first("panic", "first {value}; {count} panics in all")),
    Rule("esp8266-soft-wdt", "The ESP8266 software watchdog fired", ("soft_wdt",),
         "the loop did not yield for about 3 seconds", ("Early Stage Crash",), text=_rx(r"Soft WDT reset")),
    Rule("watchdog-reset", "A watchdog reset the chip", ("wdt_reset",),
         "a boot hung with nothing printed about why, until a watchdog reset the chip",
         ("Early Stage Crash", "Insufficient Power"), detail=_first("wdt_reset", "reset by {value}"),
         unless=_BOOT_FAILURES),
    Rule("download-mode", "The chip started in download mode", ("download",),
         "a strapping pin (GPIO0, GPIO9 on RISC-V chips) was low at reset: the chip waits for esptool "
         "instead of running the app", ("Bootloader Won't Respond (pins)",),
         unless=("err:wrong_boot_mode", "err:no_sync_reply", "writing", "wrote", "hard_reset"),
         text=_rx(r"waiting for download|DOWNLOAD_BOOT"), detail=_first("download", "{value}")),
    Rule("boot-loop", "The chip reboots over and over", ("boots",),
         "every boot ends the same way and the chip resets", ("Early Stage Crash",), when=_loop, detail=_ended),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}


def _join(*parts: str | None) -> str | None:
    said = [p for p in parts if p]
    return "; ".join(said) if said else None
