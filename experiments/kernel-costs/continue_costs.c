/*
 * continue_costs.c - what the Continue backend's kernel operations cost on this machine, next to
 * Move's, in one sitting.
 *
 *   cc -O2 -pthread experiments/kernel-costs/continue_costs.c -o /tmp/continue_costs && /tmp/continue_costs
 *
 * Needs a full-mode userfaultfd (root, or vm.unprivileged_userfaultfd=1), UFFD_FEATURE_MINOR_SHMEM
 * and Linux 6.8+ for UFFDIO_MOVE. Per run length: UFFDIO_CONTINUE of pages already in a memfd's page
 * cache (written through a second, unregistered view) into a MISSING|MINOR-registered view, and
 * UFFDIO_MOVE of private anonymous pages, each alone and with a second thread of the process
 * running on another CPU. Then what surrounds an install: giving a page its memory
 * (MADV_POPULATE_WRITE, shmem vs anonymous), copying a whole 4 KiB page into a populated shmem page
 * (Continue builds a whole page that way; Move does not copy it), and giving pages back
 * (MADV_REMOVE of resident shmem pages, MADV_DONTNEED of resident anonymous pages, MADV_DONTNEED of
 * a range MOVE already emptied). Means in ns per page over many calls; the machine is shared, so
 * compare within one run and repeat.
 */
#define _GNU_SOURCE
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
#include <time.h>
#include <unistd.h>

struct move_args { uint64_t dst, src, len, mode; int64_t move; };
#define UFFDIO_MOVE_ _IOWR(0xAA, 0x05, struct move_args)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum { P = 4096, N = 32768 }; /* 128 MiB per range */

static volatile int stop;
static volatile long sink;

static uint64_t now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void fail(const char *what)
{
    perror(what);
    exit(1);
}

static void *spinner(void *arg)
{
    char *p = arg;
    while (!stop)
        for (int i = 0; i < 1000; i++)
            sink += p[(i * 64) % 4096];
    return NULL;
}

static int open_uffd(uint64_t features)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        fail("userfaultfd");
    struct uffdio_api api = {.api = UFFD_API, .features = features};
    if (ioctl(fd, UFFDIO_API, &api) != 0)
        fail("UFFDIO_API");
    return fd;
}

static void reg(int fd, void *a, size_t len, uint64_t mode)
{
    struct uffdio_register r = {.range = {.start = (uint64_t)a, .len = len}, .mode = mode};
    if (ioctl(fd, UFFDIO_REGISTER, &r) != 0)
        fail("UFFDIO_REGISTER");
}

/* CONTINUE every page of the mutator view in runs of `run` pages; ns per page. */
static double continue_pass(int fd, char *mut, int run)
{
    uint64_t t0 = now();
    for (int i = 0; i < N; i += run) {
        struct uffdio_continue k = {.range = {.start = (uint64_t)(mut + (size_t)i * P), .len = (uint64_t)run * P}};
        if (ioctl(fd, UFFDIO_CONTINUE, &k) != 0)
            fail("UFFDIO_CONTINUE");
    }
    double ns = (double)(now() - t0) / N;
    if (madvise(mut, (size_t)N * P, MADV_DONTNEED) != 0) /* unmap again; the page cache keeps the pages */
        fail("MADV_DONTNEED (mutator view)");
    return ns;
}

/* MOVE every page from src to dst in runs of `run` pages, then back by plain moves; ns per page. */
static double move_pass(int fd, char *src, char *dst, int run)
{
    uint64_t t0 = now();
    for (int i = 0; i < N; i += run) {
        struct move_args m = {(uint64_t)(dst + (size_t)i * P), (uint64_t)(src + (size_t)i * P), (uint64_t)run * P, 0, 0};
        if (ioctl(fd, UFFDIO_MOVE_, &m) != 0)
            fail("UFFDIO_MOVE");
    }
    double ns = (double)(now() - t0) / N;
    /* Give the pages back to src for the next pass: unregister is not needed, dst stays registered;
     * src is not registered, so refill it by touching and empty dst. */
    if (madvise(dst, (size_t)N * P, MADV_DONTNEED) != 0)
        fail("MADV_DONTNEED (dst)");
    if (madvise(src, (size_t)N * P, MADV_POPULATE_WRITE) != 0)
        fail("MADV_POPULATE_WRITE (src)");
    return ns;
}

static void installs(int with_spinner)
{
    int memfd = memfd_create("continue-costs", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, (off_t)N * P) != 0)
        fail("memfd");
    char *mut = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    char *col = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    char *src = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *dst = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mut == MAP_FAILED || col == MAP_FAILED || src == MAP_FAILED || dst == MAP_FAILED)
        fail("mmap");
    madvise(src, (size_t)N * P, MADV_NOHUGEPAGE);
    madvise(dst, (size_t)N * P, MADV_NOHUGEPAGE);
    if (madvise(col, (size_t)N * P, MADV_POPULATE_WRITE) != 0 || madvise(src, (size_t)N * P, MADV_POPULATE_WRITE) != 0)
        fail("MADV_POPULATE_WRITE");
    int cfd = open_uffd(UFFD_FEATURE_MINOR_SHMEM);
    reg(cfd, mut, (size_t)N * P, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR);
    int mfd = open_uffd(1ULL << 16 /* UFFD_FEATURE_MOVE */);
    reg(mfd, dst, (size_t)N * P, UFFDIO_REGISTER_MODE_MISSING);

    pthread_t th;
    char *spin = malloc(P);
    memset(spin, 1, P);
    stop = 0;
    if (with_spinner && pthread_create(&th, NULL, spinner, spin) != 0)
        fail("pthread_create");
    printf("%s\n", with_spinner ? "with a second thread of the process running:" : "process alone:");
    printf("  run pages   CONTINUE ns/page   MOVE ns/page\n");
    static const int runs[] = {1, 16, 32, 64, 256, 1024}; /* divide N: a run never passes the end of the range */
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        double c = 0, m = 0;
        for (int rep = 0; rep < 3; rep++) {
            c += continue_pass(cfd, mut, runs[r]);
            m += move_pass(mfd, src, dst, runs[r]);
        }
        printf("  %9d   %16.0f   %12.0f\n", runs[r], c / 3, m / 3);
    }
    stop = 1;
    if (with_spinner)
        pthread_join(th, NULL);
    free(spin);
    close(cfd);
    close(mfd);
    munmap(mut, (size_t)N * P);
    munmap(col, (size_t)N * P);
    munmap(src, (size_t)N * P);
    munmap(dst, (size_t)N * P);
    close(memfd);
}

static void around(void)
{
    int memfd = memfd_create("continue-costs-2", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, (off_t)N * P) != 0)
        fail("memfd");
    char *sh = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    char *an = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *from = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || an == MAP_FAILED || from == MAP_FAILED)
        fail("mmap");
    madvise(an, (size_t)N * P, MADV_NOHUGEPAGE);
    madvise(from, (size_t)N * P, MADV_NOHUGEPAGE);
    madvise(from, (size_t)N * P, MADV_POPULATE_WRITE);
    double pop_sh = 0, pop_an = 0, cp = 0, rem = 0, dn = 0, dn_empty = 0;
    const int reps = 3;
    for (int rep = 0; rep < reps; rep++) {
        uint64_t t0 = now();
        for (int i = 0; i < N; i += 64)
            if (madvise(sh + (size_t)i * P, 64 * P, MADV_POPULATE_WRITE) != 0)
                fail("populate shmem");
        pop_sh += (double)(now() - t0) / N;
        t0 = now();
        for (int i = 0; i < N; i += 64)
            if (madvise(an + (size_t)i * P, 64 * P, MADV_POPULATE_WRITE) != 0)
                fail("populate anon");
        pop_an += (double)(now() - t0) / N;
        t0 = now();
        for (int i = 0; i < N; i++)
            memcpy(sh + (size_t)i * P, from + (size_t)i * P, P);
        cp += (double)(now() - t0) / N;
        t0 = now();
        for (int i = 0; i < N; i += 512)
            if (madvise(sh + (size_t)i * P, 512 * P, MADV_REMOVE) != 0)
                fail("MADV_REMOVE");
        rem += (double)(now() - t0) / N;
        t0 = now();
        for (int i = 0; i < N; i += 512)
            if (madvise(an + (size_t)i * P, 512 * P, MADV_DONTNEED) != 0)
                fail("MADV_DONTNEED");
        dn += (double)(now() - t0) / N;
        t0 = now();
        for (int i = 0; i < N; i += 512) /* nothing resident any more: what Move's release finds after MOVE */
            if (madvise(an + (size_t)i * P, 512 * P, MADV_DONTNEED) != 0)
                fail("MADV_DONTNEED");
        dn_empty += (double)(now() - t0) / N;
    }
    printf("around an install (ns per page):\n");
    printf("  MADV_POPULATE_WRITE, 64 pages per call: shmem %.0f, anonymous %.0f\n", pop_sh / reps, pop_an / reps);
    printf("  memcpy of a whole 4 KiB page into a populated shmem page: %.0f\n", cp / reps);
    printf("  give back, 512 pages per call: MADV_REMOVE of resident shmem %.0f, MADV_DONTNEED of resident anonymous %.0f, MADV_DONTNEED of an emptied range %.0f\n",
           rem / reps, dn / reps, dn_empty / reps);
    munmap(sh, (size_t)N * P);
    munmap(an, (size_t)N * P);
    munmap(from, (size_t)N * P);
    close(memfd);
}

int main(void)
{
    installs(0);
    installs(1);
    around();
    return 0;
}
