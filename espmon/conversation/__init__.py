"""The host-chip conversation of an esptool session, analysed.

:mod:`.records` holds the record types (one per packet or noteworthy line), :mod:`.analyzer`
pairs requests with replies and yields them, :mod:`.story` accumulates the session story
(chip, loader, baud, regions written and read, outcome), :mod:`.render` prints records and
the story as text. ``espmon decode``, capture, replay, doctor and plots share them.
"""
