"""Pure decoders: bytes or text lines in, typed events out. No I/O, no UI."""
