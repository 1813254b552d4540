#!/usr/bin/env python3
"""Rewrite a .cu file into C++ for the CPU emulation (emu_defs.h): kernel launches
`kern<<<grid, block, smem, stream>>>(args);` become `emu::launch(kern, grid, block, smem, stream, args);`
and the dynamic shared-memory declaration becomes a pointer to the emulator's buffer. Project
headers of device code (`#include "kernels/NAME.cuh"`) are inlined first, once each, so the
launches they hold are rewritten too (`#line` keeps compiler messages pointing at the sources)."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
INCLUDE = re.compile(r'^\s*#include\s+"(kernels/[\w/]+\.cuh)"\s*$')


def expand(path, seen):
    out = [f'#line 1 "{path}"\n']
    for number, line in enumerate(open(path).read().splitlines(keepends=True), start=1):
        m = INCLUDE.match(line)
        if m:
            header = os.path.join(ROOT, m.group(1))
            if header not in seen:
                seen.add(header)
                out.append(expand(header, seen))
            out.append(f'#line {number + 1} "{path}"\n')
        elif line.strip() != "#pragma once":
            out.append(line)
    return "".join(out)


src = expand(os.path.abspath(sys.argv[1]), set())
# The kernel name may carry template arguments, nested one level (kern<A, Term<T>>).
launch = re.compile(r"^(\s*)([\w:]+(?:<(?:[^;<>]|<[^;<>]*>)*>)?)<<<(.*?)>>>\((.*?)\);", re.S | re.M)
src, n = launch.subn(lambda m: f"{m.group(1)}emu::launch({m.group(2)}, {m.group(3)}, {m.group(4)});", src)
src = re.sub(r"extern __shared__ __align__\(\d+\) unsigned char (\w+)\[\];", r"unsigned char* \1 = emu::dyn_smem;", src)
if "<<<" in src:
    sys.exit(f"{sys.argv[1]}: a launch was not rewritten")
open(sys.argv[2], "w").write(src)
print(f"{sys.argv[1]}: {n} launches rewritten", file=sys.stderr)
