/*
 * page_builder.h - executing a compaction plan one to-space page at a time.
 *
 * A to-space page is "built" when its final contents exist somewhere in memory: every
 * object in place and every reference in it already rewritten to a to-space address.
 * Only then may it be installed. Building never touches to-space's mutator view except in the
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
/* Starts loading the source bytes of to-page t into the cache (a hint; nothing if t is past the plan). */
void gch_prefetch_sources(const gch_plan *pl, uint32_t t);

/* Fixes, in place in from-space, every reference of the live objects on from-page p and
 * turns dead objects into fillers, so the page can be installed as it is. */
int gch_build_whole(const gch_plan *pl, uint32_t from_page, int check_forwarding, gch_build_counters *cnt, gch_failure *f);

/* The same, but on a copy: copies from-page p to dst (one page) and fixes the copy there, leaving
 * from-space unwritten (the Continue backend builds in the collector view of the to-space memfd). */
int gch_build_whole_into(const gch_plan *pl, uint32_t from_page, char *dst, int check_forwarding, gch_build_counters *cnt,
                         gch_failure *f);

/* Packs the live objects that the plan assigns to to-page t into dst (one page), fixing
 * their references, and zeroes the rest of dst. */
int gch_build_compacted(const gch_plan *pl, uint32_t to_page, char *dst, int check_forwarding,
                        gch_build_counters *cnt, gch_failure *f);

#endif
