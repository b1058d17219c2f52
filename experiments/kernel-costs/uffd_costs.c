/*
 * uffd_costs.c - what the kernel operations the compactor relies on cost on this machine.
 *
 *   cc -O2 -pthread experiments/kernel-costs/uffd_costs.c -o /tmp/uffd_costs && /tmp/uffd_costs
 *
 * Needs a full-mode userfaultfd (root, or vm.unprivileged_userfaultfd=1) and Linux 6.8+ for
 * UFFDIO_MOVE. Prints, per batch size, UFFDIO_MOVE in ns per page and us per ioctl, once with
 * the process alone and once with a second thread of the process spinning on another CPU (a
 * running mutator: every MOVE must then flush that CPU's TLB too), then UFFDIO_COPY, a first
 * touch of a fresh anonymous page and MADV_POPULATE_WRITE. Every figure is the mean over many
 * ioctls; the machine is shared, so compare within one run and repeat.
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

enum { P = 4096, N = 65536 }; /* 256 MiB per range */

static volatile int stop;
static volatile long sink;

static uint64_t now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void *spinner(void *arg)
{
    char *p = arg;
    while (!stop)
        for (int i = 0; i < 1000; i++)
            sink += p[(i * 64) % 4096];
    return NULL;
}

static void fail(const char *what)
{
    perror(what);
    exit(1);
}

static void measure(int fd, char *src, char *dst, const char *label)
{
    static const int batches[] = {1, 4, 16, 32, 33, 34, 48, 64, 256, 1024};
    for (unsigned b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        long n = batches[b];
        long pages = (16384 / n) * n;
        madvise(dst, (size_t)N * P, MADV_DONTNEED);
        for (long i = 0; i < pages; i++)
            src[i * P] = 1; /* populated, exclusive source pages */
        uint64_t t0 = now();
        for (long i = 0; i < pages; i += n) {
            struct move_args m = {(uint64_t)dst + i * P, (uint64_t)src + i * P, (uint64_t)n * P, 0, 0};
            if (ioctl(fd, UFFDIO_MOVE_, &m))
                fail("UFFDIO_MOVE");
        }
        double ns = (double)(now() - t0);
        printf("%-10s MOVE run of %4ld pages: %7.0f ns/page %8.1f us/ioctl\n", label, n, ns / pages, ns / (pages / n) / 1000);
    }
    static const int cbatches[] = {1, 16, 64};
    char *buf = mmap(NULL, (size_t)16384 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(buf, 2, (size_t)16384 * P);
    for (unsigned b = 0; b < sizeof cbatches / sizeof cbatches[0]; b++) {
        long n = cbatches[b], pages = 16384;
        madvise(dst, (size_t)N * P, MADV_DONTNEED);
        uint64_t t0 = now();
        for (long i = 0; i < pages; i += n) {
            struct uffdio_copy c = {(uint64_t)dst + i * P, (uint64_t)buf + i * P, (uint64_t)n * P, 0, 0};
            if (ioctl(fd, UFFDIO_COPY, &c))
                fail("UFFDIO_COPY");
        }
        printf("%-10s COPY run of %4ld pages: %7.0f ns/page\n", label, n, (double)(now() - t0) / pages);
    }
    munmap(buf, (size_t)16384 * P);
    char *fresh = mmap(NULL, (size_t)32768 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(fresh, (size_t)32768 * P, MADV_NOHUGEPAGE);
    uint64_t t0 = now();
    for (long i = 0; i < 16384; i++)
        fresh[i * P] = 1;
    printf("%-10s first touch of a fresh page: %7.0f ns/page\n", label, (double)(now() - t0) / 16384);
    t0 = now();
    for (long i = 16384; i < 32768; i += 64)
        madvise(fresh + i * P, 64 * P, MADV_POPULATE_WRITE);
    printf("%-10s MADV_POPULATE_WRITE of 64 pages: %7.0f ns/page\n", label, (double)(now() - t0) / 16384);
    munmap(fresh, (size_t)32768 * P);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        fail("userfaultfd");
    struct uffdio_api api = {.api = UFFD_API, .features = 1ull << 16 /* MOVE */};
    if (ioctl(fd, UFFDIO_API, &api))
        fail("UFFDIO_API (MOVE needs Linux 6.8)");
    char *src = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *dst = mmap(NULL, (size_t)N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(src, (size_t)N * P, MADV_NOHUGEPAGE);
    madvise(dst, (size_t)N * P, MADV_NOHUGEPAGE);
    struct uffdio_register r = {.range = {(uint64_t)dst, (uint64_t)N * P}, .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(fd, UFFDIO_REGISTER, &r))
        fail("UFFDIO_REGISTER");
    measure(fd, src, dst, "alone");
    pthread_t th;
    char *other = malloc(4096);
    memset(other, 1, 4096);
    pthread_create(&th, NULL, spinner, other);
    usleep(10000);
    measure(fd, src, dst, "+spinner");
    stop = 1;
    pthread_join(th, NULL);
    return 0;
}
