/*
 * thp_move_race.c - two concurrent UFFDIO_MOVEs out of one transparent huge page.
 *
 * What GcHeap's Move backend does on huge-page spaces, without GcHeap: a 2 MiB source block is
 * populated (MADV_HUGEPAGE: one THP), a destination range is registered MISSING, and two threads
 * move disjoint subranges of the source into disjoint, empty destination pages at the same time
 * (like a sweeper and the fault thread). The first MOVE to reach the huge page splits it.
 *
 * For each MOVE that fails it prints errno, the `move` field, and whether the destination pages
 * are present and the source pages gone afterwards (mincore), and checks every destination page's
 * contents. With huge pages (argument 2 = 1) on Linux 6.18, a share of rounds answers EEXIST with
 * move = -EEXIST although the pages moved (destination present, source gone, contents right);
 * with small pages (0) none does. GcHeap's compactor treats such an answer as described in
 * docs/design.md section 6 (errno table).
 *
 *   cc -O2 -pthread -o thp_move_race thp_move_race.c && ./thp_move_race 1000 1 && ./thp_move_race 1000 0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct move_arg { /* struct uffdio_move (Linux 6.8 uapi), spelled out for older headers */
    uint64_t dst, src, len, mode;
    int64_t move;
};
#define MOVE_IOCTL _IOWR(UFFDIO, 0x05, struct move_arg)

#define PG 4096ul
#define BLOCK (2ul << 20)

static int uffd;
static char *src_block, *dst_block;
static pthread_barrier_t start;

typedef struct {
    uint32_t dst_page, src_page, pages;
    int err;
    int64_t moved;
} job;

static char *reserve_block(int huge)
{
    char *raw = mmap(NULL, 2 * BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    char *p = (char *)(((uintptr_t)raw + BLOCK - 1) & ~(BLOCK - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    munmap(p + BLOCK, (size_t)(raw + 2 * BLOCK - (p + BLOCK)));
    if (madvise(p, BLOCK, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0)
        perror("madvise");
    return p;
}

static void *mover(void *arg)
{
    job *j = arg;
    struct move_arg m = {.dst = (uint64_t)dst_block + j->dst_page * PG, .src = (uint64_t)src_block + j->src_page * PG, .len = j->pages * PG};
    pthread_barrier_wait(&start);
    j->err = ioctl(uffd, MOVE_IOCTL, &m) == 0 ? 0 : errno;
    j->moved = m.move;
    return NULL;
}

static uint32_t present(const char *p, uint32_t pages)
{
    unsigned char v[512];
    uint32_t n = 0;
    if (mincore((void *)p, pages * PG, v) != 0)
        return 0;
    for (uint32_t i = 0; i < pages; i++)
        n += v[i] & 1;
    return n;
}

static char pattern(uint32_t src_page) { return (char)((src_page & 0x7f) | 1); }

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1000;
    int huge = argc > 2 ? atoi(argv[2]) : 1;
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = {.api = UFFD_API};
    if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0) {
        perror("userfaultfd");
        return 1;
    }
    int failed = 0, eexist_moved = 0, eexist_real = 0, other = 0, wrong = 0, shown = 0;
    for (int r = 0; r < rounds; r++) {
        src_block = reserve_block(huge);
        dst_block = reserve_block(0);
        for (uint32_t i = 0; i < 512; i++)
            memset(src_block + i * PG, pattern(i), PG);
        struct uffdio_register reg = {.range = {(uint64_t)dst_block, BLOCK}, .mode = UFFDIO_REGISTER_MODE_MISSING};
        if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
            perror("UFFDIO_REGISTER");
            return 1;
        }
        /* The pages GcHeap's log showed racing: to-pages 3-4 from from-pages 21-22, and to-pages
         * 6-14 from from-pages 58-66 of the same 2 MiB block. */
        job jobs[2] = {{3, 21, 2, 0, 0}, {6, 58, 9, 0, 0}};
        pthread_t t[2];
        pthread_barrier_init(&start, NULL, 2);
        for (int k = 0; k < 2; k++)
            pthread_create(&t[k], NULL, mover, &jobs[k]);
        for (int k = 0; k < 2; k++)
            pthread_join(t[k], NULL);
        pthread_barrier_destroy(&start);
        for (int k = 0; k < 2; k++) {
            job *j = &jobs[k];
            uint32_t bad = 0;
            for (uint32_t q = 0; q < j->pages; q++)
                if (present(dst_block + (j->dst_page + q) * PG, 1) && dst_block[(j->dst_page + q) * PG] != pattern(j->src_page + q))
                    bad++;
            wrong += (int)bad;
            if (j->err == 0)
                continue;
            failed++;
            uint32_t dst_there = present(dst_block + j->dst_page * PG, j->pages);
            uint32_t src_there = present(src_block + j->src_page * PG, j->pages);
            if (j->err == EEXIST && dst_there == j->pages && src_there == 0)
                eexist_moved++;
            else if (j->err == EEXIST)
                eexist_real++;
            else
                other++;
            if (shown++ < 5)
                printf("round %d: MOVE of %u pages (dst page %u, src page %u) -> %s, move = %lld; afterwards %u/%u destination pages present, %u/%u source pages present, %u wrong\n",
                       r, j->pages, j->dst_page, j->src_page, strerror(j->err), (long long)j->moved, dst_there, j->pages, src_there, j->pages, bad);
        }
        munmap(src_block, BLOCK);
        munmap(dst_block, BLOCK);
    }
    printf("rounds %d, source %s: %d MOVEs failed; EEXIST although moved (destination present, source gone): %d; "
           "EEXIST with the move not done: %d; other errors: %d; destination pages with wrong contents: %d\n",
           rounds, huge ? "MADV_HUGEPAGE (one THP)" : "MADV_NOHUGEPAGE (4 KiB pages)", failed, eexist_moved, eexist_real, other, wrong);
    return 0;
}
