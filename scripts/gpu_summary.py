#!/usr/bin/env python3
"""Writes OUTDIR/summary.json from what scripts/gpu_check.sh recorded in its work folder.

gpu_check.sh calls this after every stage, so summary.json always holds every stage finished so
far. The work folder holds plain text the shell writes:
  meta.txt        key=value lines: the run (started, commit, mode, device, budget, ...)
  libraries.txt   key=value lines: each library the binaries load -> the file ldd resolved
  python.txt      key=value lines: versions of the Python distributions the libraries came from
  stages.tsv      one line per finished stage: name, status, seconds, limit, log, note
  figures/NAME.txt  key<TAB>value lines: a stage's figures (numbers stay numbers)
  json/NAME.json    JSON a stage produced (the workbenches' tables), embedded under "results"

usage: gpu_summary.py WORKDIR OUTDIR [RESULT]
"""
import json
import os
import sys


def pairs(path, separator, convert=str):
    """The key-value lines of a file (those holding the separator); {} when it is absent."""
    out = {}
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            key, sep, value = line.rstrip("\n").partition(separator)
            if sep:
                out[key] = convert(value)
    return out


def number_or_text(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def stages(work):
    out = []
    path = os.path.join(work, "stages.tsv")
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            cells = line.rstrip("\n").split("\t")
            if len(cells) < 6:
                continue
            name, status, seconds, limit, log, note = cells[:6]
            out.append({
                "name": name,
                "status": status,
                "seconds": number_or_text(seconds),
                "limit_s": number_or_text(limit),
                "log": log or None,
                "note": note or None,
                "figures": pairs(os.path.join(work, "figures", name + ".txt"), "\t", number_or_text),
            })
    return out


def results(work):
    out = {}
    folder = os.path.join(work, "json")
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                try:
                    out[name[:-5]] = json.load(open(os.path.join(folder, name)))
                except (OSError, ValueError) as e:
                    out[name[:-5]] = {"error": "unreadable: %s" % e}
    return out


def main():
    work, outdir = sys.argv[1], sys.argv[2]
    meta = pairs(os.path.join(work, "meta.txt"), "=")
    summary = {key: number_or_text(value) for key, value in meta.items()}
    summary["result"] = sys.argv[3] if len(sys.argv) > 3 else "running"
    summary["libraries"] = pairs(os.path.join(work, "libraries.txt"), "=")
    summary["python_packages"] = pairs(os.path.join(work, "python.txt"), "=")
    summary["stages"] = stages(work)
    summary["results"] = results(work)
    tmp = os.path.join(outdir, ".summary.json.tmp")
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(outdir, "summary.json"))


if __name__ == "__main__":
    main()
