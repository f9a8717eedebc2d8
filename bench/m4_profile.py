#!/usr/bin/env python3
"""Instructions per node of a model run on a Cortex-M4 under QEMU (bench/m4_profile.sh).

usage: m4_profile.py ELF QEMU_LOG MODEL_LL
QEMU_LOG comes from `-d in_asm,exec,nochain` (every executed translation block is logged, its
instruction count is read from the in_asm listing of the block). Kiln's node functions are
private (no symbols): their addresses are the targets of net_run_ws's calls, in the order of the
calls of the `--emit llvm` module (net.N.Op). Nodes of equal shape share one kernel (LLVM's
mergefunc at -O1 and up): its count is under the first such node's name. Everything else is
attributed to ELF symbols."""
import bisect
import collections
import re
import subprocess
import sys

elf, log, ll = sys.argv[1:4]
syms = []
for line in subprocess.run(["arm-none-eabi-nm", "-n", elf], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    f = line.split()
    if len(f) == 3 and f[1] in "tTwW":
        syms.append((int(f[0], 16), f[2]))
names = []
in_run = False
for line in open(ll):
    in_run = in_run or line.startswith("define") and "_run_ws(" in line
    m = re.search(r"call fastcc (?:void|i32) @([\w.]+)\(", line) if in_run else None
    if m:
        names.append(m.group(1))
    if in_run and line.startswith("}"):
        break
names = list(dict.fromkeys(names))  # nodes of equal shape share one merged kernel (mergefunc)
asm = subprocess.run(["arm-none-eabi-objdump", "-d", elf, "--disassemble=net_run_ws"],
                     capture_output=True, text=True, check=True).stdout
targets = [int(t, 16) for t in re.findall(r"\s(?:bl|b\.w|b)\s+([0-9a-f]+) <", asm)]
targets = [t for t in dict.fromkeys(targets) if t not in {a for a, _ in syms}]
if len(targets) == len(names):
    syms += list(zip(targets, names))
else:  # calls the compiler merged or inlined: number them
    syms += [(t, f"node{i}") for i, t in enumerate(targets)]
syms.sort()
addrs = [a for a, _ in syms]
size, execs, cur = {}, collections.Counter(), None
trace = re.compile(r"Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
insn = re.compile(r"0x([0-9a-f]+):\s")
with open(log, errors="replace") as fh:
    for line in fh:
        if line.startswith("IN:"):
            cur = None
        elif m := insn.match(line):
            if cur is None:
                cur = int(m.group(1), 16)
                size[cur] = 0
            size[cur] += 1
        elif m := trace.match(line):
            execs[int(m.group(1), 16)] += 1
per = collections.Counter()
for pc, k in execs.items():
    i = bisect.bisect_right(addrs, pc) - 1
    per[syms[i][1] if i >= 0 else "?"] += k * size.get(pc, 0)
total = sum(per.values())
print("| function | instructions | share |\n|---|---:|---:|")
for name, k in per.most_common():
    if k * 1000 >= total:
        print(f"| {name} | {k} | {100 * k / total:.1f}% |")
print(f"| (whole run) | {total} | 100% |")
