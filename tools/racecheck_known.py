"""Whether a compute-sanitizer racecheck log of the kernel check holds only
the hazards racecheck reports on the tiled row scan's hand-offs.

The tiles of cuda/mi_rows_cuda.cu pass each row's value on through a peer's
shared memory and a flag (a release store, read by acquire spins): racecheck
models barriers, not acquire/release on flags, so it reports every such pair
as a race (notes/gpu_kernels.md). This passes a log whose every reported race
has both sides in those hand-off functions, whose kernel check ran to its
end with no failure, that reports at least one race (it is for a racecheck
that failed), and whose report was not cut short (run racecheck with
--print-limit 0). Exit 0 and a summary line, or 1 and the first offending
report.

  python3 tools/racecheck_known.py $OUT/sanitizer_racecheck.log
"""

import re
import sys

HANDOFF = re.compile(r"::(AwaitFlag|ReleaseFlag|Handoff<\w+>::(Await|Send))\(")
RACE = re.compile(r"Race reported between (.*)")
AND = re.compile(r"^=+\s+and (.*)")


def main(path):
    lines = open(path, errors="replace").read().splitlines()
    races = 0
    for i, line in enumerate(lines):
        first = RACE.search(line)
        if not first:
            continue
        races += 1
        second = AND.search(lines[i + 1]) if i + 1 < len(lines) else None
        sides = [first.group(1), second.group(1) if second else ""]
        if not all(HANDOFF.search(side) for side in sides):
            print(f"racecheck: a race outside the tiled hand-offs:\n  {line}\n  {lines[i + 1]}")
            return 1
    summary = [m for line in lines if (m := re.search(r"(\d+) passed, (\d+) failed", line))]
    if not summary or summary[-1].group(2) != "0" or summary[-1].group(1) == "0":
        print("racecheck: the kernel check did not end with cases passed and 0 failed")
        return 1
    if races == 0:  # it is run on a failed racecheck: something else failed
        print("racecheck: no race reported in the log; the failure is something else")
        return 1
    if races == 100:  # compute-sanitizer's default print limit
        print("racecheck: exactly 100 reports, the default print limit; use --print-limit 0")
        return 1
    print(
        f"racecheck: {races} reported races, all at the tiled row scan's flag hand-offs; "
        f"{summary[-1].group(0)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
