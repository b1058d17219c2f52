/*
 * page_builder.c - forwarding and page building (see page_builder.h), plus the
 * stop-the-world executor that builds every page directly into to-space.
 */
#define _GNU_SOURCE
#include "page_builder.h"
#include "clock.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

_Static_assert(sizeof(gch_plan) == 104, "gch_plan layout is mirrored in C#");
_Static_assert(sizeof(gch_compaction_stats) == 440, "gch_compaction_stats layout is mirrored in C#");
_Static_assert(sizeof(gch_compactor_config) == 80, "gch_compactor_config layout is mirrored in C#");
_Static_assert(sizeof(gch_uffd_caps) == 80, "gch_uffd_caps layout is mirrored in C#");
_Static_assert(sizeof(gch_type_info) == 16, "gch_type_info layout is mirrored in C#");
_Static_assert(sizeof(gch_continue_answers) == 40, "gch_continue_answers layout is mirrored in C#");

/* Forwarding counts live granules with popcount on every reference into a sparse page. The
 * library is built for baseline x86-64 (it ships in a NuGet package and must load on any x86-64
 * CPU), where __builtin_popcountll is a libgcc call; the functions that forward are therefore
 * compiled twice, with and without the POPCNT instruction, and the dynamic loader picks one per
 * process from CPUID (an ifunc, resolved once). A build with -mpopcnt needs no second copy. */
#if defined(__x86_64__) && !defined(__POPCNT__) && !defined(GCH_NO_POPCNT_DISPATCH)
#define GCH_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define GCH_POPCNT_CLONES
#endif

static inline int bit_set(const uint64_t *bitmap, uint64_t granule)
{
    return (int)((bitmap[granule >> 6] >> (granule & 63)) & 1u);
}

/* Live granules of page p strictly before granule index gi (0..511) within the page. */
static inline uint64_t live_granules_before(const uint64_t *bitmap, uint32_t p, uint32_t gi)
{
    const uint64_t *w = bitmap + (uint64_t)p * GCH_BITMAP_WORDS_PER_PAGE;
    uint32_t word = gi >> 6;
    uint64_t count = 0;
    for (uint32_t i = 0; i < word; i++)
        count += (uint64_t)__builtin_popcountll(w[i]);
    uint32_t bit = gi & 63;
    if (bit)
        count += (uint64_t)__builtin_popcountll(w[word] & ((1ull << bit) - 1));
    return count;
}

/* Forwarding, inlined into every caller. `check` adds the liveness cross-checks on targets in
 * whole pages (an extra bitmap load per reference); the structural checks are always on. */
static inline __attribute__((always_inline)) int forward(const gch_plan *pl, uint64_t a, uint64_t *out, int check)
{
    uint64_t off = a - pl->from_base;
    if (a < pl->from_base || off >= ((uint64_t)pl->from_pages << GCH_PAGE_SHIFT) || (a & 7))
        return -EINVAL;
    uint32_t p = (uint32_t)(off >> GCH_PAGE_SHIFT);
    uint32_t in_page = (uint32_t)(off & (GCH_PAGE_SIZE - 1));
    switch (pl->from_class[p]) {
    case GCH_FROM_WHOLE_MARKED:
        if (check && !bit_set(pl->live_bitmap, off >> GCH_GRANULE_SHIFT))
            return -EINVAL;
        /* fall through */
    case GCH_FROM_WHOLE_BLACK:
        *out = pl->to_base + ((uint64_t)pl->from_dest[p] << GCH_PAGE_SHIFT) + in_page;
        return 0;
    case GCH_FROM_LARGE:
        if (!GCH_LARGE_IS_HEAD(pl->from_aux[p]) || in_page != 0)
            return -EINVAL; /* references point at the head of a large object */
        *out = pl->to_base + ((uint64_t)pl->from_dest[p] << GCH_PAGE_SHIFT);
        return 0;
    case GCH_FROM_SPARSE: {
        uint64_t g = off >> GCH_GRANULE_SHIFT;
        if (!bit_set(pl->live_bitmap, g))
            return -EINVAL;
        uint64_t before = live_granules_before(pl->live_bitmap, p, in_page >> GCH_GRANULE_SHIFT);
        uint32_t split_off = pl->from_aux[p];
        if (in_page < split_off) {
            /* packed right after the first live object's destination */
            *out = pl->to_base + (((uint64_t)pl->from_dest[p] + before) << GCH_GRANULE_SHIFT);
        } else {
            /* packed from the start of the split page */
            uint64_t at_split = live_granules_before(pl->live_bitmap, p, split_off >> GCH_GRANULE_SHIFT);
            *out = pl->to_base + ((uint64_t)pl->from_split[p] << GCH_PAGE_SHIFT) + ((before - at_split) << GCH_GRANULE_SHIFT);
        }
        return 0;
    }
    default:
        return -EINVAL; /* EMPTY: nothing live here */
    }
}

GCH_POPCNT_CLONES int gch_forward(const gch_plan *pl, uint64_t a, uint64_t *out) { return forward(pl, a, out, 1); }

/* Asks the CPU to start loading the from-space bytes to-page t is built from. Hardware prefetchers
 * do not cross a 4 KiB page, so without this the first reads of every source page wait for memory
 * (and for its TLB entry). */
void gch_prefetch_sources(const gch_plan *pl, uint32_t t)
{
    if (t >= pl->to_pages)
        return;
    const char *src;
    uint32_t lines = GCH_PAGE_SIZE / 64;
    if (pl->to_kind[t] == GCH_TO_WHOLE) {
        src = (const char *)(pl->from_base + ((uint64_t)pl->to_src[t] << GCH_PAGE_SHIFT));
    } else if (pl->to_kind[t] == GCH_TO_HOLE) {
        return;
    } else {
        /* The stream enters t at this granule; read from there to the end of its page. */
        uint64_t a = pl->from_base + ((uint64_t)pl->to_src[t] << GCH_GRANULE_SHIFT);
        src = (const char *)(a & ~(uint64_t)63);
        lines = (uint32_t)((GCH_PAGE_SIZE - (a & (GCH_PAGE_SIZE - 1)) + 63) / 64);
    }
    for (uint32_t i = 0; i < lines; i++)
        __builtin_prefetch(src + (uint64_t)i * 64, 1, 3);
}

static inline __attribute__((always_inline)) int fix_slots(const gch_plan *pl, uint64_t *slot, uint64_t *end, int check, gch_build_counters *cnt,
                            gch_failure *f)
{
    uint64_t fixed = 0;
    for (; slot < end; slot++) {
        uint64_t v = *slot;
        if (v == 0)
            continue;
        uint64_t to;
        if (forward(pl, v, &to, check) != 0) {
            gch_fail(f, -EINVAL, GCH_OP_FORWARD, (uint64_t)slot);
            return -EINVAL;
        }
        *slot = to;
        fixed++;
    }
    cnt->refs_fixed += fixed;
    return 0;
}

/* Fixes the page whose contents are at `page` and whose from-space page is p: in place in
 * from-space (page is p's own address), or in a copy of it elsewhere (liveness is looked up by p's
 * granules either way). */
static inline __attribute__((always_inline)) int build_whole_at(const gch_plan *pl, uint32_t p, char *page, int check,
                                                                gch_build_counters *cnt, gch_failure *f)
{
    char *end = page + GCH_PAGE_SIZE;
    uint8_t cls = pl->from_class[p];
    const uint64_t g0 = (uint64_t)p * GCH_GRANULES_PER_PAGE;

    if (cls == GCH_FROM_LARGE) {
        /* Fix the slice of the large object's reference block that lies on this page. */
        uint32_t aux = pl->from_aux[p];
        uint32_t b = GCH_LARGE_REFS_BEGIN(aux), e = GCH_LARGE_REFS_END(aux);
        if (b < e)
            return fix_slots(pl, (uint64_t *)(page + b), (uint64_t *)(page + e), check, cnt, f);
        return 0;
    }

    int all_live = cls == GCH_FROM_WHOLE_BLACK;
    char *cur = page;
    while (cur < end) {
        if (gch_obj_type(cur) == GCH_TYPE_END)
            break;
        uint64_t nrefs;
        uint64_t size = gch_obj_size(pl->types, pl->type_count, cur, &nrefs);
        if (size == 0 || size > (uint64_t)(end - cur)) {
            gch_fail(f, -EINVAL, GCH_OP_HEADER, pl->from_base + ((uint64_t)p << GCH_PAGE_SHIFT) + (uint64_t)(cur - page));
            return -EINVAL;
        }
        uint64_t g = g0 + ((uint64_t)(cur - page) >> GCH_GRANULE_SHIFT);
        if (all_live || bit_set(pl->live_bitmap, g)) {
            if (nrefs && fix_slots(pl, (uint64_t *)(cur + 8), (uint64_t *)(cur + 8 + 8 * nrefs), check, cnt, f) != 0)
                return -EINVAL;
        } else if (gch_obj_type(cur) != GCH_TYPE_FILLER) {
            /* Dead: keep the page parseable without stale references. */
            gch_write_filler(cur, (uint32_t)size);
        }
        cur += size;
    }
    return 0;
}

GCH_POPCNT_CLONES int gch_build_whole(const gch_plan *pl, uint32_t p, int check, gch_build_counters *cnt, gch_failure *f)
{
    return build_whole_at(pl, p, (char *)(pl->from_base + ((uint64_t)p << GCH_PAGE_SHIFT)), check, cnt, f);
}

GCH_POPCNT_CLONES int gch_build_whole_into(const gch_plan *pl, uint32_t p, char *dst, int check, gch_build_counters *cnt,
                                           gch_failure *f)
{
    memcpy(dst, (const void *)(pl->from_base + ((uint64_t)p << GCH_PAGE_SHIFT)), GCH_PAGE_SIZE);
    return build_whole_at(pl, p, dst, check, cnt, f);
}

static uint32_t next_sparse_page(const gch_plan *pl, uint32_t from)
{
    for (uint32_t p = from; p < pl->from_pages; p++)
        if (pl->from_class[p] == GCH_FROM_SPARSE)
            return p;
    return UINT32_MAX;
}

/* Offset within page p of the first live granule at or after offset `from`, or GCH_PAGE_SIZE. */
static inline uint32_t next_live(const uint64_t *bitmap, uint32_t p, uint32_t from)
{
    const uint64_t *w = bitmap + (uint64_t)p * GCH_BITMAP_WORDS_PER_PAGE;
    uint32_t g = from >> GCH_GRANULE_SHIFT;
    while (g < GCH_GRANULES_PER_PAGE) {
        uint64_t bits = w[g >> 6] >> (g & 63);
        if (bits)
            return (g + (uint32_t)__builtin_ctzll(bits)) << GCH_GRANULE_SHIFT;
        g = (g | 63) + 1;
    }
    return GCH_PAGE_SIZE;
}

/* The live objects of sparse pages form one stream, packed in address order; the stream enters
 * page t at the object to_src[t] and leaves it at the first object that does not fit (the
 * planner's rule). So each object's destination is simply the fill position: no forwarding
 * lookup per object. Dead objects are skipped through the bitmap without reading them. */
GCH_POPCNT_CLONES int gch_build_compacted(const gch_plan *pl, uint32_t t, char *dst, int check, gch_build_counters *cnt, gch_failure *f)
{
    uint64_t tbase = pl->to_base + ((uint64_t)t << GCH_PAGE_SHIFT);
    uint64_t a = pl->from_base + ((uint64_t)pl->to_src[t] << GCH_GRANULE_SHIFT);
    uint32_t p = (uint32_t)((a - pl->from_base) >> GCH_PAGE_SHIFT);
    uint32_t off = (uint32_t)(a & (GCH_PAGE_SIZE - 1));
    uint64_t fill = 0;

    if (p >= pl->from_pages || pl->from_class[p] != GCH_FROM_SPARSE) {
        gch_fail(f, -EINVAL, GCH_OP_PLAN, a);
        return -EINVAL;
    }
    for (;;) {
        off = next_live(pl->live_bitmap, p, off);
        if (off >= GCH_PAGE_SIZE) {
            p = next_sparse_page(pl, p + 1);
            if (p == UINT32_MAX)
                break;
            /* Decide from the plan alone whether the next sparse page contributes to t: once
             * its objects are all placed, the concurrent compactor may reuse that page as a
             * build buffer, so its memory must not be read after that. */
            if ((uint64_t)pl->from_dest[p] >= (uint64_t)(t + 1) * GCH_GRANULES_PER_PAGE)
                break;
            off = 0;
            continue;
        }
        a = pl->from_base + ((uint64_t)p << GCH_PAGE_SHIFT) + off;
        uint64_t nrefs;
        uint64_t size = gch_obj_size(pl->types, pl->type_count, (void *)a, &nrefs);
        if (size == 0 || off + size > GCH_PAGE_SIZE) {
            gch_fail(f, -EINVAL, GCH_OP_HEADER, a);
            return -EINVAL;
        }
        if (fill + size > GCH_PAGE_SIZE)
            break; /* the stream continues on the next to-space page */
        if (check) {
            uint64_t d;
            if (forward(pl, a, &d, 1) != 0 || d != tbase + fill) {
                gch_fail(f, -EINVAL, GCH_OP_PLAN, a); /* plan and stream disagree */
                return -EINVAL;
            }
        }
        memcpy(dst + fill, (const void *)a, size);
        cnt->bytes_copied += size;
        if (nrefs && fix_slots(pl, (uint64_t *)(dst + fill + 8), (uint64_t *)(dst + fill + 8 + 8 * nrefs), check, cnt, f) != 0)
            return -EINVAL;
        fill += size;
        off += (uint32_t)size;
    }
    if (fill < GCH_PAGE_SIZE)
        memset(dst + fill, 0, GCH_PAGE_SIZE - fill);
    return 0;
}

GCH_POPCNT_CLONES int32_t gch_forward_slots(const gch_plan *plan, uint64_t *slots, uint64_t count, uint64_t *bad_index)
{
    for (uint64_t i = 0; i < count; i++) {
        uint64_t v = slots[i];
        if (v == 0)
            continue;
        uint64_t to;
        if (forward(plan, v, &to, 1) != 0) {
            if (bad_index)
                *bad_index = i;
            return -EINVAL;
        }
        slots[i] = to;
    }
    return 0;
}

int32_t gch_compact_stw(const gch_plan *pl, int32_t check_forwarding, gch_compaction_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    uint64_t t0 = gch_now_ns(), c0 = gch_thread_cpu_ns();
    gch_build_counters cnt = {0, 0};
    gch_failure f = {0, 0, 0};
    for (uint32_t t = 0; t < pl->to_pages && f.error == 0; t++) {
        char *dst = (char *)(pl->to_base + ((uint64_t)t << GCH_PAGE_SHIFT));
        if (pl->to_kind[t] == GCH_TO_HOLE) {
            pl->to_state[t] = GCH_PAGE_INSTALLED; /* nothing lives there */
            if (t >= pl->nursery_pages)
                stats->pages_holes++;
            continue;
        }
        gch_prefetch_sources(pl, t + 1);
        if (pl->to_kind[t] == GCH_TO_WHOLE) {
            uint32_t p = pl->to_src[t];
            if (gch_build_whole(pl, p, check_forwarding, &cnt, &f) != 0)
                break;
            memcpy(dst, (const void *)(pl->from_base + ((uint64_t)p << GCH_PAGE_SHIFT)), GCH_PAGE_SIZE);
            stats->pages_whole++;
        } else {
            if (gch_build_compacted(pl, t, dst, check_forwarding, &cnt, &f) != 0)
                break;
            stats->pages_compacted++;
        }
        pl->to_state[t] = GCH_PAGE_INSTALLED;
        stats->pages_installed++;
    }
    stats->refs_fixed = cnt.refs_fixed;
    stats->bytes_copied = cnt.bytes_copied;
    stats->wall_ns = gch_now_ns() - t0;
    stats->cpu_ns = gch_thread_cpu_ns() - c0;
    stats->error = f.error;
    stats->error_op = f.op;
    stats->error_addr = f.addr;
    return f.error;
}
