using System.Runtime.CompilerServices;
using GcHeap.ObjectModel;

namespace GcHeap;

/// <summary>
/// A view of one reference array whose kind was checked when it was made
/// (<see cref="GcView.AsReferenceArray"/>): an element read or write checks the thread's safepoint
/// epoch, then the index against the array's length, then loads or stores (with the write
/// barrier). The loop a runtime writes over an array's elements therefore repeats no check about
/// the array itself.
/// <para>Valid until its thread's next safepoint, like every view: an access after one throws
/// <see cref="GcInvalidHandleException"/> (<see cref="GcHandleProblem.ViewExpired"/>). A
/// <c>ref struct</c>, so it cannot be stored in a class. <c>default</c> is unusable (every element
/// access throws <see cref="GcInvalidHandleException"/>, <see cref="GcHandleProblem.Null"/>).</para>
/// </summary>
public readonly unsafe ref struct GcReferenceArrayView
{
    private readonly Mutator? _m;
    private readonly nint _address;
    private readonly ulong _epoch;
    // The mutator's FieldKeyBase, for the element views' field checks: four fields keep the view
    // in registers (a fifth put it on the stack, every field reloaded each iteration), so the
    // length is read from the array's header at each index check.
    private readonly ulong _keyBase;

    internal GcReferenceArrayView(Mutator m, nint address, ulong epoch, ulong keyBase)
    {
        _m = m;
        _address = address;
        _epoch = epoch;
        _keyBase = keyBase;
    }

    /// <summary>The number of elements; 0 for the default value.</summary>
    /// <exception cref="GcInvalidHandleException">The view is expired.</exception>
    public int Length
    {
        get
        {
            if (_m is null)
            {
                return 0;
            }

            Check(); // the length is read from the array itself, which may have moved
            return (int)ObjectLayout.LengthOf(_address);
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
            return new GcView(_m!, _address, _epoch, _keyBase);
        }
    }

    /// <summary>Element <paramref name="index"/>: reads it as a view (the null view for a null element) or writes a view of this thread into it (the null view stores null).</summary>
    /// <exception cref="GcInvalidHandleException">This view is default or expired; or the value written is expired or belongs to another mutator or heap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    public GcView this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            Check(); // first: only a valid view's address may be read, for the length too
            if ((uint)index >= ObjectLayout.LengthOf(_address))
            {
                throw Mutator.IndexError(index, ObjectLayout.LengthOf(_address));
            }

            return new GcView(_m!, *(nint*)(_address + ObjectLayout.HeaderSize + ((nint)index * 8)), _epoch, _keyBase);
        }

        [MethodImpl(HotPath.Inline)]
        set
        {
            Check();
            if ((uint)index >= ObjectLayout.LengthOf(_address))
            {
                throw Mutator.IndexError(index, ObjectLayout.LengthOf(_address));
            }

            var m = _m!;
            m.WriteReference((nint*)(_address + ObjectLayout.HeaderSize + ((nint)index * 8)), value.IsNull ? 0 : value.AddressFor(m));
        }
    }

    /// <inheritdoc/>
    public override string ToString() => _address == 0 ? "GcReferenceArrayView(default)" : IsValid ? $"GcReferenceArrayView({Length} elements)" : "GcReferenceArrayView(expired)";

    [MethodImpl(HotPath.Inline)]
    private void Check()
    {
        if (_m is null || _m.ViewEpoch != _epoch)
        {
            throw GcView.Unusable(_address); // 0 for the default view: "null"
        }
    }
}
