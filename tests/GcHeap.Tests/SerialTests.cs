namespace GcHeap.Tests;

/// <summary>Tests that measure the whole process (address space, open descriptors) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTests
{
    public const string Name = "serial";
}
