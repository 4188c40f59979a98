"""Serial ports: open one by URL (:mod:`.opening`), find and recognise the board
(:mod:`.identity`), drive its reset lines (:mod:`.lines`), espmon's chunked RFC 2217 client
(:mod:`.rfc2217`) and the GIL-free drain of a local tty (:mod:`.fd_drain`)."""
