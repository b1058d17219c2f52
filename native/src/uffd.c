/*
 * uffd.c - opening a userfaultfd, probing what the kernel allows, and thin ioctl wrappers
 * that report exact errnos and resume partial progress (EAGAIN).
 */

#define _GNU_SOURCE
#include "gcheap_native.h"
#include "uffd_abi.h"
#include "uffd_fill.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int32_t gch_abi_version(void) { return GCH_ABI_VERSION; }

static int open_syscall(int extra_flags)
{
    long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | extra_flags);
    return fd < 0 ? -errno : (int)fd;
}

static int open_dev(void)
{
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev < 0)
        return -errno;
    int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    int err = fd < 0 ? -errno : 0;
    close(dev);
    return fd < 0 ? err : fd;
}

/* Tries the allowed methods in order of preference; reports each attempt's errno. */
static int open_any(int32_t allowed, int32_t *method, int32_t *e_sys, int32_t *e_dev, int32_t *e_umo)
{
    *method = 0;
    if (allowed & GCH_UFFD_SYSCALL) {
        int fd = open_syscall(0);
        if (fd >= 0) {
            *method = GCH_UFFD_SYSCALL;
            return fd;
        }
        *e_sys = -fd;
    }
    if (allowed & GCH_UFFD_DEV) {
        int fd = open_dev();
        if (fd >= 0) {
            *method = GCH_UFFD_DEV;
            return fd;
        }
        *e_dev = -fd;
    }
    if (allowed & GCH_UFFD_USER_MODE_ONLY) {
        int fd = open_syscall(UFFD_USER_MODE_ONLY);
        if (fd >= 0) {
            *method = GCH_UFFD_USER_MODE_ONLY;
            return fd;
        }
        *e_umo = -fd;
    }
    return -ENOSYS;
}

static int api_handshake(int fd, uint64_t features, uint64_t *features_out, uint64_t *ioctls_out)
{
    struct uffdio_api api;
    memset(&api, 0, sizeof api);
    api.api = UFFD_API;
    api.features = features;
    if (ioctl(fd, UFFDIO_API, &api) != 0)
        return -errno;
    if (features_out)
        *features_out = api.features;
    if (ioctls_out)
        *ioctls_out = api.ioctls;
    return 0;
}

int32_t gch_uffd_open(int32_t allowed_methods, uint64_t features, int32_t *fd_out, int32_t *method_out,
                      uint64_t *features_out)
{
    int32_t e1 = 0, e2 = 0, e3 = 0, method = 0;
    int fd = open_any(allowed_methods, &method, &e1, &e2, &e3);
    if (fd < 0)
        return e1 ? -e1 : e2 ? -e2 : e3 ? -e3 : fd;
    int rc = api_handshake(fd, features, features_out, NULL);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    if (method_out)
        *method_out = method;
    return 0;
}

int32_t gch_close(int32_t fd) { return close(fd) == 0 ? 0 : -errno; }

int32_t gch_uffd_register(int32_t fd, uint64_t addr, uint64_t len, uint64_t mode, uint64_t *ioctls_out)
{
    struct uffdio_register reg;
    memset(&reg, 0, sizeof reg);
    reg.range.start = addr;
    reg.range.len = len;
    reg.mode = mode;
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0)
        return -errno;
    if (ioctls_out)
        *ioctls_out = reg.ioctls;
    return 0;
}

int32_t gch_uffd_unregister(int32_t fd, uint64_t addr, uint64_t len)
{
    struct uffdio_range range = {.start = addr, .len = len};
    return ioctl(fd, UFFDIO_UNREGISTER, &range) == 0 ? 0 : -errno;
}

/* One ioctl of the given kind over [off, len); returns 0 or -errno and the bytes it reports
 * done in *progress (MOVE, COPY and ZEROPAGE report partial progress in their out field). */
static int fill_once(int fd, enum gch_fill_op op, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, int64_t *progress)
{
    int rc;
    switch (op) {
    case GCH_FILL_MOVE: {
        struct gch_uffdio_move m = {.dst = dst, .src = src, .len = len, .mode = mode, .move = 0};
        rc = ioctl(fd, GCH_UFFDIO_MOVE, &m);
        *progress = m.move;
        break;
    }
    case GCH_FILL_COPY: {
        struct uffdio_copy c = {.dst = dst, .src = src, .len = len, .mode = mode, .copy = 0};
        rc = ioctl(fd, UFFDIO_COPY, &c);
        *progress = c.copy;
        break;
    }
    case GCH_FILL_CONTINUE: {
        /* `mapped` is the byte count mapped before an error (the ioctl then answers EAGAIN), or
         * -errno when nothing was. The source is the page cache itself: src is unused. */
        struct uffdio_continue k = {.range = {.start = dst, .len = len}, .mode = mode, .mapped = 0};
        rc = ioctl(fd, UFFDIO_CONTINUE, &k);
        *progress = k.mapped;
        break;
    }
    case GCH_FILL_POISON: {
        struct gch_uffdio_poison p = {.range = {.start = dst, .len = len}, .mode = mode, .updated = 0};
        rc = ioctl(fd, GCH_UFFDIO_POISON, &p);
        *progress = p.updated;
        break;
    }
    default: {
        struct uffdio_zeropage z = {.range = {.start = dst, .len = len}, .mode = mode, .zeropage = 0};
        rc = ioctl(fd, UFFDIO_ZEROPAGE, &z);
        *progress = z.zeropage;
        break;
    }
    }
    return rc == 0 ? 0 : -errno;
}

int gch_uffd_fill(int fd, enum gch_fill_op op, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, uint64_t *done,
                  gch_fill_counters *counters)
{
    return gch_uffd_fill_bounded(fd, op, dst, src, len, mode, done, counters, -1);
}

int gch_uffd_fill_bounded(int fd, enum gch_fill_op op, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode,
                          uint64_t *done, gch_fill_counters *counters, int stall_limit)
{
    uint64_t off = 0;
    int spins = 0;
    int rc = 0;
    while (off < len) {
        int64_t progress = 0;
        if (counters)
            counters->ioctls++;
        int has_src = op == GCH_FILL_MOVE || op == GCH_FILL_COPY; /* ZEROPAGE, CONTINUE, POISON: none */
        rc = fill_once(fd, op, dst + off, has_src ? src + off : 0, len - off, mode, &progress);
        if (rc == 0) {
            off = len;
            break;
        }
        if (progress > 0)
            off += (uint64_t)progress;
        if (rc != -EAGAIN)
            break;
        /* partial progress: resume the rest */
        if (counters)
            counters->eagain_retries++;
        if (progress > 0) {
            spins = 0;
        } else if (stall_limit >= 0 && spins >= stall_limit) {
            break; /* -EAGAIN without progress: the caller lets the pending event be consumed */
        } else if (++spins > 64) {
            sched_yield();
        }
        rc = 0;
    }
    if (done)
        *done = off;
    return rc;
}

int32_t gch_uffd_move(int32_t fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, uint64_t *done)
{
    return gch_uffd_fill(fd, GCH_FILL_MOVE, dst, src, len, mode, done, NULL);
}

int32_t gch_uffd_copy(int32_t fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, uint64_t *done)
{
    return gch_uffd_fill(fd, GCH_FILL_COPY, dst, src, len, mode, done, NULL);
}

int32_t gch_uffd_zeropage(int32_t fd, uint64_t dst, uint64_t len, uint64_t mode, uint64_t *done)
{
    return gch_uffd_fill(fd, GCH_FILL_ZEROPAGE, dst, 0, len, mode, done, NULL);
}

int32_t gch_uffd_wake(int32_t fd, uint64_t addr, uint64_t len)
{
    struct uffdio_range range = {.start = addr, .len = len};
    return ioctl(fd, UFFDIO_WAKE, &range) == 0 ? 0 : -errno;
}

int32_t gch_uffd_read_faults(int32_t fd, uint64_t *addresses, int32_t capacity)
{
    struct uffd_msg msgs[64];
    int32_t stored = 0;
    while (stored < capacity) {
        size_t want = (size_t)(capacity - stored) < 64 ? (size_t)(capacity - stored) : 64;
        ssize_t n = read(fd, msgs, want * sizeof msgs[0]);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return stored > 0 ? stored : -errno;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n / (ssize_t)sizeof msgs[0]; i++)
            if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
                addresses[stored++] = msgs[i].arg.pagefault.address;
    }
    return stored;
}

/* Minor faults on shmem, for real: a two-page memfd mapped twice, one view registered
 * MISSING|MINOR, a page written through the other view, then one UFFDIO_CONTINUE of it. */
static void probe_continue(int32_t method, gch_uffd_caps *caps)
{
    if (!(caps->features & UFFD_FEATURE_MINOR_SHMEM)) {
        caps->continue_errno = EOPNOTSUPP;
        return;
    }
    uint64_t len = 2 * (uint64_t)caps->page_size, mut = 0, col = 0;
    int32_t mfd = -1;
    int rc = gch_mem_reserve_shared(len, 0, &mfd, &mut, &col);
    if (rc != 0) {
        caps->memfd_errno = -rc;
        caps->continue_errno = -rc;
        return;
    }
    int32_t m2 = 0, d1 = 0, d2 = 0, d3 = 0;
    int fd = open_any(method, &m2, &d1, &d2, &d3);
    if (fd < 0) {
        caps->continue_errno = -fd;
    } else if ((rc = api_handshake(fd, UFFD_FEATURE_MINOR_SHMEM, NULL, NULL)) != 0) {
        caps->continue_errno = -rc;
    } else if ((rc = gch_uffd_register(fd, mut, len, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR,
                                       &caps->minor_range_ioctls)) != 0) {
        caps->continue_errno = -rc;
    } else {
        ((volatile char *)col)[0] = 42; /* the page now exists in the page cache */
        rc = gch_uffd_fill(fd, GCH_FILL_CONTINUE, mut, 0, (uint64_t)caps->page_size, 0, NULL, NULL);
        caps->continue_errno = rc == 0 ? (((volatile char *)mut)[0] == 42 ? 0 : EIO) : -rc;
    }
    if (fd >= 0)
        close(fd);
    gch_mem_release_shared(mfd, mut, col, len);
}

/* ---------------------------------------------------------------------------------------
 * Probe: every step is tried for real on scratch memory; nothing is inferred from versions.
 * Uses no malloc, so it is also safe in a child forked from a multi-threaded process.
 * ------------------------------------------------------------------------------------- */
int32_t gch_uffd_probe(int32_t allowed_methods, gch_uffd_caps *caps)
{
    memset(caps, 0, sizeof *caps);
    caps->page_size = (int32_t)sysconf(_SC_PAGESIZE);

    int32_t method = 0;
    int fd = open_any(allowed_methods, &method, &caps->syscall_errno, &caps->dev_errno, &caps->user_mode_errno);
    if (fd < 0)
        return 0;
    caps->open_method = method;

    /* features = 0: the kernel answers with every feature it supports. */
    int rc = api_handshake(fd, 0, &caps->features, &caps->api_ioctls);
    close(fd);
    if (rc != 0) {
        caps->api_errno = -rc;
        return 0;
    }

    long ps = caps->page_size;
    char *scratch = mmap(NULL, (size_t)ps * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (scratch == MAP_FAILED) {
        caps->register_errno = errno;
        return 0;
    }

    /* A uffd with MOVE requested when offered, registered on one page in MISSING mode. */
    uint64_t want = caps->features & UFFD_FEATURE_MOVE;
    int32_t m2 = 0, d1 = 0, d2 = 0, d3 = 0;
    fd = open_any(method, &m2, &d1, &d2, &d3);
    if (fd >= 0 && api_handshake(fd, want, NULL, NULL) == 0) {
        rc = gch_uffd_register(fd, (uint64_t)scratch, (uint64_t)ps, UFFDIO_REGISTER_MODE_MISSING,
                               &caps->range_ioctls);
        if (rc != 0) {
            caps->register_errno = -rc;
        } else if (want) {
            scratch[2 * ps] = 42; /* populate the source page */
            rc = gch_uffd_move(fd, (uint64_t)scratch, (uint64_t)(scratch + 2 * ps), (uint64_t)ps, 0, NULL);
            caps->move_errno = rc == 0 ? (scratch[0] == 42 ? 0 : EIO) : -rc;
        } else {
            caps->move_errno = EOPNOTSUPP;
        }
        close(fd);
    } else {
        caps->register_errno = fd >= 0 ? errno : -fd;
        if (fd >= 0)
            close(fd);
    }

    /* Write-protect mode on anonymous memory (with WP_UNPOPULATED when offered). */
    fd = open_any(method, &m2, &d1, &d2, &d3);
    if (fd >= 0) {
        uint64_t wp = caps->features & (UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED);
        if (api_handshake(fd, wp, NULL, NULL) == 0 &&
            gch_uffd_register(fd, (uint64_t)(scratch + ps), (uint64_t)ps, UFFDIO_REGISTER_MODE_WP,
                              &caps->wp_range_ioctls) != 0)
            caps->wp_range_ioctls = 0;
        close(fd);
    }
    munmap(scratch, (size_t)ps * 4);
    probe_continue(method, caps);
    return 0;
}
