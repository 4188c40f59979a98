"""Panic dumps, one line at a time: ESP-IDF (Xtensa and RISC-V) and ESP8266 post-mortems.

``match_fatal`` recognises the first line of a fatal error; ``IdfPanic`` and ``PostMortem``
collect the lines that follow (registers, backtrace, stack) until something that is not
part of the dump arrives, then ``finish`` builds the ``Panic`` event. Pure and tolerant:
register cells in any spacing, upper-case hex, glued backtrace frames, host-tool
annotation lines (idf_monitor, espflash, PlatformIO) mixed in.
"""

from __future__ import annotations

import re

from parsers.device_events import (
    Abort, AssertFailed, Backtrace, CoreDump, DeviceEvent, Esp8266Exception, GuruMeditation,
    HeapCorruption, Panic, SoftWatchdog, StackOverflow, StackSmashing, TaskWatchdog,
)

__all__ = [
    "XTENSA_EXCCAUSE", "RISCV_MCAUSE", "match_fatal", "match_post_mortem", "parse_backtrace", "parse_registers",
    "IdfPanic", "PostMortem", "TaskWatchdogList",
]

#: Xtensa EXCCAUSE -> the name ESP-IDF's panic handler prints (ESP8266 prints the number only).
XTENSA_EXCCAUSE = {
    0: "IllegalInstruction", 1: "Syscall", 2: "InstructionFetchError", 3: "LoadStoreError",
    4: "Level1Interrupt", 5: "Alloca", 6: "IntegerDivideByZero", 7: "PCValue", 8: "Privileged",
    9: "LoadStoreAlignment", 12: "InstrPDAddrError", 13: "LoadStorePIFDataError",
    14: "InstrPIFAddrError", 15: "LoadStorePIFAddrError", 16: "InstTLBMiss", 17: "InstTLBMultiHit",
    18: "InstFetchPrivilege", 20: "InstrFetchProhibited", 24: "LoadStoreTLBMiss",
    25: "LoadStoreTLBMultihit", 26: "LoadStorePrivilege", 28: "LoadProhibited", 29: "StoreProhibited",
}

#: RISC-V MCAUSE -> the name ESP-IDF prints.
RISCV_MCAUSE = {
    0: "Instruction address misaligned", 1: "Instruction access fault", 2: "Illegal instruction",
    3: "Breakpoint", 4: "Load address misaligned", 5: "Load access fault", 6: "Store address misaligned",
    7: "Store access fault", 8: "Environment call from U-mode", 9: "Environment call from S-mode",
    11: "Environment call from M-mode", 12: "Instruction page fault", 13: "Load page fault", 15: "Store page fault",
}
# EXCCAUSE values that name the cause even without the Guru line; others (1, 5, 6, 7...) also
# serve as the panic handler's pseudo-cause index (interrupt watchdog, cache error) and would mislead.
_TRUSTED_EXCCAUSE = (0, 2, 3, 9, 20, 28, 29)

_HEX = r"0x([0-9a-fA-F]{1,8})"

# Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.
# (a cut line has no closing parenthesis; a terminal may pad "Guru Meditation   Error")
_GURU = re.compile(r"Guru Meditation\s*Error:?\s*Core\s*(\d+)\s*panic'ed\s*\(([^)]*)\)?\.?\s*(.*)")
# Guru Meditation Error of type LoadProhibited occurred on core  0. Exception was unhandled.
_GURU_OLD = re.compile(r"Guru Meditation Error of type (\w+) occurred on core\s*(\d+)\.?\s*(.*)")
# abort() was called at PC 0x400d2c6f on core 0
_ABORT = re.compile(r"abort\(\) was called(?: at PC " + _HEX + r")?(?: on core (\d+))?")
# assert failed: xQueueSemaphoreTake queue.c:1549 (pxQueue->uxItemSize == 0)
_ASSERT = re.compile(r"assert failed:\s*(\S+)\s+([^\s:]+):(\d+)\s*(?:\((.*)\))?")
_ASSERT_SILENT = re.compile(r"assert failed:\s*" + _HEX)
# /home/x/esp-idf/components/freertos/./queue.c:1441 (xQueueGenericReceive)- assert failed!
_ASSERT_OLD = re.compile(r"(\S+):(\d+) \((\S+)\)\s*- assert failed!")
# assertion "head != NULL" failed: file "multi_heap_poisoning.c", line 201, function: multi_heap_free
_ASSERT_NEWLIB = re.compile(r'assertion "(.*)" failed: file "([^"]*)", line (\d+)(?:, function: (\S+))?')
# ***ERROR*** A stack overflow in task main has been detected.
_OVERFLOW = re.compile(r"A stack overflow in task (.*?) has been detected")
# Debug exception reason: Stack canary watchpoint triggered (main)
_CANARY = re.compile(r"Stack canary watchpoint triggered \((.*?)\)")
# Backtrace: 0x400e14ed:0x3ffb5030 0x400d0802:0x3ffb5050 |<-CORRUPTED   (pairs may be glued)
_FRAME = re.compile(_HEX + ":" + _HEX)
# PC      : 0x400e14ed  PS      : 0x00060030  A0      : 0x800d0805  A1      : 0x3ffb5030
_REG = re.compile(r"([A-Z][A-Z0-9]*(?:/[A-Z0-9]+)?)\s*:\s*0x([0-9a-fA-F]{1,8})")
_REG_LINE = re.compile(r"(?:PC|PS|A\d\d?|SAR|EXC\w+|LBEG|LEND|LCOUNT|EPC\d|MEPC|RA|SP|GP|TP|T\d|S\d\d?(?:/FP)?"
                       r"|MSTATUS|MTVEC|MCAUSE|MTVAL|MHARTID)\s*:\s*0x")
# Core  0 register dump:            Core  1 was running in ISR context:
_CORE_DUMP = re.compile(r"Core\s*(\d+)\s*register dump")
# 3fc8f2f0: 0x00000004 0x3fc9f3dc ...   (RISC-V "Stack memory:")
_STACK_WORDS = re.compile(r"([0-9a-fA-F]{8}):((?:\s+0x[0-9a-fA-F]{8})+)")
# ELF file SHA256: 1d2f...
_SHA = re.compile(r"ELF file SHA256:\s*([0-9a-fA-F]+)")
# lines a host tool inserted: "0x400e14ed: app_main at main.cpp:36", "--- 0x…", "  #0  0x…", "    at ??:??"
_HOST_LINE = re.compile(r"(?:-+ )?0x[0-9a-fA-F]{8}(?::| -| in )|#\d+\s+0x|\(inlined by\)|at \S+:\S+$|Stack dump detected"
                        r"|Backtrace stopped|\d+\t")
_ENDERS = ("Rebooting", "CPU halted", "Entering gdb stub", "Setting breakpoint")


def parse_backtrace(text: str) -> tuple[tuple[tuple[int, int], ...], bool, bool]:
    """Frames (PC, SP), corrupted, continues from the text after ``Backtrace:``."""
    frames = tuple((int(pc, 16), int(sp, 16)) for pc, sp in _FRAME.findall(text))
    return frames, "CORRUPTED" in text, "CONTINUES" in text


def parse_registers(text: str) -> dict[str, int]:
    return {name: int(value, 16) for name, value in _REG.findall(text)}


def match_fatal(text: str, n: int) -> tuple[str, str, int | None, DeviceEvent] | None:
    """(kind, cause, core, event) when ``text`` is the first line of a fatal error."""
    if "Guru Meditation" in text:
        m = _GURU.search(text)
        if m:
            core, cause = int(m[1]), m[2].strip()
            return "guru", cause, core, GuruMeditation(n, core, cause, m[3].strip())
        m = _GURU_OLD.search(text)
        if m:
            core = int(m[2])
            return "guru", m[1], core, GuruMeditation(n, core, m[1], m[3].strip())
        return "guru", "", None, GuruMeditation(n, None, "")
    if "abort() was called" in text:
        m = _ABORT.search(text)
        pc = int(m[1], 16) if m and m[1] else None
        core = int(m[2]) if m and m[2] else None
        return "abort", text[text.find("abort()"):].strip(), core, Abort(n, pc, core)
    if "assert" in text:
        event = _assert(text, n)
        if event is not None:
            return "assert", text.strip(), None, event
    if "stack overflow" in text:
        m = _OVERFLOW.search(text)
        if m or "***ERROR***" in text:
            return "stack_overflow", text.strip(" *"), None, StackOverflow(n, m[1] if m else None)
    if "Stack smashing protect failure" in text:
        return "stack_smashing", text.strip(), None, StackSmashing(n)
    if "CORRUPT HEAP" in text:
        return "heap", text.strip(), None, HeapCorruption(n, text[text.find("CORRUPT HEAP"):].strip())
    return None


def _assert(text: str, n: int) -> AssertFailed | None:
    m = _ASSERT.search(text)
    if m:
        return AssertFailed(n, m[1], m[2], int(m[3]), m[4])
    m = _ASSERT_SILENT.search(text)
    if m:
        return AssertFailed(n, None, None, None, None)
    m = _ASSERT_OLD.search(text)
    if m:
        return AssertFailed(n, m[3], m[1], int(m[2]), None)
    m = _ASSERT_NEWLIB.search(text)
    if m:
        return AssertFailed(n, m[4], m[2], int(m[3]), m[1])
    if "assert failed" in text:
        return AssertFailed(n, None, None, None, None)
    return None


class _StackBytes:
    """Collects ``addr: words`` lines into contiguous little-endian bytes."""

    MAX_GAP = 4096  # pad a gap (a line lost in a paste) up to this, else just append

    def __init__(self) -> None:
        self.base: int | None = None
        self.data = bytearray()

    def add(self, address: int, words: list[int]) -> None:
        if self.base is None:
            self.base = address
        expected = self.base + len(self.data)
        if 0 < address - expected <= self.MAX_GAP:
            self.data += bytes(address - expected)
        for word in words:
            self.data += (word & 0xFFFFFFFF).to_bytes(4, "little")


class IdfPanic:
    """An ESP-IDF panic dump in progress (Guru Meditation, abort, assert, stack overflow...)."""

    MAX_LINES = 600  # a panic longer than this is not a panic any more (bounded state)
    MAX_UNKNOWN = 3  # unrelated lines tolerated inside a dump before the backtrace

    def __init__(self, n: int, kind: str, cause: str, core: int | None, arch: str | None) -> None:
        self.first, self.last = n, n
        self.kind, self.cause, self.core, self.arch = kind, cause, core, arch
        self.dumps: list[list] = []  # [core, registers, frames, corrupted, continues]
        self.sha: str | None = None
        self.details: list[str] = []
        self.stack: _StackBytes | None = None
        self.in_stack = False
        self.done = False  # backtrace or stack seen: the next unknown line ends the dump
        self.complete = False  # nothing more to come: report the dump now
        self.unknown = 0

    def merge_header(self, kind: str, cause: str, core: int | None) -> bool:
        """A second header (abort after stack overflow, 2017's Guru-after-abort) joins this
        dump while no registers/backtrace were printed yet; else a new dump starts."""
        if self.dumps or self.done:
            return False
        if self.core is None:
            self.core = core
        if kind == "guru" and self.kind != "guru":
            self.details.append(cause)
        return True

    def take(self, text: str, n: int) -> tuple[bool, list[DeviceEvent]]:
        """(consumed, events at once) for one more line; not consumed ends the dump."""
        if n - self.first > self.MAX_LINES:
            return False, []
        s = text.strip()
        if not s:
            return True, []
        if self.in_stack:
            m = _STACK_WORDS.match(s)
            if m:
                self.stack.add(int(m[1], 16), [int(w, 16) for w in m[2].split()])
                self.last = n
                return True, []
            if not _HOST_LINE.match(s):
                self.in_stack = False
        first = s[0]
        if first in "ABCDEGLMPRST":
            taken = self._known(s, n)
            if taken is not None:
                self.unknown = 0
                self.last = n
                return True, taken
        if s.startswith(_ENDERS) or "SP-ROM:" in s or s.startswith(("ets ", "rst:")):
            return False, []
        if _HOST_LINE.match(s):
            return True, []
        fatal = match_fatal(s, n)
        if fatal is not None:
            if self.merge_header(*fatal[:3]):
                self.last = n
                return True, [fatal[3]]
            return False, []
        self.unknown += 1
        if self.done or self.unknown > self.MAX_UNKNOWN or (first in "EWIDV" and s[1:3] == " ("):
            return False, []
        if len(self.details) < 8 and not self.dumps:
            self.details.append(s)
        return True, []

    def _known(self, s: str, n: int) -> list[DeviceEvent] | None:
        if s.startswith("Backtrace"):
            frames, corrupted, continues = parse_backtrace(s[9:])
            if not self.dumps:
                self.dumps.append([self.core, {}, (), False, False])
            dump = self.dumps[-1]
            dump[2], dump[3], dump[4] = dump[2] + frames, dump[3] or corrupted, dump[4] or continues
            self.done = True
            return [Backtrace(n, frames, corrupted, continues)]
        m = _CORE_DUMP.match(s)
        if m:
            core = int(m[1])
            if self.core is None:
                self.core = core
            self.dumps.append([core, {}, (), False, False])
            return []
        if _REG_LINE.match(s):
            regs = parse_registers(s)
            if not self.dumps:
                self.dumps.append([self.core, {}, (), False, False])
            self.dumps[-1][1].update(regs)
            if self.arch is None:
                self.arch = "riscv" if ("MEPC" in regs or "MCAUSE" in regs) else "xtensa" if "PC" in regs else None
            return []
        if s.startswith("Core") and "ISR context" in s:
            return []
        if s.startswith("Stack memory"):
            self.stack = self.stack or _StackBytes()
            self.in_stack = self.done = True
            return []
        m = _SHA.match(s)
        if m:
            self.sha = m[1]
            self.complete = self.done  # IDF >= 4.2 ends the dump here (older ones print it first)
            return []
        if s.startswith(("Memory dump at", "Debug exception reason", "Exception was unhandled", "MTVAL", "Detail")):
            self.details.append(s)
            m = _CANARY.search(s)
            return [StackOverflow(n, m[1])] if m else []
        return None

    def _inferred_cause(self, regs: dict[str, int]) -> str:
        """The cause a dump pasted without its Guru line still shows in its registers."""
        if "EXCCAUSE" in regs and regs["EXCCAUSE"] in _TRUSTED_EXCCAUSE:
            return XTENSA_EXCCAUSE[regs["EXCCAUSE"]]
        if "MCAUSE" in regs and not regs["MCAUSE"] >> 31:  # the top bit set means an interrupt
            return RISCV_MCAUSE.get(regs["MCAUSE"], "")
        return ""

    def finish(self) -> Panic:
        main = self.dumps[0] if self.dumps else [self.core, {}, (), False, False]
        if not self.cause:
            self.cause = self._inferred_cause(main[1])
        others = tuple(CoreDump(d[0], d[1], d[2], d[3]) for d in self.dumps[1:])
        stack = bytes(self.stack.data) if self.stack and self.stack.data else None
        return Panic(
            self.first, self.arch, self.core, self.cause, self.kind, main[1], main[2], main[3], main[4],
            stack, self.stack.base if stack else None, self.sha, tuple(self.details), others, self.last,
        )


# --- task watchdog -------------------------------------------------------------------

_CPU_TASK = re.compile(r"CPU \d+: ")


class TaskWatchdogList:
    """The lines after ``Task watchdog got triggered``: which tasks, what ran where."""

    def __init__(self, n: int) -> None:
        self.first = n
        self.tasks: list[str] = []
        self.running: list[str] = []

    MAX_ENTRIES = 64  # bounded state, whatever the stream

    def take(self, message: str) -> str:
        """``more``, ``last`` (``Aborting.``) or ``no`` (not part of the list)."""
        s = message.strip()
        if len(self.tasks) + len(self.running) >= self.MAX_ENTRIES:
            return "no"
        if s.startswith("- "):
            self.tasks.append(s[2:].strip())
        elif _CPU_TASK.match(s):
            self.running.append(s)
        elif s == "Aborting.":
            return "last"
        elif not s.startswith(("Tasks currently running", "Print CPU")):
            return "no"
        return "more"

    def finish(self) -> TaskWatchdog:
        return TaskWatchdog(self.first, tuple(self.tasks), tuple(self.running))


# --- ESP8266 ------------------------------------------------------------------------

# Exception (28):          Fatal exception (28):          Fatal exception 28(LoadProhibitedCause):
_EXCEPTION = re.compile(r"(?:Fatal e|E)xception\s*\(?(\d+)\)?\s*(?:\((\w+)\))?:?")
# epc1=0x4000bf80 epc2=0x00000000 epc3=0x00000000 excvaddr=0x00000000 depc=0x00000000 (or comma separated, or one a line)
_EPC = re.compile(r"(epc1|epc2|epc3|excvaddr|depc|excsave1)=0x([0-9a-fA-F]{1,8})")
# 3fffff70:  3fff1114 401017a7 00000000 00000000  <
_PM_WORDS = re.compile(r"([0-9a-fA-F]{8}):\s+((?:[0-9a-fA-F]{8}\s*){1,4})")
_PM_HEADERS = ("Soft WDT reset", "Panic ", "Unhandled C++ exception", "Abort called", "Stack overflow detected",
               "Generic Reset", "User exception")


def match_post_mortem(text: str, n: int) -> tuple[str, str, list[DeviceEvent]] | None:
    """(kind, cause, events) when ``text`` opens an ESP8266 crash report."""
    if "xception" in text:
        m = _EXCEPTION.match(text)
        if m:
            number = int(m[1])
            cause = m[2].removesuffix("Cause") if m[2] else XTENSA_EXCCAUSE.get(number, f"exception {number}")
            return "exception", cause, []
    if text.startswith(_PM_HEADERS):
        if text.startswith("Soft WDT"):
            return "soft_wdt", "Soft WDT reset", [SoftWatchdog(n)]
        if text.startswith("Stack overflow"):
            return "stack_overflow", text, [StackOverflow(n, None)]
        if "Assertion" in text:
            event = AssertFailed(n, None, None, None, None)
            m = re.match(r"Panic (\S+):(\d+) (\S+?):? Assertion '(.*)' failed", text)
            if m:
                event = AssertFailed(n, m[3], m[1], int(m[2]), m[4])
            return "assert", text, [event]
        return "abort" if text.startswith("Abort") else "panic", text, []
    if text.startswith((">>>stack>>>", "--------------- CUT HERE")):
        return "exception", "", []
    return None


class PostMortem:
    """An ESP8266 crash report in progress (Arduino core post-mortem or SDK fatal exception)."""

    MAX_LINES = 600

    def __init__(self, n: int, kind: str, cause: str, text: str) -> None:
        self.first, self.last = n, n
        self.kind, self.cause = kind, cause
        self.number: int | None = None
        self.regs: dict[str, int] = {}
        self.stack = _StackBytes()
        self.in_stack = text.lstrip().startswith(">>>stack>>>")
        self.closed = self.ended = self.reported = False
        self.details: list[str] = []
        self.header = n  # the "Exception (N):" line, which the Esp8266Exception points at
        m = _EXCEPTION.match(text.strip()) if "xception" in text else None
        if m:
            self.number = int(m[1])

    def take(self, text: str, n: int) -> tuple[bool, list[DeviceEvent]]:
        """(consumed, events at once) for one more line; not consumed ends the report."""
        s = text.strip()
        if n - self.first > self.MAX_LINES or (self.ended and s):
            return False, []
        if not s:
            return True, []
        events: list[DeviceEvent] = []
        if s.startswith(">>>stack>>>"):
            self.in_stack = True
        elif s.startswith("<<<stack<<<"):
            self.in_stack, self.closed = False, True
        elif s.startswith("--------------- CUT HERE"):
            # the opening marker (after "User exception ...") belongs to the report; once the
            # report has content, the marker closes it
            self.ended = bool(self.closed or self.regs or self.stack.data or self.number is not None)
        elif self.in_stack and _PM_WORDS.match(s):
            m = _PM_WORDS.match(s)
            self.stack.add(int(m[1], 16), [int(w, 16) for w in m[2].split()])
        elif "=0x" in s and _EPC.search(s):
            self.regs.update((k.upper(), int(v, 16)) for k, v in _EPC.findall(s))
            if "DEPC" in self.regs and not self.reported:
                self.reported = True
                events.append(self._exception(self.header))
        elif s.startswith(("ctx:", "sp:", "last failed alloc")):
            self.details.append(s)
        else:
            head = match_post_mortem(s, n)
            if head is None or self.number is not None or self.regs or self.closed:
                return False, []  # not ours, or a new report (the SDK repeats "Fatal exception")
            kind, cause, events = head
            if kind == "exception":
                m = _EXCEPTION.match(s)
                if m:
                    self.number, self.kind, self.cause, self.header = int(m[1]), kind, cause, n
            else:
                self.kind, self.cause = kind, cause
        self.last = n
        return True, events

    def _exception(self, n: int) -> Esp8266Exception:
        r = self.regs.get
        return Esp8266Exception(n, self.number, self.cause, r("EPC1"), r("EPC2"), r("EPC3"), r("EXCVADDR"), r("DEPC"))

    def finish(self) -> list[DeviceEvent]:
        if self.number is None and not (self.regs or self.stack.data or self.cause):
            return []  # a lone CUT HERE marker: nothing was reported
        events: list[DeviceEvent] = []
        if self.number is not None and not self.reported:
            events.append(self._exception(self.header))
        stack = bytes(self.stack.data) or None
        events.append(Panic(
            self.first, "esp8266", None, self.cause, self.kind, dict(self.regs), (), False, False,
            stack, self.stack.base if stack else None, None, tuple(self.details), (), self.last,
        ))
        return events
