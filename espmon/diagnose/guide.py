"""The sentences of esptool's troubleshooting guide (``shared/troubleshooting.txt``), by section.

Quoted, not paraphrased: users search for these sentences. The guide is the ESP32-S2
edition; ``for_chip`` rewrites its chip-specific words for the user's chip (offset of the
bootloader, ``--chip``, the name), so an ESP32-C3 user reads 0x0 and ``--chip esp32c3``.
"""

from __future__ import annotations

from parsers.chips import Chip

__all__ = ["GUIDE", "for_chip", "section_name"]

GUIDE: dict[str, str] = {
    "Bootloader Won't Respond": (
        "If you see errors like \u201cFailed to connect\u201d then your chip is probably not entering the "
        "bootloader properly: Check you are passing the correct serial port on the command line. Check you "
        "have permissions to access the serial port, and other software (such as modem-manager on Linux) is "
        "not trying to interact with it. [...] Check the chip is receiving 3.3V from a stable power source "
        "[...] Check that all pins are connected as described in Boot Mode Selection. [...] Try using a "
        "slower baud rate (-b 9600 is a very slow value that you can use to verify it's not a baud rate "
        "problem)."),
    "Bootloader Won't Respond (port)": (
        "Check you are passing the correct serial port on the command line. Check you have permissions to "
        "access the serial port, and other software (such as modem-manager on Linux) is not trying to "
        "interact with it. A common pitfall is leaving a serial terminal accessing this port open in another "
        "window and forgetting about it."),
    "Bootloader Won't Respond (pins)": (
        "Check that all pins are connected as described in Boot Mode Selection. Check the voltages at each "
        "pin with a multimeter, \u201chigh\u201d pins should be close to 3.3V and \u201clow\u201d pins should "
        "be close to 0V. If you have connected other devices to GPIO pins, try removing them and see if "
        "esptool starts working."),
    "Writing to Flash Fails Part Way Through": (
        "If flashing fails with random errors part way through, retry with a lower baud rate. "
        "Power stability problems may also cause this (see Insufficient Power.)"),
    "Wrong Flash Mode": (
        "Some devices only support the dio flash mode. Writing to flash with qio mode will succeed but the "
        "chip can't read the flash back to run - so nothing happens on boot. Try passing the -fm dio option "
        "to write_flash."),
    "Insufficient Power": (
        "The 3.3V power supply for the ESP chip has to supply large amounts of current (up to 70mA "
        "continuous, 200-300mA peak, might be slightly higher). You also need sufficient capacitance on "
        "the power circuit to meet large spikes of power demand. [...] Try swapping in a 3.3V supply with "
        "a higher current rating, add capacitors to the power line, and/or shorten any 3.3V power wires."),
    "Missing Bootloader": (
        "ESP-IDF and uses a small firmware bootloader program. The hardware bootloader in ROM loads this "
        "firmware bootloader from flash, and then it runs the program. On ESP32-S2, the bootloader image "
        "should be flashed by ESP-IDF at offset 0x1000."),
    "SPI Pins Which Must Be Disconnected": (
        "If you set \u201cQuad I/O\u201d mode (-fm qio, the esptool default) then GPIOs 7, 8, 9 & 10 are used "
        "for reading the SPI flash and must be otherwise disconnected. If you set \u201cDual I/O\u201d mode "
        "(-fm dio) then GPIOs 7 & 8 are used for reading the SPI flash and must be otherwise disconnected. "
        "[...] In addition to these pins, GPIOs 6 & 11 are also used to access the SPI flash (in all modes)."),
    "Early Stage Crash": (
        "Use any of serial terminal programs to view the boot log. (ESP32-S2 baud rate is 115200bps). See "
        "if the program is crashing during early startup or outputting an error message."),
    "Issues and Debugging in USB-Serial/JTAG or USB-OTG modes": (
        "If the application accidentally reconfigures the USB peripheral pins or disables the USB "
        "peripheral, the device disappears from the system. You can also encounter unstable flashing or "
        "errors like OSError: [Errno 71] Protocol error. If that happens, try to manually enter the download "
        "mode and then use the erase_flash command to wipe the flash memory. Then, make sure to fix the "
        "issue in the application before flashing again."),
    "No serial data received.": (
        "Esptool didn't receive any byte of data or a successful slip packet. This error usually implies "
        "some kind of a hardware issue. This may be because the hardware is not working properly at all, "
        "the RX/TX serial lines are not connected, or because there is some problem with resetting into "
        "the download mode."),
    "Wrong boot mode detected (0xXX)! The chip needs to be in download mode.": (
        "Communication with the chip works (the ROM boot log is detected), but it is not being reset into "
        "the download mode automatically. To resolve this, check the autoreset circuitry (if your board has "
        "it), or try resetting into the download mode manually. See Manual Bootloader for instructions."),
    "Download mode successfully detected, but getting no sync reply: The serial TX path seems to be down.": (
        "The chip successfully resets into the download mode and sends data to the host computer, but "
        "doesn't receive any response sent by esptool. This implies a problem with the TX line running from "
        "the host to the ESP device. Double-check your board or breadboard circuit for any problems."),
    "Invalid head of packet (0xXX): Possible serial noise or corruption.": (
        "This error is usually caused by one of the following reasons: Using bad quality USB cable. "
        "Sometimes breadboards can short the SPI flash pins on the board and cause this kind of problem. "
        "Try removing your development board from the breadboard. The chip might be browning out during "
        "flashing. FTDI chips' internal 3.3V regulator is not enough to power an ESP, see Insufficient "
        "Power. Other things to try: Try to sync and communicate at a much lower baud rate, e.g. "
        "esptool.py --baud 9600 ... Try tracing the interactions running esptool.py --trace ... and see if "
        "anything is received back at all. Try skipping chip autodetection by specifying the chip type, "
        "run esptool.py --chip ESP32-S2 ..."),
    "A serial exception error occurred": (
        "Errors originating from pySerial are, therefore, not a problem with esptool.py, but are usually "
        "caused by a problem with hardware or drivers. Some of the most common pySerial error causes are: "
        "The port is being already used by other software. The port doesn't exist. The device gets "
        "unexpectedly disconnected. The necessary serial port drivers are not installed or are faulty. You "
        "don't have permission to access the port."),
    "A serial exception error occurred (dialout)": (
        "On Linux, read and write access the serial port over USB is necessary. You can add your user to the "
        "dialout or uucp group to grant access to the serial port. See Adding user to dialout or uucp on Linux."),
}


def section_name(key: str) -> str:
    """The guide's own heading of a ``GUIDE`` key (``"... (port)"`` keys quote part of a section)."""
    return key.rsplit(" (", 1)[0] if key.endswith(")") else key


def for_chip(text: str, chip: Chip | None) -> str:
    """The guide's ESP32-S2 words said for ``chip`` (unchanged when the chip is not known)."""
    if chip is None or chip.key == "esp32s2":
        return text
    offset = f"0x{chip.bootloader_offset:x}"
    return (text.replace("On ESP32-S2, the bootloader image should be flashed by ESP-IDF at offset 0x1000.",
                         f"On {chip.name}, the bootloader image should be flashed by ESP-IDF at offset {offset}.")
            .replace("--chip ESP32-S2", f"--chip {chip.key}")
            .replace("(ESP32-S2 baud rate is 115200bps)", f"({chip.name} baud rate is {chip.console_baud}bps)"))
