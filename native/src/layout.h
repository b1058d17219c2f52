/*
 * layout.h - decoding object headers with the run-time type table.
 *
 * Header (8 bytes, little endian): uint32 type id, uint32 length.
 *   OBJECT:      length unused (0); size = base_size; reference slots at [8, 8 + 8*ref_count)
 *   REF_ARRAY:   length = elements; size = 8 + 8*length; every element is a reference slot
 *   DATA_ARRAY:  length = elements; size = align8(8 + elem_size*length); no references
 *   FILLER:      length = size in bytes (>= 8, multiple of 8)
 * Reference slots always form one contiguous block right after the header.
 */
#ifndef GCH_LAYOUT_H
#define GCH_LAYOUT_H

#include "gcheap_native.h"

static inline uint32_t gch_obj_type(const void *o) { return ((const uint32_t *)o)[0]; }
static inline uint32_t gch_obj_length(const void *o) { return ((const uint32_t *)o)[1]; }

static inline void gch_write_filler(void *o, uint32_t size)
{
    ((uint32_t *)o)[0] = GCH_TYPE_FILLER;
    ((uint32_t *)o)[1] = size;
}

/* Size in bytes of the object at o, and the number of reference slots after its header.
 * Returns 0 for an invalid header (unknown type id, bad filler size). */
static inline uint64_t gch_obj_size(const gch_type_info *types, uint32_t type_count, const void *o,
                                    uint64_t *nrefs)
{
    uint32_t t = gch_obj_type(o);
    if (t == GCH_TYPE_END || t >= type_count)
        return 0;
    const gch_type_info *ti = &types[t];
    uint32_t len = gch_obj_length(o);
    switch (ti->kind) {
    case GCH_KIND_FILLER:
        *nrefs = 0;
        return (len >= 8 && (len & 7) == 0) ? len : 0;
    case GCH_KIND_OBJECT:
        *nrefs = ti->ref_count;
        return ti->base_size;
    case GCH_KIND_REF_ARRAY:
        *nrefs = len;
        return 8 + 8 * (uint64_t)len;
    case GCH_KIND_DATA_ARRAY:
        *nrefs = 0;
        return (8 + (uint64_t)ti->elem_size * len + 7) & ~7ull;
    default:
        return 0;
    }
}

#endif
