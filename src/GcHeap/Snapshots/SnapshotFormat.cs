using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace GcHeap.Snapshots;

/// <summary>
/// The snapshot file format, version 2 (little endian; docs/design.md section 15):
/// <code>
/// header   "GCHSNAP1" u32 version u32 flags (1: increment) u64 id u64 parentId (0: none) u64 spaceBase u32 pages
///          u32 capacityPages (the space: limit and nursery) u32 limitPages (MaxHeapBytes; not in version 1)
///          u32 typeCount u32 rootCount
/// types    per type id 2..typeCount-1: str name, u8 kind, i32 instanceSize, i32 refCount, i32 elementSize,
///          u8 elementCode, i32 fieldCount, per field (str name, u8 kind, u8 valueCode, i32 size)
/// roots    per root: u32 slot, u64 address, str name ("" = unnamed)
/// kinds    pages bytes: the page table (small, large head, large tail)
/// pages    blocks of up to 64 pages: u32 first, u32 count, u64 presentMask (pages in this image: all of a full
///          snapshot, the written and new ones of an increment), u64 zeroMask, then the present non-zero pages
/// trailer  "GCHSEND1" u64 checksum of every byte before the trailer
/// </code>
/// Strings are u16 length + UTF-8. The checksum is <see cref="Checksum64"/>.
/// </summary>
internal static class SnapshotFormat
{
    public const int Version = 2;

    /// <summary>Version 1 files (no limitPages field) still load; their limit is their capacity.</summary>
    public const int OldestReadable = 1;
    public const uint FlagIncrement = 1;
    public const int BlockPages = 64;
    public const int MaxString = 4096;
    public static readonly byte[] Magic = "GCHSNAP1"u8.ToArray();
    public static readonly byte[] TrailerMagic = "GCHSEND1"u8.ToArray();
}

/// <summary>A 64-bit checksum over a byte stream, 8 bytes per step (multiply-rotate), with any tail bytes folded in last.</summary>
internal struct Checksum64
{
    private ulong _h;
    private ulong _pending;
    private int _pendingBytes;
    private long _length;

    public static Checksum64 Create() => new() { _h = 0x9E3779B97F4A7C15UL };

    public void Append(ReadOnlySpan<byte> data)
    {
        _length += data.Length;
        while (_pendingBytes != 0 && data.Length > 0)
        {
            _pending |= (ulong)data[0] << (8 * _pendingBytes);
            data = data[1..];
            if (++_pendingBytes == 8)
            {
                Step(_pending);
                _pending = 0;
                _pendingBytes = 0;
            }
        }

        var words = MemoryMarshal.Cast<byte, ulong>(data);
        ulong h = _h;
        foreach (ulong w in words)
        {
            h = BitOperations.RotateLeft((h ^ w) * 0xBF58476D1CE4E5B9UL, 29);
        }

        _h = h;
        for (int i = words.Length * 8; i < data.Length; i++)
        {
            _pending |= (ulong)data[i] << (8 * _pendingBytes++);
        }
    }

    public readonly ulong Value
    {
        get
        {
            ulong h = _h;
            if (_pendingBytes != 0)
            {
                h = BitOperations.RotateLeft((h ^ _pending) * 0xBF58476D1CE4E5B9UL, 29);
            }

            return h ^ (ulong)_length;
        }
    }

    private void Step(ulong w) => _h = BitOperations.RotateLeft((_h ^ w) * 0xBF58476D1CE4E5B9UL, 29);
}

/// <summary>Writes the format's fields to a stream, checksumming and counting every byte.</summary>
internal sealed class SnapshotStreamWriter(Stream stream)
{
    private readonly byte[] _scratch = new byte[16];
    private Checksum64 _sum = Checksum64.Create();

    public long BytesWritten { get; private set; }

    public ulong Checksum => _sum.Value;

    public void Write(ReadOnlySpan<byte> data)
    {
        _sum.Append(data);
        stream.Write(data);
        BytesWritten += data.Length;
    }

    public void U8(byte v)
    {
        _scratch[0] = v;
        Write(_scratch.AsSpan(0, 1));
    }

    public void U32(uint v)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_scratch, v);
        Write(_scratch.AsSpan(0, 4));
    }

    public void I32(int v) => U32((uint)v);

    public void U64(ulong v)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_scratch, v);
        Write(_scratch.AsSpan(0, 8));
    }

    public void Str(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        if (b.Length > SnapshotFormat.MaxString)
        {
            throw new ArgumentException($"The name '{s[..32]}...' is longer than {SnapshotFormat.MaxString} bytes.");
        }

        BinaryPrimitives.WriteUInt16LittleEndian(_scratch, (ushort)b.Length);
        Write(_scratch.AsSpan(0, 2));
        Write(b);
    }

    /// <summary>The trailer: not part of the checksum it carries.</summary>
    public void Trailer()
    {
        ulong sum = _sum.Value;
        stream.Write(SnapshotFormat.TrailerMagic);
        BinaryPrimitives.WriteUInt64LittleEndian(_scratch, sum);
        stream.Write(_scratch.AsSpan(0, 8));
        BytesWritten += 16;
        stream.Flush();
    }
}

/// <summary>Reads the format's fields, checksumming every byte; a short stream is a <see cref="GcSnapshotFormatException"/>.</summary>
internal sealed class SnapshotStreamReader(Stream stream)
{
    private readonly byte[] _scratch = new byte[16];
    private Checksum64 _sum = Checksum64.Create();

    public void Read(Span<byte> into)
    {
        int got = stream.ReadAtLeast(into, into.Length, throwOnEndOfStream: false);
        if (got < into.Length)
        {
            throw new GcSnapshotFormatException($"The snapshot is truncated: the stream ended {into.Length - got} bytes short of a field it needed.");
        }

        _sum.Append(into);
    }

    public byte U8()
    {
        Read(_scratch.AsSpan(0, 1));
        return _scratch[0];
    }

    public uint U32()
    {
        Read(_scratch.AsSpan(0, 4));
        return BinaryPrimitives.ReadUInt32LittleEndian(_scratch);
    }

    public int I32() => (int)U32();

    public ulong U64()
    {
        Read(_scratch.AsSpan(0, 8));
        return BinaryPrimitives.ReadUInt64LittleEndian(_scratch);
    }

    public string Str()
    {
        Read(_scratch.AsSpan(0, 2));
        int n = BinaryPrimitives.ReadUInt16LittleEndian(_scratch);
        if (n > SnapshotFormat.MaxString)
        {
            throw new GcSnapshotFormatException($"A name of {n} bytes (most {SnapshotFormat.MaxString}): the snapshot is corrupt.");
        }

        var b = new byte[n];
        Read(b);
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(b);
        }
        catch (DecoderFallbackException e)
        {
            throw new GcSnapshotFormatException("A name is not valid UTF-8: the snapshot is corrupt.", e);
        }
    }

    /// <summary>Reads the trailer and compares its checksum with what was read.</summary>
    public void Trailer()
    {
        ulong expected = _sum.Value;
        var t = new byte[16];
        int got = stream.ReadAtLeast(t, 16, throwOnEndOfStream: false);
        if (got < 16)
        {
            throw new GcSnapshotFormatException("The snapshot is truncated: its trailer is missing.");
        }

        if (!t.AsSpan(0, 8).SequenceEqual(SnapshotFormat.TrailerMagic))
        {
            throw new GcSnapshotFormatException("The snapshot's trailer is corrupt.");
        }

        ulong sum = BinaryPrimitives.ReadUInt64LittleEndian(t.AsSpan(8));
        if (sum != expected)
        {
            throw new GcSnapshotFormatException($"The snapshot's checksum does not match (file 0x{sum:x16}, contents 0x{expected:x16}): it is corrupt.");
        }
    }
}
