/*
 * testsupport.c - forcing rare kernel paths for real, for tests and experiments.
 *
 * Both helpers fork. The child of a multi-threaded .NET process may only run
 * async-signal-safe code, so the children here do nothing but raw system calls and the
 * malloc-free probe, then _exit.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"
#include "uffd_abi.h"
#include "uffd_fill.h"

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
