#!/usr/bin/env python3
"""Reads a run directory's TensorBoard event files with TensorBoard's own loader and prints every
scalar as JSON: {"tag": [[step, value], ...], ...}. Each record's framing is also checked with
TensorBoard's masked CRC32C. The slimssl tests compare this with metrics.jsonl.

usage: read_tensorboard.py RUN_DIR
Exit status 3 when the tensorboard module is not importable (the test then says it skipped)."""
import glob
import json
import os
import struct
import sys

try:
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
except ImportError as e:
    print(f"tensorboard is not importable: {e}", file=sys.stderr)
    sys.exit(3)


def check_framing(path):
    data = open(path, "rb").read()
    at = records = 0
    while at < len(data):
        (length,) = struct.unpack_from("<Q", data, at)
        (length_crc,) = struct.unpack_from("<I", data, at + 8)
        body = data[at + 12 : at + 12 + length]
        (body_crc,) = struct.unpack_from("<I", data, at + 12 + length)
        if masked_crc32c(data[at : at + 8]) != length_crc or masked_crc32c(body) != body_crc:
            raise SystemExit(f"{path}: record {records} fails its CRC")
        at += 12 + length + 4
        records += 1
    return records


def main():
    run = sys.argv[1]
    files = sorted(glob.glob(os.path.join(run, "events.out.tfevents.*")))
    if not files:
        raise SystemExit(f"{run}: no event files")
    for f in files:
        check_framing(f)
    acc = event_accumulator.EventAccumulator(run, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    out = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
