"""Test-only speed-up of pyserial's RFC 2217 client, for subprocesses the tests start.

Active only with ESPMON_FAST_RFC2217=1 and this directory on PYTHONPATH. Stock pyserial
re-sends every port setting and waits for each acknowledgement in 50 ms sleeps whenever
a timeout changes, which esptool does before and after every command (about 0.2 s per
command). This skips the re-send when no wire setting changed (write_timeout is part of
the key, so esptool's NotImplementedError probe still fires) and polls every 2 ms. The
bytes on the wire are the same; one test still runs esptool on stock pyserial.
"""

import os

if os.environ.get("ESPMON_FAST_RFC2217") == "1":
    import time as _time

    import serial.rfc2217 as _rfc2217

    class _FastTime:
        """``time`` for serial.rfc2217, with its fixed poll sleeps shortened."""

        def __getattr__(self, name):
            return getattr(_time, name)

        @staticmethod
        def sleep(seconds):
            _time.sleep(0.002 if seconds in (0.05, 0.3) else seconds)

    _rfc2217.time = _FastTime()
    _original = _rfc2217.Serial._reconfigure_port

    def _reconfigure_port(self):
        key = (self._baudrate, self._bytesize, self._parity, self._stopbits, self._rtscts,
               self._xonxoff, self._write_timeout)
        if getattr(self, "_espmon_wire_key", None) == key:
            return
        _original(self)
        self._espmon_wire_key = key

    def _close(self, _close=_rfc2217.Serial.close):
        self._espmon_wire_key = None
        _close(self)

    _rfc2217.Serial._reconfigure_port = _reconfigure_port
    _rfc2217.Serial.close = _close
