"""espmon: serial monitor, esptool trace analyzer and virtual board for Espressif chips."""

__version__ = "0.1.0"
