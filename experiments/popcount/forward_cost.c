/*
 * forward_cost.c - what one forwarded reference costs in a given build of libgcheap_native.so.
 *
 * Forwarding a reference into a sparse from-space page counts the live granules before it
 * (popcount over up to 8 bitmap words). This program loads the library named on the command
 * line, builds a synthetic plan whose pages are all sparse, and times gch_forward_slots over
 * references to random live granules; it prints ns per reference (best and median of the
 * repetitions) and a checksum of the forwarded addresses, which must agree between builds.
 *
 *   cc -O2 forward_cost.c -o forward_cost -ldl && ./forward_cost path/to/libgcheap_native.so [refs] [reps]
 *
 * experiments/popcount/measure.sh builds the library three ways and runs this on each.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int32_t (*forward_slots_fn)(const gch_plan *, uint64_t *, uint64_t, uint64_t *);

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s libgcheap_native.so [refs] [reps]\n", argv[0]);
        return 2;
    }
    uint64_t refs = argc > 2 ? strtoull(argv[2], NULL, 10) : 4000000;
    int reps = argc > 3 ? atoi(argv[3]) : 15;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    forward_slots_fn forward_slots = (forward_slots_fn)dlsym(lib, "gch_forward_slots");
    if (!forward_slots) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }

    /* 4096 sparse pages (16 MiB of from-space, never touched: forwarding reads only the plan).
     * Each granule is live with probability 3/8. */
    const uint32_t pages = 4096;
    uint64_t words = (uint64_t)pages * GCH_BITMAP_WORDS_PER_PAGE;
    uint64_t *bitmap = calloc(words, sizeof *bitmap);
    uint8_t *cls = malloc(pages);
    uint32_t *dest = malloc(pages * sizeof *dest), *aux = malloc(pages * sizeof *aux), *split = calloc(pages, sizeof *split);
    uint32_t live_total = 0;
    for (uint32_t p = 0; p < pages; p++) {
        cls[p] = GCH_FROM_SPARSE;
        dest[p] = live_total;
        aux[p] = GCH_PAGE_SIZE; /* no split: everything goes after from_dest */
        for (uint32_t w = 0; w < GCH_BITMAP_WORDS_PER_PAGE; w++) {
            uint64_t bits = next_random() & next_random(); /* 1/4 */
            bits |= next_random() & next_random() & next_random(); /* + 1/8 */
            bitmap[(uint64_t)p * GCH_BITMAP_WORDS_PER_PAGE + w] = bits;
            live_total += (uint32_t)__builtin_popcountll(bits);
        }
    }
    gch_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.from_base = 0x100000000000ull;
    plan.to_base = 0x200000000000ull;
    plan.from_pages = pages;
    plan.live_bitmap = bitmap;
    plan.from_class = cls;
    plan.from_dest = dest;
    plan.from_aux = aux;
    plan.from_split = split;

    /* References to random live granules. */
    uint64_t *slots = malloc(refs * sizeof *slots), *work = malloc(refs * sizeof *work);
    for (uint64_t i = 0; i < refs;) {
        uint64_t g = next_random() % ((uint64_t)pages * GCH_GRANULES_PER_PAGE);
        if ((bitmap[g >> 6] >> (g & 63)) & 1)
            slots[i++] = plan.from_base + (g << GCH_GRANULE_SHIFT);
    }

    uint64_t *ns = malloc((size_t)reps * sizeof *ns);
    uint64_t checksum = 0;
    for (int r = 0; r < reps; r++) {
        memcpy(work, slots, refs * sizeof *work);
        uint64_t bad = 0, t0 = now_ns();
        int32_t rc = forward_slots(&plan, work, refs, &bad);
        ns[r] = now_ns() - t0;
        if (rc != 0) {
            fprintf(stderr, "gch_forward_slots failed (%d) at %llu\n", rc, (unsigned long long)bad);
            return 1;
        }
        if (r == 0)
            for (uint64_t i = 0; i < refs; i++)
                checksum = checksum * 31 + work[i];
    }
    qsort(ns, (size_t)reps, sizeof *ns, compare_u64);
    printf("refs %llu  reps %d  best %.2f ns/ref  median %.2f ns/ref  checksum %016llx\n", (unsigned long long)refs, reps,
           (double)ns[0] / (double)refs, (double)ns[reps / 2] / (double)refs, (unsigned long long)checksum);
    return 0;
}
