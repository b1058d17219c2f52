namespace GcHeap;

/// <summary>
/// Non-cooperative userfaultfd events the collector read during one compaction (docs/design.md
/// section 6, "Events"): changes of the address space that other code made while to-space was
/// registered, and what they cost.
/// </summary>
public sealed record UffdEventCounts
{
    /// <summary>No events.</summary>
    public static readonly UffdEventCounts None = new();

    /// <summary>UFFD_EVENT_FORK: children forked while to-space was registered.</summary>
    public long Fork { get; init; }

    /// <summary>UFFD_EVENT_REMOVE: <c>madvise(MADV_DONTNEED)</c> (or MADV_REMOVE) of registered to-space.</summary>
    public long Remove { get; init; }

    /// <summary>UFFD_EVENT_UNMAP: <c>munmap</c> of registered to-space (<c>mremap</c> sends one for the old range too).</summary>
    public long Unmap { get; init; }

    /// <summary>UFFD_EVENT_REMAP: <c>mremap</c> of registered to-space.</summary>
    public long Remap { get; init; }

    /// <summary>REMOVE events that hit only registered slack beyond the planned pages: nothing lived there, the cycle went on.</summary>
    public long Harmless { get; init; }

    /// <summary>Forked children whose uffd the collector took over and closed (their to-space is then unregistered).</summary>
    public long ForkChildren { get; init; }

    /// <summary>To-space pages a child forked past the fork gate (a raw <c>clone</c>) lacked, poisoned in that child: it gets SIGBUS there.</summary>
    public long ChildPagesPoisoned { get; init; }

    /// <summary>MOVE/COPY/ZEROPAGE answers of EAGAIN without progress (an event unread, or its thread not yet resumed), retried once the event was consumed.</summary>
    public long EagainEventWaits { get; init; }

    /// <summary>Events that destroyed or moved planned to-space: any makes the compaction fail.</summary>
    public long Destructive => Remove - Harmless + Unmap + Remap;

    /// <inheritdoc />
    public override string ToString() =>
        $"fork {Fork} (children {ForkChildren}, pages poisoned {ChildPagesPoisoned}), remove {Remove} (harmless {Harmless}), unmap {Unmap}, remap {Remap}, EAGAIN waits {EagainEventWaits}";
}
