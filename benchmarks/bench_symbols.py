#!/usr/bin/env python3
"""Benchmark espmon.elf.symbols: opening an ELF, the first lookup, and the steady rates.

    python benchmarks/bench_symbols.py [--elf APP.elf ...] [--cus 150 --funcs 60]

Without --elf it measures the sample firmware ELF (tiny) and, when riscv64-unknown-elf-gcc
is installed, a generated app of the size of a real ESP-IDF one (many CUs, inlined helpers,
cold partitions; -O2 -g), built once into benchmarks/out/. Numbers are printed as a table:

- open: Symbolizer([...]) (section headers only)
- first lookup: the first lookup() of a function in the middle of the ELF (symbols, CU
  index, one CU's line table and DIEs)
- panic: 8 cold lookups in 8 different CUs, as a backtrace needs
- in_code/s: the check the monitor makes on every hex token (half hits, half misses)
- lookup/s cold: distinct addresses, each CU parsed once; lookup/s cached: repeats
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from espmon.elf.symbols import Symbolizer  # noqa: E402

OUT = ROOT / "benchmarks" / "out"

HELPERS = """
static inline __attribute__((always_inline)) int h_add(int a, int b) { if (a > b) { int t = a * 3; return t + b; } return a + b; }
static inline __attribute__((always_inline)) int h_mix(int a, int b) { int r = h_add(a, b); r ^= h_add(b, r); return r; }
static inline int h_loop(int x) { for (int i = 0; i < (x & 7); i++) { x = x * 5 + i; } return x; }
extern volatile int sink;
"""

FUNCTION = """
__attribute__((noinline, cold)) void f{f}_{m}_cold(int x) {{ sink = x; sink = x + 1; }}
int f{f}_{m}(int x)
{{
    int acc = h_mix(x, {m});
    if (__builtin_expect(acc == 12345, 0)) {{
        f{f}_{m}_cold(acc);
        sink = acc * 7;
    }}
    {{
        int local = h_add(acc, x);
        acc += {callee}(local);
    }}
    return acc + h_loop(acc);
}}
"""


def generated_elf(cus: int, funcs: int) -> Path | None:
    gcc = "riscv64-unknown-elf-gcc"
    if not shutil.which(gcc):
        return None
    work = OUT / f"gen-{cus}x{funcs}"
    elf = work / "app.elf"
    if elf.exists():
        return elf
    (work / "src" / "inc").mkdir(parents=True, exist_ok=True)
    (work / "src" / "inc" / "helpers.h").write_text(HELPERS)
    flags = ["-march=rv32imc", "-mabi=ilp32", "-O2", "-g", "-ffreestanding", "-nostdlib",
             f"-fdebug-prefix-map={work}=."]
    objects = []
    for f in range(cus):
        body = ['#include "inc/helpers.h"', "volatile int sink;" if f == 0 else ""]
        body += [FUNCTION.format(f=f, m=m, callee=f"f{f}_{m - 1}" if m else "h_loop")
                 for m in range(funcs)]
        src = work / "src" / f"m{f}.c"
        src.write_text("\n".join(body))
        obj = work / f"m{f}.o"
        subprocess.run([gcc, *flags, "-c", str(src), "-o", str(obj)], check=True, cwd=work)
        objects.append(str(obj))
    subprocess.run([gcc, *flags, "-nostartfiles", "-Wl,-e,f0_0", "-Wl,-Ttext=0x42000020",
                    *objects, "-lgcc", "-o", str(elf)], check=True, cwd=work)
    return elf


def function_starts(elf: Path) -> list[tuple[int, int]]:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return sorted((s["st_value"], s["st_size"]) for s in symtab.iter_symbols()
                      if s["st_info"]["type"] == "STT_FUNC" and s["st_size"] > 4)


def measure(elf: Path) -> dict[str, float]:
    funcs = function_starts(elf)
    rng = random.Random(1)
    t0 = time.perf_counter()
    sym = Symbolizer([elf])
    t_open = time.perf_counter() - t0

    mid_start, mid_size = funcs[len(funcs) // 2]
    t0 = time.perf_counter()
    first = sym.lookup(mid_start + mid_size // 2)
    t_first = time.perf_counter() - t0
    assert first, "the first lookup found nothing"

    picks = [funcs[int(len(funcs) * k / 9)] for k in range(1, 9)]
    t0 = time.perf_counter()
    for start, size in picks:
        sym.lookup(start + size // 2)
    t_panic = time.perf_counter() - t0

    tokens = [start + size // 2 for start, size in rng.choices(funcs, k=50_000)]
    tokens += [rng.randrange(0x3FC80000, 0x3FD00000) for _ in range(50_000)]
    t0 = time.perf_counter()
    hits = sum(map(sym.in_code, tokens))
    t_in_code = time.perf_counter() - t0
    assert hits >= 50_000

    cold = [start + rng.randrange(max(size, 1)) for start, size in funcs][:5000]
    t0 = time.perf_counter()
    for address in cold:
        sym.lookup(address)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for address in cold * 20:
        sym.lookup(address)
    t_cached = time.perf_counter() - t0
    sym.close()
    return {
        "size_mb": elf.stat().st_size / 1e6, "functions": len(funcs),
        "open_ms": t_open * 1e3, "first_ms": t_first * 1e3, "panic_ms": t_panic * 1e3,
        "in_code_per_s": len(tokens) / t_in_code, "cold_per_s": len(cold) / t_cold,
        "cached_per_s": len(cold) * 20 / t_cached,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elf", type=Path, action="append", help="measure this ELF (repeatable)")
    parser.add_argument("--cus", type=int, default=150, help="CUs of the generated app")
    parser.add_argument("--funcs", type=int, default=60, help="functions per generated CU")
    args = parser.parse_args()
    elfs = args.elf or [ROOT / "samples" / "firmware" / "esp32c3" / "app.elf"]
    if not args.elf:
        generated = generated_elf(args.cus, args.funcs)
        if generated is None:
            print("(riscv64-unknown-elf-gcc not installed: no generated app)")
        else:
            elfs.append(generated)
    print(f"{'ELF':<40} {'MB':>6} {'funcs':>6} {'open ms':>8} {'1st ms':>7} {'panic ms':>9} "
          f"{'in_code/s':>10} {'cold/s':>8} {'cached/s':>9} {'maxRSS MiB':>10}")
    for elf in elfs:
        r = measure(elf)
        name = str(elf.relative_to(ROOT)) if elf.is_relative_to(ROOT) else str(elf)
        print(f"{name[-40:]:<40} {r['size_mb']:>6.1f} {r['functions']:>6} {r['open_ms']:>8.1f} "
              f"{r['first_ms']:>7.1f} {r['panic_ms']:>9.1f} {r['in_code_per_s']:>10.0f} "
              f"{r['cold_per_s']:>8.0f} {r['cached_per_s']:>9.0f} {r['rss_mib']:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
