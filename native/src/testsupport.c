/*
 * testsupport.c - forcing rare kernel paths for real, for tests and experiments.
 *
 * Both helpers fork. The child of a multi-threaded .NET process may only run
 * async-signal-safe code, so the children here do nothing but raw system calls and the
 * malloc-free probe, then _exit.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
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
