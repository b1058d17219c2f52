using System.Globalization;
using Spectre.Console;

namespace GcHeap.Experiments.Terminal;

/// <summary>
/// Progress of a long run, reported from any thread. <see cref="Phase"/> starts a new step with
/// a known amount of work; <see cref="Set"/> / <see cref="Advance"/> move it along.
/// </summary>
internal interface IRunProgress
{
    void Phase(string description, double total);

    void Set(double value);

    void Advance(double amount);
}

/// <summary>Runs an action with a progress display on a terminal, or plain phase lines when standard error is redirected.</summary>
internal static class RunProgress
{
    public static T Run<T>(bool quiet, Func<IRunProgress, T> body)
    {
        if (quiet)
        {
            return body(new SilentProgress());
        }

        if (!Term.Interactive)
        {
            return body(new PlainProgress());
        }

        return Term.Err.Progress()
            .AutoClear(true)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx => body(new SpectreProgress(ctx)));
    }

    private sealed class SilentProgress : IRunProgress
    {
        public void Phase(string description, double total)
        {
        }

        public void Set(double value)
        {
        }

        public void Advance(double amount)
        {
        }
    }

    /// <summary>One line per phase on standard error; nothing in between (logs stay short).</summary>
    private sealed class PlainProgress : IRunProgress
    {
        private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();

        public void Phase(string description, double total) =>
            Term.Info(string.Create(CultureInfo.InvariantCulture, $"[{System.Diagnostics.Stopwatch.GetElapsedTime(_start).TotalSeconds,7:F1}s] {description}"));

        public void Set(double value)
        {
        }

        public void Advance(double amount)
        {
        }
    }

    private sealed class SpectreProgress(ProgressContext ctx) : IRunProgress
    {
        private readonly object _lock = new();
        private ProgressTask? _task;

        public void Phase(string description, double total)
        {
            lock (_lock)
            {
                if (_task is not null)
                {
                    _task.Value = _task.MaxValue;
                    _task.StopTask();
                }

                _task = ctx.AddTask(Markup.Escape(description), maxValue: Math.Max(total, 1e-9));
            }
        }

        public void Set(double value)
        {
            lock (_lock)
            {
                if (_task is not null)
                {
                    _task.Value = Math.Min(value, _task.MaxValue);
                }
            }
        }

        public void Advance(double amount)
        {
            lock (_lock)
            {
                _task?.Increment(amount);
            }
        }
    }
}
