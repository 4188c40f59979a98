"""An application's ELF: symbols and DWARF line tables (:mod:`.symbols`, :mod:`.dwarf`,
:mod:`.line_table`), the section window that reads only what is needed (:mod:`.sections`),
and RISC-V call-frame unwinding of a stack dump (:mod:`.unwind`). pyelftools, no toolchain."""
