using System.Runtime.CompilerServices;
using GcHeap.ObjectModel;

namespace GcHeap;

/// <summary>
/// A view of one reference array whose kind was checked when it was made
/// (<see cref="GcView.AsReferenceArray"/>): an element read or write checks the index against the
/// length kept here and the thread's safepoint epoch, then loads or stores (with the write
/// barrier). The loop a runtime writes over an array's elements therefore repeats no check about
/// the array itself.
/// <para>Valid until its thread's next safepoint, like every view: an access after one throws
/// <see cref="GcInvalidHandleException"/> (<see cref="GcHandleProblem.ViewExpired"/>). A
/// <c>ref struct</c>, so it cannot be stored in a class. <c>default</c> is unusable (every access
/// throws <see cref="GcInvalidHandleException"/>, <see cref="GcHandleProblem.Null"/>).</para>
/// </summary>
public readonly unsafe ref struct GcReferenceArrayView
{
    private readonly Mutator? _m;
    private readonly nint _address;
    private readonly ulong _epoch;
    // The mutator's FieldKeyBase (high half) and the length (low half) in one field: four fields
    // keep the view in registers, and the element views it makes need the key base for their
    // field checks without a load from the mutator in the loop.
    private readonly ulong _keyBaseAndLength;

    internal GcReferenceArrayView(Mutator m, nint address, ulong epoch, uint length)
    {
        _m = m;
        _address = address;
        _epoch = epoch;
        _keyBaseAndLength = m.FieldKeyBase | length;
    }

    /// <summary>The number of elements (0 for the default value).</summary>
    public int Length => (int)_length;

    private uint _length => (uint)_keyBaseAndLength;

    private ulong KeyBase => _keyBaseAndLength & 0xFFFF_FFFF_0000_0000UL;

    /// <summary>True when the view was made (not default) and its thread has not passed a safepoint since.</summary>
    public bool IsValid => _address != 0 && _m!.ViewEpoch == _epoch;

    /// <summary>The array as a plain <see cref="GcView"/> (for <see cref="GcView.ToHandle"/>, identity tests, ...).</summary>
    /// <exception cref="GcInvalidHandleException">The view is default or expired.</exception>
    public GcView View
    {
        get
        {
            Check();
            return new GcView(_m!, _address, _epoch, KeyBase);
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
            if ((uint)index >= _length)
            {
                throw OutOfRange(_m, _address, _epoch, index, _length);
            }

            CheckEpoch();
            return new GcView(_m!, *(nint*)(_address + ObjectLayout.HeaderSize + ((nint)index * 8)), _epoch, KeyBase);
        }

        [MethodImpl(HotPath.Inline)]
        set
        {
            if ((uint)index >= _length)
            {
                throw OutOfRange(_m, _address, _epoch, index, _length);
            }

            CheckEpoch();
            var m = _m!;
            m.WriteReference((nint*)(_address + ObjectLayout.HeaderSize + ((nint)index * 8)), value.IsNull ? 0 : value.AddressFor(m));
        }
    }

    /// <inheritdoc/>
    public override string ToString() => _address == 0 ? "GcReferenceArrayView(default)" : $"GcReferenceArrayView({_length} elements{(IsValid ? "" : ", expired")})";

    [MethodImpl(HotPath.Inline)]
    private void Check()
    {
        if (_m is null || _m.ViewEpoch != _epoch)
        {
            throw GcView.Unusable(_m is null ? 0 : _address);
        }
    }

    // Only after the index check: a default view has length 0, so it never gets here.
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
