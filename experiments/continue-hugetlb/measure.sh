#!/bin/sh
# measure.sh OUT_DIR [PAGES] - the Continue backend on 2 MiB hugetlbfs pages, next to 4 KiB Continue
# and Move, on the compare workload (64 and 256 MiB live), plus the hugetlbfs tests.
#
# The project never requires a sysctl change: this script sets vm.nr_hugepages to PAGES (default
# 1100: both spaces of the 256 MiB case, 2 x 768 MiB) for its own run only and restores the old
# value on exit, whatever happens. Run it under flock /work/measure.lock; needs root.
set -eu
OUT=${1:?usage: measure.sh OUT_DIR [PAGES]}
PAGES=${2:-1100}
mkdir -p "$OUT"
old=$(cat /proc/sys/vm/nr_hugepages)
trap 'echo "$old" > /proc/sys/vm/nr_hugepages; echo "vm.nr_hugepages restored to $(cat /proc/sys/vm/nr_hugepages)" >> "$OUT/hugepages.txt"' EXIT
echo "$PAGES" > /proc/sys/vm/nr_hugepages
{ echo "vm.nr_hugepages was $old, set to $PAGES for this run"; grep -E 'HugePages_|Hugepagesize' /proc/meminfo; } > "$OUT/hugepages.txt"

dotnet test tests/GcHeap.Tests -c Release --no-build --filter "FullyQualifiedName~ContinueHugePageTests" --logger "console;verbosity=normal" > "$OUT/hugetlb-tests.txt" 2>&1 || true

run() { # name, extra options...
    name=$1; shift
    dotnet run -c Release --no-build --project experiments/GcHeap.Experiments -- compare --sizes 64,256 -q "$@" --json "$OUT/$name.json" > "$OUT/$name.txt" 2> "$OUT/$name.stderr.txt" || echo "exit $?" >> "$OUT/$name.stderr.txt"
}
run compare-hugetlb --backends continue,move --option ContinueHugePages=true
run compare-4k --backends continue,move
