/*
 * thp_cold_touch.c - how long one first touch of a 2 MiB block takes, on memory the machine has
 * not handed to this guest yet ("cold") and on memory just given back by MADV_DONTNEED ("warm").
 *
 * A block of `blocks` x 2 MiB is reserved 2 MiB aligned; round 0 touches one byte per block (one
 * page fault each: a whole transparent huge page with MADV_HUGEPAGE, a single 4 KiB page
 * otherwise, so the 4 KiB mode touches all 512 pages of each block and reports the block's
 * total), then MADV_DONTNEED gives everything back and round 1 touches again. Percentiles of the
 * per-block time are printed for each round. On a virtual machine whose host backs guest memory
 * lazily, round 0 includes the host's work; round 1 mostly reuses memory the host backs already.
 *
 *   cc -O2 -o thp_cold_touch thp_cold_touch.c && ./thp_cold_touch 800 huge && ./thp_cold_touch 800 small
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BLOCK (2ul << 20)
#define PG 4096ul

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int blocks = argc > 1 ? atoi(argv[1]) : 800;
    int huge = argc > 2 ? strcmp(argv[2], "small") != 0 : 1;
    uint64_t *t = malloc((size_t)blocks * sizeof *t);
    size_t len = (size_t)blocks * BLOCK;
    char *raw = mmap(NULL, len + BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (!t || raw == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char *p = (char *)(((uintptr_t)raw + BLOCK - 1) & ~(BLOCK - 1));
    if (madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0)
        perror("madvise");
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < blocks; i++) {
            char *b = p + (size_t)i * BLOCK;
            uint64_t t0 = now_ns();
            if (huge) {
                b[0] = 1;
            } else {
                for (size_t off = 0; off < BLOCK; off += PG)
                    b[off] = 1;
            }
            t[i] = now_ns() - t0;
        }
        qsort(t, (size_t)blocks, sizeof *t, by_value);
        printf("%s pages, round %d (%s): first touch of a 2 MiB block, %d blocks: p50 %.0f us, p90 %.0f, p99 %.0f, max %.0f us\n",
               huge ? "transparent huge" : "4 KiB", round, round == 0 ? "fresh memory" : "after MADV_DONTNEED", blocks, t[blocks / 2] / 1e3,
               t[blocks * 9 / 10] / 1e3, t[blocks * 99 / 100] / 1e3, t[blocks - 1] / 1e3);
        madvise(p, len, MADV_DONTNEED);
    }
    return 0;
}
