/*
 * memory.c - virtual memory reservation and release for spaces, tables and buffers.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26) /* log2(2 MiB) << MFD_HUGE_SHIFT */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * MADV_NOHUGEPAGE keeps a range in 4 KiB pages. GCH_MEM_HUGEPAGE asks for transparent huge pages
 * instead (MADV_HUGEPAGE) and aligns the range to 2 MiB, so that a whole aligned 2 MiB block of a
 * space can be mapped by one PMD and moved by one UFFDIO_MOVE (docs/design.md section 6, "Huge
 * blocks"): the reservation is over-sized by 2 MiB and trimmed. A kernel built without
 * transparent huge pages answers EINVAL to either advice: it has no huge pages to ask for or
 * avoid, so that is not an error. Anything else is.
 */
#define GCH_PMD_BYTES (2ull << 20)

int32_t gch_mem_reserve(uint64_t len, int32_t flags, uint64_t *addr_out)
{
    int huge = (flags & GCH_MEM_HUGEPAGE) != 0;
    uint64_t map_len = huge ? len + GCH_PMD_BYTES : len;
    char *raw = mmap(NULL, (size_t)map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return -errno;
    char *p = raw;
    if (huge) {
        p = (char *)(((uintptr_t)raw + GCH_PMD_BYTES - 1) & ~(uintptr_t)(GCH_PMD_BYTES - 1));
        if (p > raw)
            munmap(raw, (size_t)(p - raw));
        if (raw + map_len > p + len)
            munmap(p + len, (size_t)(raw + map_len - (p + len)));
    }
    int advice = huge ? MADV_HUGEPAGE : (flags & GCH_MEM_NOHUGEPAGE) ? MADV_NOHUGEPAGE : -1;
    if (advice >= 0 && madvise(p, (size_t)len, advice) != 0 && errno != EINVAL) {
        int err = errno;
        munmap(p, (size_t)len);
        return -err;
    }
    if ((flags & GCH_MEM_DONTFORK) && madvise(p, (size_t)len, MADV_DONTFORK) != 0) {
        int err = errno;
        munmap(p, (size_t)len);
        return -err;
    }
    *addr_out = (uint64_t)p;
    return 0;
}

static int apply_flags(void *p, size_t len, int32_t flags)
{
    if ((flags & GCH_MEM_NOHUGEPAGE) && madvise(p, len, MADV_NOHUGEPAGE) != 0 && errno != EINVAL)
        return -errno;
    if ((flags & GCH_MEM_DONTFORK) && madvise(p, len, MADV_DONTFORK) != 0)
        return -errno;
    return 0;
}

/*
 * The Continue backend's space: a memfd and two MAP_SHARED views of it. memfd_create makes its
 * file with VM_NORESERVE, so the size set by ftruncate commits nothing (MAP_NORESERVE means nothing
 * for a shared mapping: shmem accounts pages as they are allocated, holes cost nothing). The
 * file's pages are charged to the process's memory cgroup when allocated and show in RssShmem.
 */
int32_t gch_mem_reserve_shared(uint64_t len, int32_t flags, int32_t *fd_out, uint64_t *mutator_out,
                               uint64_t *collector_out)
{
    int huge = (flags & GCH_MEM_HUGETLB) != 0;
    int fd = memfd_create("gcheap-space", MFD_CLOEXEC | (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
    if (fd < 0)
        return -errno;
    int err = 0;
    void *m = MAP_FAILED, *c = MAP_FAILED;
    if (ftruncate(fd, (off_t)len) != 0) {
        err = -errno;
        goto fail;
    }
    int noreserve = huge ? 0 : MAP_NORESERVE;
    m = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | noreserve, fd, 0);
    if (m == MAP_FAILED) {
        err = -errno;
        goto fail;
    }
    c = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | noreserve, fd, 0);
    if (c == MAP_FAILED) {
        err = -errno;
        goto fail;
    }
    if (huge)
        flags &= ~GCH_MEM_NOHUGEPAGE; /* meaningless (EINVAL) on hugetlbfs */
    if ((err = apply_flags(m, (size_t)len, flags)) != 0 || (err = apply_flags(c, (size_t)len, flags)) != 0)
        goto fail;
    *fd_out = fd;
    *mutator_out = (uint64_t)m;
    *collector_out = (uint64_t)c;
    return 0;
fail:
    if (c != MAP_FAILED)
        munmap(c, (size_t)len);
    if (m != MAP_FAILED)
        munmap(m, (size_t)len);
    close(fd);
    return err;
}

int32_t gch_mem_release_shared(int32_t fd, uint64_t mutator, uint64_t collector, uint64_t len)
{
    int err = 0;
    if (mutator && munmap((void *)mutator, (size_t)len) != 0)
        err = -errno;
    if (collector && munmap((void *)collector, (size_t)len) != 0 && !err)
        err = -errno;
    if (fd >= 0 && close(fd) != 0 && !err)
        err = -errno;
    return err;
}

int32_t gch_mem_remove(uint64_t addr, uint64_t len)
{
    if (len == 0)
        return 0;
    return madvise((void *)addr, (size_t)len, MADV_REMOVE) == 0 ? 0 : -errno;
}

int32_t gch_mem_release(uint64_t addr, uint64_t len)
{
    return munmap((void *)addr, (size_t)len) == 0 ? 0 : -errno;
}

int32_t gch_mem_discard(uint64_t addr, uint64_t len)
{
    if (len == 0)
        return 0;
    return madvise((void *)addr, (size_t)len, MADV_DONTNEED) == 0 ? 0 : -errno;
}

int32_t gch_mem_populate(uint64_t addr, uint64_t len)
{
    if (len == 0)
        return 0;
    if (madvise((void *)addr, (size_t)len, MADV_POPULATE_WRITE) == 0)
        return 0;
    if (errno != EINVAL)
        return -errno;
    /* Kernels before 5.14: touch every page. */
    volatile char *p = (volatile char *)addr;
    for (uint64_t off = 0; off < len; off += GCH_PAGE_SIZE)
        p[off] = p[off];
    return 0;
}

int32_t gch_mem_set_dontfork(uint64_t addr, uint64_t len, int32_t dont_fork)
{
    return madvise((void *)addr, (size_t)len, dont_fork ? MADV_DONTFORK : MADV_DOFORK) == 0 ? 0 : -errno;
}

int32_t gch_mem_resident_pages(uint64_t addr, uint64_t len, uint64_t *pages_out)
{
    unsigned char vec[4096];
    uint64_t total = 0;
    for (uint64_t off = 0; off < len; off += (uint64_t)sizeof vec * GCH_PAGE_SIZE) {
        uint64_t chunk = len - off;
        if (chunk > (uint64_t)sizeof vec * GCH_PAGE_SIZE)
            chunk = (uint64_t)sizeof vec * GCH_PAGE_SIZE;
        if (mincore((void *)(addr + off), (size_t)chunk, vec) != 0)
            return -errno;
        uint64_t n = (chunk + GCH_PAGE_SIZE - 1) / GCH_PAGE_SIZE;
        for (uint64_t i = 0; i < n; i++)
            total += vec[i] & 1;
    }
    *pages_out = total;
    return 0;
}

/* VmRSS and VmHWM from /proc/self/status, in bytes. */
int32_t gch_process_memory(uint64_t *rss_bytes, uint64_t *peak_rss_bytes)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -err : -EIO;
    buf[n] = 0;
    unsigned long long kb;
    char *s = strstr(buf, "VmRSS:");
    if (rss_bytes)
        *rss_bytes = (s && sscanf(s + 6, "%llu", &kb) == 1) ? kb * 1024ull : 0;
    s = strstr(buf, "VmHWM:");
    if (peak_rss_bytes)
        *peak_rss_bytes = (s && sscanf(s + 6, "%llu", &kb) == 1) ? kb * 1024ull : 0;
    return 0;
}
