using System.Runtime.CompilerServices;

namespace GcHeap.Roots;

/// <summary>
/// An open-addressing hash map from object address to id, for <see cref="IdentityTable"/>: reads
/// take no lock, one writer at a time (the caller's lock) inserts. A slot's id is written before
/// its key, and a grown table is published whole, so a reader sees either nothing or a complete
/// entry. Never shrinks; a rebuilt table replaces it.
/// </summary>
internal sealed class AddressIdMap
{
    private nint[] _keys;
    private long[] _ids;
    private int _count;

    public AddressIdMap(int capacity)
    {
        int size = 16;
        while (size < capacity * 2)
        {
            size <<= 1;
        }

        _keys = new nint[size];
        _ids = new long[size];
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>The id of <paramref name="key"/>, or 0. Any thread, no lock.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Find(nint key)
    {
        var keys = Volatile.Read(ref _keys);
        var ids = Volatile.Read(ref _ids);
        if (ids.Length != keys.Length)
        {
            return FindSlow(key);
        }

        int mask = keys.Length - 1;
        for (int i = Slot(key, mask); ; i = (i + 1) & mask)
        {
            nint k = Volatile.Read(ref keys[i]);
            if (k == key)
            {
                return Volatile.Read(ref ids[i]);
            }

            if (k == 0)
            {
                return 0;
            }
        }
    }

    /// <summary>Adds <paramref name="key"/> with <paramref name="id"/> (not present). Under the writer's lock.</summary>
    public void Add(nint key, long id)
    {
        if ((_count + 1) * 2 > _keys.Length)
        {
            Grow();
        }

        Insert(_keys, _ids, key, id);
        Volatile.Write(ref _count, _count + 1);
    }

    /// <summary>Copies the entries into <paramref name="keys"/> and <paramref name="ids"/>; returns how many.</summary>
    public int CopyTo(nint[] keys, long[] ids)
    {
        int n = 0;
        for (int i = 0; i < _keys.Length; i++)
        {
            if (_keys[i] != 0)
            {
                keys[n] = _keys[i];
                ids[n++] = _ids[i];
            }
        }

        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(nint key, int mask) => (int)(((ulong)key >> 3) * 0x9E3779B97F4A7C15UL >> 32) & mask;

    private static void Insert(nint[] keys, long[] ids, nint key, long id)
    {
        int mask = keys.Length - 1;
        int i = Slot(key, mask);
        while (keys[i] != 0)
        {
            i = (i + 1) & mask;
        }

        Volatile.Write(ref ids[i], id); // the id before the key: a reader that sees the key sees its id
        Volatile.Write(ref keys[i], key);
    }

    private void Grow()
    {
        var keys = new nint[_keys.Length * 2];
        var ids = new long[keys.Length];
        for (int i = 0; i < _keys.Length; i++)
        {
            if (_keys[i] != 0)
            {
                Insert(keys, ids, _keys[i], _ids[i]);
            }
        }

        // Readers pair a keys array with the ids array of the same length: publish ids first.
        Volatile.Write(ref _ids, ids);
        Volatile.Write(ref _keys, keys);
    }

    /// <summary>A reader caught between the two publications of a growth: read both again.</summary>
    private long FindSlow(nint key)
    {
        var spin = default(SpinWait);
        while (true)
        {
            var keys = Volatile.Read(ref _keys);
            var ids = Volatile.Read(ref _ids);
            if (keys.Length == ids.Length)
            {
                int mask = keys.Length - 1;
                for (int i = Slot(key, mask); ; i = (i + 1) & mask)
                {
                    nint k = Volatile.Read(ref keys[i]);
                    if (k == key)
                    {
                        return Volatile.Read(ref ids[i]);
                    }

                    if (k == 0)
                    {
                        return 0;
                    }
                }
            }

            spin.SpinOnce();
        }
    }
}
