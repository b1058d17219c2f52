using System.Runtime.CompilerServices;
using GcHeap.ObjectModel;

namespace GcHeap;

/// <summary>
/// A view of one data array of <typeparamref name="T"/> whose element type was checked when it
/// was made (<see cref="GcView.AsArray{T}"/>): an element read or write checks the index against
/// the length kept here and the thread's safepoint epoch, then loads or stores. The loop a runtime
/// writes over an array's elements therefore repeats no check about the array itself.
/// <para>Valid until its thread's next safepoint, like every view: an access after one throws
/// <see cref="GcInvalidHandleException"/> (<see cref="GcHandleProblem.ViewExpired"/>). A
/// <c>ref struct</c>, so it cannot be stored in a class; it gives out values, never a
/// <c>ref</c> or a span into the heap, which could outlive the safepoint unchecked.
/// <c>default</c> is unusable (every element access throws <see cref="GcInvalidHandleException"/>,
/// <see cref="GcHandleProblem.Null"/>).</para>
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public readonly unsafe ref struct GcArrayView<T>
    where T : unmanaged
{
    private readonly Mutator? _m;
    private readonly nint _address;
    private readonly ulong _epoch;
    private readonly uint _length;

    internal GcArrayView(Mutator m, nint address, ulong epoch, uint length)
    {
        _m = m;
        _address = address;
        _epoch = epoch;
        _length = length;
    }

    /// <summary>The number of elements; 0 for the default value.</summary>
    /// <exception cref="GcInvalidHandleException">The view is expired (as for <see cref="GcReferenceArrayView.Length"/>).</exception>
    public int Length
    {
        get
        {
            if (_m is not null)
            {
                CheckEpoch();
            }

            return (int)_length;
        }
    }

    /// <summary>True when the view was made (not default) and its thread has not passed a safepoint since.</summary>
    public bool IsValid => _address != 0 && _m!.ViewEpoch == _epoch;

    /// <summary>The array as a plain <see cref="GcView"/> (for <see cref="GcView.ToHandle"/>, identity tests, ...).</summary>
    /// <exception cref="GcInvalidHandleException">The view is default or expired.</exception>
    public GcView View
    {
        get
        {
            Check();
            return new GcView(_m!, _address, _epoch);
        }
    }

    /// <summary>Element <paramref name="index"/>, read or written.</summary>
    /// <exception cref="GcInvalidHandleException">The view is default or expired.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    public T this[int index]
    {
        [MethodImpl(HotPath.Inline)]
        get
        {
            if ((uint)index >= _length)
            {
                throw OutOfRange(_m, _address, _epoch, index, _length);
            }

            CheckEpoch();
            return *(T*)(_address + ObjectLayout.HeaderSize + ((nint)index * sizeof(T)));
        }

        [MethodImpl(HotPath.Inline)]
        set
        {
            if ((uint)index >= _length)
            {
                throw OutOfRange(_m, _address, _epoch, index, _length);
            }

            CheckEpoch();
            *(T*)(_address + ObjectLayout.HeaderSize + ((nint)index * sizeof(T))) = value;
        }
    }

    /// <summary>Copies elements [<paramref name="start"/>, start + destination.Length) into <paramref name="destination"/>.</summary>
    /// <exception cref="GcInvalidHandleException">The view is default or expired.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    public void ReadItems(int start, Span<T> destination)
    {
        Check();
        CheckRange(start, destination.Length);
        new ReadOnlySpan<T>((void*)(_address + ObjectLayout.HeaderSize + ((nint)start * sizeof(T))), destination.Length).CopyTo(destination);
    }

    /// <summary>Copies <paramref name="source"/> into elements [<paramref name="start"/>, start + source.Length).</summary>
    /// <exception cref="GcInvalidHandleException">The view is default or expired.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    public void WriteItems(int start, ReadOnlySpan<T> source)
    {
        Check();
        CheckRange(start, source.Length);
        source.CopyTo(new Span<T>((void*)(_address + ObjectLayout.HeaderSize + ((nint)start * sizeof(T))), source.Length));
    }

    /// <inheritdoc/>
    public override string ToString() => _address == 0 ? $"GcArrayView<{typeof(T).Name}>(default)" : $"GcArrayView<{typeof(T).Name}>({_length} elements{(IsValid ? "" : ", expired")})";

    [MethodImpl(HotPath.Inline)]
    private void Check()
    {
        if (_m is null || _m.ViewEpoch != _epoch)
        {
            throw GcView.Unusable(_m is null ? 0 : _address);
        }
    }

    private void CheckRange(int start, int count)
    {
        if ((uint)start > _length || (uint)count > _length - (uint)start)
        {
            throw new ArgumentOutOfRangeException(nameof(start), start, $"Elements [{start}, {(long)start + count}) are outside the array of {_length} elements.");
        }
    }

    // Only where the view cannot be default: after the index check (a default view has length 0)
    // or a null test.
    [MethodImpl(HotPath.Inline)]
    private void CheckEpoch()
    {
        if (_m!.ViewEpoch != _epoch)
        {
            throw GcView.Unusable(_address);
        }
    }

    // Cold paths are static and take values: an instance call would take the view's address and
    // keep the JIT from holding its fields in registers (the view then lived on the stack and a
    // loop reloaded every field each iteration).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Exception OutOfRange(Mutator? m, nint address, ulong epoch, int index, uint length) =>
        m is null ? GcView.Unusable(0) : m.ViewEpoch != epoch ? GcView.Unusable(address) : Mutator.IndexError(index, length);
}
