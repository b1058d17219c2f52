/*
 * page_builder.h - executing a compaction plan one to-space page at a time.
 *
 * A to-space page is "built" when its final contents exist somewhere in memory: every
 * object in place and every reference in it already rewritten to a to-space address.
 * Only then may it be installed. Building never touches to-space itself except in the
 * stop-the-world executor, so the concurrent compactor can build pages while mutators run.
 */
#ifndef GCH_PAGE_BUILDER_H
#define GCH_PAGE_BUILDER_H

#include "gcheap_native.h"
#include "layout.h"

/* First failure seen while building; later failures do not overwrite it. */
typedef struct gch_failure {
    int32_t error;   /* negative errno */
    int32_t op;      /* GCH_OP_* */
    uint64_t addr;
} gch_failure;

static inline void gch_fail(gch_failure *f, int32_t error, int32_t op, uint64_t addr)
{
    if (f->error == 0) {
        f->error = error;
        f->op = op;
        f->addr = addr;
    }
}

/* Counters the builder maintains (a subset of gch_compaction_stats). */
typedef struct gch_build_counters {
    uint64_t refs_fixed;
    uint64_t bytes_copied;
} gch_build_counters;

/* Forwards one from-space address of a live object, with every check; 0 on success. */
int gch_forward(const gch_plan *pl, uint64_t from_addr, uint64_t *to_addr);

/* Fixes, in place in from-space, every reference of the live objects on from-page p and
 * turns dead objects into fillers, so the page can be installed as it is. */
int gch_build_whole(const gch_plan *pl, uint32_t from_page, int check_forwarding, gch_build_counters *cnt, gch_failure *f);

/* Packs the live objects that the plan assigns to to-page t into dst (one page), fixing
 * their references, and zeroes the rest of dst. */
int gch_build_compacted(const gch_plan *pl, uint32_t to_page, char *dst, int check_forwarding,
                        gch_build_counters *cnt, gch_failure *f);

/* The to-space pages that receive the live objects of sparse from-page p: the page of its
 * first live object and, after a split, the page receiving the rest (possibly far later, since
 * whole pages take the to-pages in between). Used to decide when p is fully consumed. */
static inline int gch_sparse_dest_pages(const gch_plan *pl, uint32_t from_page, uint32_t *first, uint32_t *last)
{
    uint32_t first_to = pl->from_dest[from_page] / GCH_GRANULES_PER_PAGE;
    *first = first_to;
    *last = pl->from_aux[from_page] < GCH_PAGE_SIZE ? pl->from_split[from_page] : first_to;
    return 0;
}

#endif
