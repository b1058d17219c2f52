#!/usr/bin/env bash
# What runtime popcount dispatch costs against the build it replaced, on this machine's CPU, and
# that the shipped build runs on an x86-64 CPU without POPCNT (user-mode QEMU with POPCNT masked).
#
#   experiments/popcount/measure.sh [BASE_COMMIT]      (needs cmake, cc, qemu-user for the last part)
#
# Builds libgcheap_native.so three ways:
#   before    native/ at BASE_COMMIT (default ee9107b) with its CMakeLists: -mpopcnt when the
#             building CPU has it (this machine's does)
#   dispatch  native/ of the work tree as shipped: baseline x86-64, forwarding compiled with and
#             without POPCNT, picked from CPUID at load time
#   libgcc    the work tree with -DGCH_NO_POPCNT_DISPATCH: baseline only (libgcc's __popcountdi2)
# and runs forward_cost on each, alternating, five rounds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
base="${1:-ee9107b}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

mkdir -p "$out/before-src"
git -C "$repo" archive "$base" native | tar -x -C "$out/before-src"
cmake -S "$out/before-src/native" -B "$out/before" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake -S "$repo/native" -B "$out/dispatch" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake -S "$repo/native" -B "$out/libgcc" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-DGCH_NO_POPCNT_DISPATCH >/dev/null
for b in before dispatch libgcc; do cmake --build "$out/$b" >/dev/null; done
cc -O2 -I"$repo/native/include" "$here/forward_cost.c" -o "$out/forward_cost" -ldl

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); popcnt: $(grep -qw popcnt /proc/cpuinfo && echo yes || echo no)"
echo "base commit: $(git -C "$repo" rev-parse --short "$base"); work tree: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- native || echo ' (modified)')"
echo
echo "POPCNT instructions per function (objdump -d):"
for b in before dispatch libgcc; do
  printf '  %-9s %s\n' "$b" "$(objdump -d "$out/$b/libgcheap_native.so" | awk '/^[0-9a-f]+ <.*>:$/{fn=$2} /\tpopcnt /{c[fn]++} END{n=0; for(f in c){printf "%s%s %d", (n++?", ":""), f, c[f]} if(!n) printf "none"}')"
done
echo
echo "ns per forwarded reference into a sparse page (4M references, best and median of 15; load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs):"
for round in 1 2 3 4 5; do
  for b in before dispatch libgcc; do
    printf '  round %d %-9s %s\n' "$round" "$b" "$("$out/forward_cost" "$out/$b/libgcheap_native.so")"
  done
done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if command -v qemu-x86_64 >/dev/null 2>&1; then
  echo
  echo "On an emulated x86-64 CPU without POPCNT (qemu-x86_64 -cpu qemu64,-popcnt), 20k references:"
  for b in before dispatch libgcc; do
    set +e
    res="$(qemu-x86_64 -cpu qemu64,-popcnt "$out/forward_cost" "$out/$b/libgcheap_native.so" 20000 3 2>&1)"
    rc=$?
    set -e
    if [ $rc -gt 128 ]; then res="killed by signal $((rc - 128))$( [ $((rc - 128)) -eq 4 ] && echo ' (SIGILL)')"; fi
    printf '  %-9s exit %d: %s\n' "$b" "$rc" "$res"
  done
else
  echo "(qemu-x86_64 not installed: apt-get install qemu-user for the no-POPCNT check)"
fi
