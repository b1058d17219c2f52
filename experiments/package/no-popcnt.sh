#!/usr/bin/env bash
# The packed GcHeap on an x86-64 CPU without POPCNT: packs src/GcHeap, installs the package into a
# throw-away console project, and runs it natively and under user-mode QEMU with POPCNT masked
# (qemu-x86_64 -cpu qemu64,-popcnt; apt-get install qemu-user). The native library's forwarding
# functions exist in a POPCNT and a baseline copy, chosen from CPUID when the library loads; a
# build with -mpopcnt dies there with SIGILL (experiments/popcount/measure.sh shows that part).
# QEMU does not emulate userfaultfd, so the emulated run uses StopTheWorld, whose compaction runs
# the same forwarding code.
#
#   experiments/package/no-popcnt.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
command -v qemu-x86_64 >/dev/null || { echo "needs qemu-x86_64 (apt-get install qemu-user)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

dotnet pack "$repo/src/GcHeap" -c Release --nologo -o "$work/feed" >/dev/null
nupkg="$(ls "$work"/feed/GcHeap.*.nupkg)"
version="$(basename "$nupkg" .nupkg)"; version="${version#GcHeap.}"
echo "package: $(basename "$nupkg") ($(git -C "$repo" rev-parse --short HEAD))"

mkdir "$work/app"
cd "$work/app"
echo '<Project />' >Directory.Build.props
cat >nuget.config <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config><add key="globalPackagesFolder" value="$work/packages" /></config>
  <packageSources><add key="local" value="$work/feed" /></packageSources>
  <fallbackPackageFolders><add key="machine" value="${NUGET_PACKAGES:-$HOME/.nuget/packages}" /></fallbackPackageFolders>
</configuration>
XML
cat >App.csproj <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
  <ItemGroup><PackageReference Include="GcHeap" Version="$version" /></ItemGroup>
</Project>
XML
cat >Program.cs <<'CS'
using GcHeap;

using var heap = new Heap(new HeapOptions { MaxHeapBytes = 32L << 20, BackgroundCollection = false });
Console.WriteLine($"backend {heap.Backend}: {heap.BackendReason}");
var cell = heap.Types.DefineObject("Cell", t => t.Reference("next").Value<long>("n"));
var next = cell.RefField("next");
var n = cell.Field<long>("n");
using var m = heap.AttachCurrentThread();
GcRoot head;
using (m.OpenScope())
{
    head = m.CreateRoot(m.Allocate(cell));
}

// A list of 5,000 cells among 45,000 dead ones: sparse pages whose references must be forwarded.
for (int i = 1; i <= 50_000; i++)
{
    using var scope = m.OpenScope();
    var c = m.Allocate(cell);
    m.Set(c, n, i);
    if (i % 10 == 0)
    {
        m.SetRef(c, next, m.GetRef(head.Ref, next));
        m.SetRef(head.Ref, next, c);
    }
}

var s = heap.Collect();
long sum = 0, count = 0;
using (m.OpenScope())
{
    for (var c = m.GetRef(head.Ref, next); !c.IsNull; c = m.GetRef(c, next))
    {
        sum += m.Get(c, n);
        count++;
    }
}

Console.WriteLine($"collected with {s.Backend}: {s.LiveObjects} live objects, {s.PagesCompacted} pages packed, {s.RefsFixed} references forwarded");
Console.WriteLine($"list after the collection: {count} cells, sum {sum} (expected 5000 cells, sum {Enumerable.Range(1, 5000).Sum(k => 10L * k)})");
Console.WriteLine(heap.Verify().IsValid ? "verified" : "VERIFICATION FAILED");
CS
dotnet build -c Release --nologo -v q >/dev/null
dll="$work/app/bin/Release/net10.0/App.dll"
echo "native library in the app: $(cd "$work/app/bin/Release/net10.0" && ls runtimes/*/native/*.so)"

echo
echo "== this machine's CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), popcnt: $(grep -qw popcnt /proc/cpuinfo && echo yes || echo no))"
dotnet "$dll"
echo
echo "== qemu-x86_64 -cpu qemu64,-popcnt"
qemu-x86_64 -cpu qemu64,-popcnt "$(readlink -f "$(command -v dotnet)")" "$dll"
