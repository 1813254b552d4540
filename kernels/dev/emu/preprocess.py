#!/usr/bin/env python3
"""Rewrite a .cu file into C++ for the CPU emulation (emu_defs.h): kernel launches
`kern<<<grid, block, smem, stream>>>(args);` become `emu::launch(kern, grid, block, smem, stream, args);`
and the dynamic shared-memory declaration becomes a pointer to the emulator's buffer."""
import re
import sys

src = open(sys.argv[1]).read()
# The kernel name may carry template arguments, nested one level (kern<A, Term<T>>).
launch = re.compile(r"^(\s*)([\w:]+(?:<(?:[^;<>]|<[^;<>]*>)*>)?)<<<(.*?)>>>\((.*?)\);", re.S | re.M)
src, n = launch.subn(lambda m: f"{m.group(1)}emu::launch({m.group(2)}, {m.group(3)}, {m.group(4)});", src)
src = re.sub(r"extern __shared__ __align__\(\d+\) unsigned char (\w+)\[\];", r"unsigned char* \1 = emu::dyn_smem;", src)
if "<<<" in src:
    sys.exit(f"{sys.argv[1]}: a launch was not rewritten")
open(sys.argv[2], "w").write(src)
print(f"{sys.argv[1]}: {n} launches rewritten", file=sys.stderr)
