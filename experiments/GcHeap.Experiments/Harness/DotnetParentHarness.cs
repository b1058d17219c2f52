using System.Diagnostics;
using System.Diagnostics.Tracing;
using GcHeap.Experiments.Results;
using GcHeap.Experiments.Terminal;
using GcHeap.Experiments.Workloads;
using Microsoft.Diagnostics.NETCore.Client;

namespace GcHeap.Experiments.Harness;

/// <summary>
/// The dotnet backend as .NET engineers measure it: the workload runs in a child process (this
/// program again, with --child) that starts suspended; this process attaches a DiagnosticsClient,
/// starts an EventPipe session on the runtime's GC events, resumes the child, reads its pauses
/// with TraceEvent, and merges them with what the child measured about itself.
/// </summary>
internal static class DotnetParentHarness
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private const long GcKeyword = 0x1;

    public static RunResult Run(IWorkload workload, RunSettings s, IReadOnlyList<string> commandLine)
    {
        string childResult = Path.Combine(Path.GetTempPath(), $"gcheap-child-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        var args = commandLine.Concat(["--child", "--child-result", childResult]);
        using var child = ChildProcess.Start(args, new Dictionary<string, string> { ["DOTNET_DefaultDiagnosticPortSuspend"] = "1" });
        var pauses = new EventPipeGcPauses();
        string? externalError = null;
        Thread? reader = null;
        EventPipeSession? session = null;
        try
        {
            var client = WaitForDiagnosticsPort(child);
            session = client.StartEventPipeSession(
                [new EventPipeProvider(RuntimeProvider, EventLevel.Informational, GcKeyword)], requestRundown: false, circularBufferMB: 256);
            var stream = session.EventStream;
            reader = new Thread(() =>
            {
                try
                {
                    pauses.Process(stream);
                }
                catch (Exception e) when (e is IOException or EndOfStreamException or InvalidOperationException)
                {
                    externalError = "reading the EventPipe stream failed: " + e.Message;
                }
            }) { IsBackground = true, Name = "EventPipe reader" };
            reader.Start();
            client.ResumeRuntime();
        }
        catch (Exception e) when (e is ServerNotAvailableException or ServerErrorException or TimeoutException or IOException)
        {
            externalError = "attaching to the child failed: " + e;
            TryResume(child);
        }

        child.WaitForExit();
        if (reader is not null && !reader.Join(TimeSpan.FromSeconds(30)))
        {
            externalError = "the EventPipe stream did not end within 30 s of the child's exit";
        }

        session?.Dispose();
        if (child.ExitCode != 0 || !File.Exists(childResult))
        {
            throw new InvalidOperationException($"The workload's child process failed (exit code {child.ExitCode}).");
        }

        var result = Json.Read<RunResult>(childResult);
        File.Delete(childResult);
        Merge(result, pauses, externalError);
        return result;
    }

    private static DiagnosticsClient WaitForDiagnosticsPort(Process child)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60)) // the test suite starts children on a loaded 2-vCPU machine
        {
            if (child.HasExited)
            {
                throw new InvalidOperationException($"The child exited (code {child.ExitCode}) before its diagnostics port opened.");
            }

            // DiagnosticsClient.GetPublishedProcesses() reads every process's environment and throws
            // when one is not readable, so look for the child's socket directly.
            if (Directory.EnumerateFiles(Path.GetTempPath(), $"dotnet-diagnostic-{child.Id}-*-socket").Any())
            {
                return new DiagnosticsClient(child.Id);
            }

            Thread.Sleep(10);
        }

        throw new TimeoutException("The child's diagnostics port did not appear within 60 s.");
    }

    private static void TryResume(Process child)
    {
        try
        {
            new DiagnosticsClient(child.Id).ResumeRuntime();
        }
        catch (Exception e) when (e is ServerNotAvailableException or ServerErrorException or IOException)
        {
            Term.Info("could not resume the child: " + e.Message);
        }
    }

    private static void Merge(RunResult result, EventPipeGcPauses observed, string? error)
    {
        var measurements = result.Dotnet ??= new DotnetGcMeasurements();
        var inProcess = measurements.InProcess;
        int cutoff = inProcess?.GcIndexAtEnd ?? int.MaxValue;
        if (error is not null && observed.Pauses.Count == 0)
        {
            result.Notes.Add("No external measurement: " + error + ". pauses_ms is empty; see dotnet.in_process for the runtime's own totals.");
            result.PausesMs = [];
            result.PauseKinds = [];
            ResultFiller.FillPauseSummary(result);
            return;
        }

        var kept = observed.Pauses.Where(p => p.GcIndex <= cutoff).ToList();
        var external = new ExternalGcPauses
        {
            Method = "EventPipe session from the parent process (DiagnosticsClient, provider Microsoft-Windows-DotNETRuntime, keyword 0x1 GC, Informational), " +
                     "parsed with TraceEvent; each pause runs from GCSuspendEEStart to the next GCRestartEEStop and belongs to the GC whose GCStart came last",
            PausesMs = [.. kept.Select(p => p.Ms)],
            PauseGcIndex = [.. kept.Select(p => p.GcIndex)],
            PauseGenerations = [.. kept.Select(p => p.Generation)],
            PauseSuspendReasons = [.. kept.Select(p => p.SuspendReason)],
            GcCount = observed.GcIndices.Count(i => i <= cutoff),
            TotalPauseMs = kept.Sum(p => p.Ms),
            PausesExcludedAfterCutoff = observed.Pauses.Count - kept.Count,
            EventsSeen = observed.EventsSeen,
        };
        measurements.External = external;
        result.PausesMs = external.PausesMs;
        // Every runtime suspension stops the threads and counts as a pause; only those the runtime
        // made for a GC are labelled with the GC's generation.
        result.PauseKinds = [.. kept.Select(p => p.SuspendReason is "SuspendForGC" or "SuspendForGCPrep" && p.Generation >= 0
            ? $"dotnet gen{p.Generation}"
            : $"dotnet suspension ({p.SuspendReason})")];
        result.GcCount = external.GcCount;
        ResultFiller.FillPauseSummary(result);
        if (error is not null)
        {
            result.Notes.Add("The external measurement may be incomplete: " + error + ".");
        }

        if (observed.EventsLost > 0)
        {
            result.Notes.Add($"EventPipe reported {observed.EventsLost} lost events: the external pause list may be incomplete.");
        }

        if (inProcess is not null)
        {
            double diff = external.TotalPauseMs - inProcess.TotalPauseMs;
            measurements.TotalDifferencePercent = inProcess.TotalPauseMs > 0 ? 100 * diff / inProcess.TotalPauseMs : null;
            measurements.Agree = external.GcCount == inProcess.GcCount &&
                                 (Math.Abs(diff) <= 0.5 || Math.Abs(diff) <= measurements.AgreementTolerancePercent / 100 * inProcess.TotalPauseMs);
        }

        result.Notes.Add("pauses_ms and gc_count are .NET's GC pauses measured from outside the process (dotnet.external); dotnet.in_process is what the runtime reported inside; " +
                         "dotnet.agree says whether both saw the same GCs and totals within the tolerance (or 0.5 ms).");
    }
}
