"""What esptool's troubleshooting guide says to try, for each way a session can end.

The guide (``shared/troubleshooting.txt``, esptool's "Troubleshooting" page) is quoted,
not paraphrased: users search for these sentences. One table: a pattern over the error
text (esptool's own words, or the evidence espmon found) -> the guide's section and text.
"""

from __future__ import annotations

import re

__all__ = ["ADVICE", "advice_for"]

_INSUFFICIENT_POWER = (
    "Insufficient Power",
    "The 3.3V power supply for the ESP chip has to supply large amounts of current (up to 70mA "
    "continuous, 200-300mA peak, might be slightly higher). You also need sufficient capacitance on "
    "the power circuit to meet large spikes of power demand. [...] Try swapping in a 3.3V supply with "
    "a higher current rating, add capacitors to the power line, and/or shorten any 3.3V power wires.",
)
_PART_WAY = (
    "Writing to Flash Fails Part Way Through",
    "If flashing fails with random errors part way through, retry with a lower baud rate. "
    "Power stability problems may also cause this (see Insufficient Power.)",
)
_WONT_RESPOND = (
    "Bootloader Won't Respond",
    "If you see errors like \u201cFailed to connect\u201d then your chip is probably not entering the "
    "bootloader properly: Check you are passing the correct serial port on the command line. Check you "
    "have permissions to access the serial port, and other software (such as modem-manager on Linux) is "
    "not trying to interact with it. [...] Check the chip is receiving 3.3V from a stable power source "
    "[...] Check that all pins are connected as described in Boot Mode Selection. [...] Try using a "
    "slower baud rate (-b 9600 is a very slow value that you can use to verify it's not a baud rate "
    "problem).",
)

#: (pattern over the error text, [(section, quoted text), ...]), first match wins.
ADVICE: tuple[tuple[re.Pattern[str], tuple[tuple[str, str], ...]], ...] = (
    (re.compile(r"brownout|brown.out", re.I), (_INSUFFICIENT_POWER, _PART_WAY)),
    (re.compile(r"Wrong boot mode detected", re.I), ((
        "Wrong boot mode detected (0xXX)! The chip needs to be in download mode.",
        "Communication with the chip works (the ROM boot log is detected), but it is not being reset into "
        "the download mode automatically. To resolve this, check the autoreset circuitry (if your board has "
        "it), or try resetting into the download mode manually. See Manual Bootloader for instructions.",
    ),)),
    (re.compile(r"getting no sync reply|TX path seems to be down", re.I), ((
        "Download mode successfully detected, but getting no sync reply: The serial TX path seems to be down.",
        "The chip successfully resets into the download mode and sends data to the host computer, but "
        "doesn't receive any response sent by esptool. This implies a problem with the TX line running from "
        "the host to the ESP device. Double-check your board or breadboard circuit for any problems.",
    ),)),
    (re.compile(r"Invalid head of packet|Invalid SLIP escape", re.I), ((
        "Invalid head of packet (0xXX): Possible serial noise or corruption.",
        "This error is usually caused by one of the following reasons: Using bad quality USB cable. "
        "Sometimes breadboards can short the SPI flash pins on the board and cause this kind of problem. "
        "Try removing your development board from the breadboard. The chip might be browning out during "
        "flashing. FTDI chips' internal 3.3V regulator is not enough to power an ESP, see Insufficient "
        "Power. Other things to try: Try to sync and communicate at a much lower baud rate, e.g. "
        "esptool.py --baud 9600 ... Try tracing the interactions running esptool.py --trace ... and see if "
        "anything is received back at all. Try skipping chip autodetection by specifying the chip type, "
        "run esptool.py --chip ESP32-S2 ...",
    ),)),
    (re.compile(r"No serial data received|Timed out waiting for packet header", re.I), ((
        "No serial data received.",
        "Esptool didn't receive any byte of data or a successful slip packet. This error usually implies "
        "some kind of a hardware issue. This may be because the hardware is not working properly at all, "
        "the RX/TX serial lines are not connected, or because there is some problem with resetting into "
        "the download mode.",
    ), _WONT_RESPOND)),
    (re.compile(r"serial exception error|could not open port|Errno", re.I), ((
        "A serial exception error occurred",
        "Errors originating from pySerial are, therefore, not a problem with esptool.py, but are usually "
        "caused by a problem with hardware or drivers. Some of the most common pySerial error causes are: "
        "The port is being already used by other software. The port doesn't exist. The device gets "
        "unexpectedly disconnected. The necessary serial port drivers are not installed or are faulty. You "
        "don't have permission to access the port.",
    ),)),
    (re.compile(r"Guru Meditation|Fatal exception", re.I), ((
        "Early Stage Crash",
        "Use any of serial terminal programs to view the boot log. (ESP32-S2 baud rate is 115200bps). See "
        "if the program is crashing during early startup or outputting an error message.",
    ),)),
    (re.compile(r"Failed to connect", re.I), (_WONT_RESPOND,)),
    (re.compile(r"write to target flash|chip stopped responding|Packet content transfer stopped|"
                r"stream stopped|MD5 of file does not match|does not match data in flash|"
                r"Timed out waiting for packet content", re.I), (_PART_WAY, _INSUFFICIENT_POWER)),
)


def advice_for(*texts: str | None) -> list[dict[str, str]]:
    """The guide's advice for the first text that matches a rule, or ``[]``."""
    for text in texts:
        if not text:
            continue
        for pattern, sections in ADVICE:
            if pattern.search(text):
                return [{"section": section, "text": quote} for section, quote in sections]
    return []
