"""Flashing on a port espmon already holds: esptool 5's Python API on a borrowed port.

The only importer of esptool (``tests/test_architecture.py`` checks it). ``engine`` runs
the loader; ``esptool_log`` turns esptool's messages and progress into espmon's;
``flash_set`` reads what to write (``ADDR FILE`` pairs, ESP-IDF's ``flasher_args.json``).
"""
