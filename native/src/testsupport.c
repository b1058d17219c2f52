/*
 * testsupport.c - forcing rare kernel paths for real, for tests and experiments.
 *
 * The helpers fork. The child of a multi-threaded .NET process may only run
 * async-signal-safe code, so the children here do nothing but raw system calls, the
 * malloc-free probe and the malloc-free graph walk, then _exit.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"
#include "uffd_abi.h"
#include "uffd_fill.h"
#include "layout.h"

#include <poll.h>
#include <sys/mman.h>
#include <time.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int32_t gch_fork_holder_start(int32_t *pid_out, int32_t *release_fd_out)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return -err;
    }
    if (pid == 0) {
        /* Child: hold the parent's pages copy-on-write until the write end closes. */
        close(fds[1]);
        char c;
        while (read(fds[0], &c, 1) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    close(fds[0]);
    *pid_out = pid;
    *release_fd_out = fds[1];
    return 0;
}

int32_t gch_fork_holder_stop(int32_t pid, int32_t release_fd)
{
    close(release_fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int32_t gch_uffd_probe_as_user(uint32_t uid, uint32_t gid, int32_t allowed_methods, gch_uffd_caps *caps)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return -err;
    }
    if (pid == 0) {
        close(fds[0]);
        gch_uffd_caps local;
        memset(&local, 0, sizeof local);
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(2);
        gch_uffd_probe(allowed_methods, &local);
        ssize_t w = write(fds[1], &local, sizeof local);
        _exit(w == (ssize_t)sizeof local ? 0 : 3);
    }
    close(fds[1]);
    size_t got = 0;
    char *dst = (char *)caps;
    while (got < sizeof *caps) {
        ssize_t n = read(fds[0], dst + got, sizeof *caps - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 2)
        return -EPERM;
    return got == sizeof *caps ? 0 : -EIO;
}

/*
 * The kernel's answers to UFFDIO_CONTINUE, on six scratch pages of a memfd mapped twice (the first
 * view registered MISSING|MINOR, pages written through the second): p0 never written, p1 written
 * and continued twice, [p2 written, p3 hole] with one raw ioctl, [p4 written, p5 hole] through
 * gch_uffd_fill (the compactor's loop). Nothing here faults on a registered page.
 */
int32_t gch_continue_answers_probe(gch_continue_answers *out)
{
    memset(out, 0, sizeof *out);
    const uint64_t P = GCH_PAGE_SIZE, len = 6 * P;
    int32_t mfd = -1;
    uint64_t mut = 0, col = 0;
    int rc = gch_mem_reserve_shared(len, 0, &mfd, &mut, &col);
    if (rc != 0)
        return rc;
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM};
    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = gch_uffd_register(fd, mut, len, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR, NULL)) != 0)
        goto out;
    char *c = (char *)col;
    c[1 * P] = 11;
    c[2 * P] = 22;
    c[4 * P] = 44;

    out->hole = gch_uffd_fill(fd, GCH_FILL_CONTINUE, mut, 0, P, 0, NULL, NULL);
    out->written = gch_uffd_fill(fd, GCH_FILL_CONTINUE, mut + P, 0, P, 0, NULL, NULL);
    out->again = gch_uffd_fill(fd, GCH_FILL_CONTINUE, mut + P, 0, P, 0, NULL, NULL);

    struct uffdio_continue k = {.range = {.start = mut + 2 * P, .len = 2 * P}, .mode = 0, .mapped = 0};
    out->run_first = ioctl(fd, UFFDIO_CONTINUE, &k) == 0 ? 0 : -errno;
    out->run_mapped = k.mapped;

    out->run_rest = gch_uffd_fill(fd, GCH_FILL_CONTINUE, mut + 4 * P, 0, 2 * P, 0, &out->run_done, NULL);
    out->value_ok = ((volatile char *)mut)[1 * P] == 11 && ((volatile char *)mut)[2 * P] == 22 &&
                    ((volatile char *)mut)[4 * P] == 44;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    gch_mem_release_shared(mfd, mut, col, len);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Native graph walk: breadth-first from the roots, numbering objects in the order found. The
 * checksum covers every object's type id and length, its data bytes, and for each reference the
 * number of the object it refers to (0 for null), so it does not depend on addresses. Memory
 * comes from mmap (async-signal-safe), never malloc.
 * ------------------------------------------------------------------------------------- */

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xFF51AFD7ED558CCDull;
}

typedef struct walk_table {
    uint64_t *keys;  /* open addressing: object address, 0 = empty */
    uint64_t *vals;  /* its number (1-based)                        */
    uint64_t mask;
    uint64_t *queue; /* objects in the order found                  */
    uint64_t n, cap;
} walk_table;

/* Number of the object at a (assigning the next one and queueing it if new); 0 when full. */
static uint64_t walk_number(walk_table *w, uint64_t a)
{
    uint64_t i = (a >> 3) * 0x9E3779B97F4A7C15ull & w->mask;
    while (w->keys[i]) {
        if (w->keys[i] == a)
            return w->vals[i];
        i = (i + 1) & w->mask;
    }
    if (w->n == w->cap)
        return 0;
    w->keys[i] = a;
    w->vals[i] = ++w->n;
    w->queue[w->n - 1] = a;
    return w->n;
}

/* roots[i] are object addresses (0: null). */
static void walk(const gch_type_info *types, uint32_t type_count, const uint64_t *roots, uint32_t root_count,
                 uint64_t max_objects, gch_walk_result *out)
{
    memset(out, 0, sizeof *out);
    uint64_t slots = 16;
    while (slots < 2 * max_objects)
        slots <<= 1;
    size_t bytes = (size_t)(slots * 16 + max_objects * 8);
    char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        out->status = -errno;
        return;
    }
    walk_table w = {(uint64_t *)mem, (uint64_t *)(mem + slots * 8), slots - 1, (uint64_t *)(mem + slots * 16), 0,
                    max_objects};
    uint64_t h = 0xCBF29CE484222325ull;
    for (uint32_t r = 0; r < root_count; r++) {
        uint64_t a = roots[r];
        uint64_t num = a ? walk_number(&w, a) : 0;
        if (a && !num) {
            out->status = -E2BIG;
            goto done;
        }
        h = mix(h, num);
    }
    for (uint64_t q = 0; q < w.n; q++) {
        const char *o = (const char *)w.queue[q];
        uint64_t nrefs = 0;
        uint64_t size = gch_obj_size(types, type_count, o, &nrefs);
        if (size == 0 || gch_obj_type(o) == GCH_TYPE_FILLER) {
            out->status = -EILSEQ;
            goto done;
        }
        h = mix(h, gch_obj_type(o));
        h = mix(h, gch_obj_length(o));
        const uint64_t *refs = (const uint64_t *)(o + 8);
        for (uint64_t k = 0; k < nrefs; k++) {
            uint64_t num = refs[k] ? walk_number(&w, refs[k]) : 0;
            if (refs[k] && !num) {
                out->status = -E2BIG;
                goto done;
            }
            h = mix(h, num);
        }
        for (uint64_t b = 8 + 8 * nrefs; b + 8 <= size; b += 8)
            h = mix(h, *(const uint64_t *)(o + b));
    }
    out->objects = w.n;
    out->checksum = h;
done:
    munmap(mem, bytes);
}

/* The handle table is MADV_DONTFORK (a child never inherits the parent's roots): the root
 * addresses are read from their slots before the fork, into memory the child inherits. */
static uint64_t *read_roots(const uint64_t *const *root_slots, uint32_t root_count, size_t *bytes)
{
    *bytes = ((size_t)root_count + 1) * sizeof(uint64_t);
    uint64_t *roots = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (roots == MAP_FAILED)
        return NULL;
    for (uint32_t r = 0; r < root_count; r++)
        roots[r] = *root_slots[r];
    return roots;
}

int32_t gch_test_walk(const gch_type_info *types, uint32_t type_count, const uint64_t *const *root_slots,
                      uint32_t root_count, uint64_t max_objects, gch_walk_result *out)
{
    size_t bytes;
    uint64_t *roots = read_roots(root_slots, root_count, &bytes);
    if (!roots)
        return -errno;
    walk(types, type_count, roots, root_count, max_objects, out);
    munmap(roots, bytes);
    return 0;
}

int32_t gch_test_fork_walk(const gch_type_info *types, uint32_t type_count, const uint64_t *const *root_slots,
                           uint32_t root_count, uint64_t max_objects, int32_t bypass_atfork, int32_t timeout_ms,
                           gch_walk_result *out)
{
    memset(out, 0, sizeof *out);
    size_t roots_bytes;
    uint64_t *roots = read_roots(root_slots, root_count, &roots_bytes);
    if (!roots)
        return -errno;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        int err = errno;
        munmap(roots, roots_bytes);
        return -err;
    }
    /* _Fork: the same system call as fork(), without the pthread_atfork handlers (glibc 2.34+),
     * i.e. what a raw clone() does to the fork gate. */
    pid_t pid = bypass_atfork ? _Fork() : fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        munmap(roots, roots_bytes);
        return -err;
    }
    if (pid == 0) {
        close(fds[0]);
        gch_walk_result r;
        walk(types, type_count, roots, root_count, max_objects, &r);
        ssize_t wr = write(fds[1], &r, sizeof r);
        _exit(wr == (ssize_t)sizeof r ? 0 : 3);
    }
    close(fds[1]);
    munmap(roots, roots_bytes);
    gch_walk_result got;
    size_t have = 0;
    int rc = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (have < sizeof got) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0) {
            rc = -ETIMEDOUT;
            break;
        }
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&pf, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue; /* timeout is checked above */
        ssize_t n = read(fds[0], (char *)&got + have, sizeof got - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the child died before reporting */
        have += (size_t)n;
    }
    close(fds[0]);
    if (rc == -ETIMEDOUT)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (have == sizeof got)
        *out = got;
    else if (rc == 0)
        out->status = -ECHILD;
    out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    out->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return rc;
}
