"""Panic causes for espmon.monitor.annotate: what each one means, in the words a user needs (data only).

Sources: ESP-IDF's fatal-errors guide (Guru Meditation Errors section), the Xtensa
EXCCAUSE table, the ESP8266 Arduino core's exception list; paraphrased.
"""

from __future__ import annotations

__all__ = ["GURU_CAUSES", "ESP8266_EXCEPTIONS"]

_NULL_HINT = "an invalid address was read or written"

#: Guru Meditation cause (as printed, Xtensa and RISC-V) -> meaning.
GURU_CAUSES: dict[str, str] = {
    "IllegalInstruction": "invalid instruction: a FreeRTOS task function returned, a flash read failed "
                          "(flash pins reused), or a C++ function is missing its return",
    "Illegal instruction": "invalid instruction: a FreeRTOS task function returned, a flash read failed "
                           "(flash pins reused), or a C++ function is missing its return",
    "InstrFetchProhibited": "jumped to an address that is not code: a call through a bad function pointer (see PC)",
    "InstructionFetchError": "instruction fetch failed: a jump to a bad address",
    "LoadProhibited": _NULL_HINT + " (load): see EXCVADDR, 0 means a NULL pointer",
    "StoreProhibited": _NULL_HINT + " (store): see EXCVADDR, 0 means a NULL pointer",
    "LoadStoreAlignment": "unaligned access: e.g. a 32-bit read from an address that is not a multiple of 4",
    "LoadStoreError": "8- or 16-bit access to IRAM/IROM, or a write to read-only memory",
    "IntegerDivideByZero": "integer division by zero",
    "Unhandled debug exception": "a BREAK instruction or a watchpoint fired (a stack canary watchpoint means a stack overflow)",
    "Double exception": "an exception inside an exception handler: usually a stack overflow",
    "Unhandled kernel exception": "an exception in kernel code: usually memory corruption",
    "Coprocessor exception": "floating-point (coprocessor) used where it is not allowed, e.g. in an ISR",
    "Interrupt wdt timeout on CPU0": "interrupt watchdog on CPU0: an ISR ran too long or interrupts stayed disabled",
    "Interrupt wdt timeout on CPU1": "interrupt watchdog on CPU1: an ISR ran too long or interrupts stayed disabled",
    "Cache disabled but cached memory region accessed": "flash-resident code or data used while the flash cache "
                                                        "was off: an ISR not in IRAM ran during a flash write",
    "Cache error": "flash or PSRAM accessed through the cache while it was disabled (an ISR not in IRAM?)",
    "Instruction access fault": "jumped to an address that is not executable: a bad function pointer (see MEPC)",
    "Load access fault": _NULL_HINT + " (load): see MTVAL, 0 means a NULL pointer",
    "Store access fault": _NULL_HINT + " (store): see MTVAL, 0 means a NULL pointer",
    "Instruction address misaligned": "jump to a misaligned address: a corrupted function pointer or return address",
    "Load address misaligned": "unaligned read: e.g. a 32-bit read from an address that is not a multiple of 4",
    "Store address misaligned": "unaligned write: e.g. a 32-bit write to an address that is not a multiple of 4",
    "Breakpoint": "EBREAK executed: on ESP-IDF usually the FreeRTOS end-of-stack watchpoint, i.e. a stack overflow",
    "Stack protection fault": "the hardware stack guard fired: a task overflowed its stack",
    "Memory protection fault": "memory protection stopped a write to IRAM or execution from data RAM",
    "abort": "abort() was called: see the abort line before it",
}

#: ESP8266 "Exception (N)" -> meaning (Xtensa EXCCAUSE numbers).
ESP8266_EXCEPTIONS: dict[int, str] = {
    0: "illegal instruction: a bad function pointer or code not in flash/IRAM",
    2: "instruction fetch error: a jump to a bad address",
    3: "load/store error: a byte access to IRAM or flash data (PROGMEM read without pgm_read_*)",
    4: "level-1 interrupt: an interrupt handler crashed or is not in IRAM (ICACHE_RAM_ATTR)",
    6: "integer division by zero",
    9: "unaligned load or store",
    20: "jumped to an address that is not code: a bad function pointer",
    28: "invalid read (LoadProhibited): excvaddr 0 or small means a NULL pointer",
    29: "invalid write (StoreProhibited): excvaddr 0 or small means a NULL pointer",
}
