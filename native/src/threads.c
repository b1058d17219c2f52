/*
 * threads.c - the priority of the runtime's background threads.
 *
 * Time to safepoint on a machine with few CPUs is dominated by one event (docs/design.md
 * section 7): a mutator the stop waits for is preempted by .NET's tiered-compilation worker,
 * which then compiles for milliseconds while the mutator, cache-hot and runnable, waits for the
 * CPU. Raising a thread's nice value needs no privilege; lowering it back does (unless
 * RLIMIT_NICE allows), so the change is one-way and only ever raises.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads /proc/self/task/<tid>/comm into buf (without the newline); 0 or -errno. */
static int read_comm(const char *tid, char *buf, size_t cap)
{
    char path[64];
    if ((size_t)snprintf(path, sizeof path, "/proc/self/task/%s/comm", tid) >= sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno; /* ENOENT: the thread ended meanwhile */
    ssize_t n = read(fd, buf, cap - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
        n--;
    buf[n] = '\0';
    return 0;
}

/*
 * Every thread of this process whose name starts with comm_prefix gets nice value `nice` if its
 * own is lower. *changed_out counts the threads changed, *matched_out those that matched.
 * Errors per thread: ENOENT/ESRCH (it ended meanwhile) are skipped; EPERM/EACCES (a security
 * module refuses) stop the scan and are returned, as is a failure to list the threads.
 */
int32_t gch_nice_threads(const char *comm_prefix, int32_t nice, int32_t *matched_out, int32_t *changed_out)
{
    *matched_out = 0;
    *changed_out = 0;
    if (comm_prefix == NULL || nice < -20 || nice > 19)
        return -EINVAL;
    size_t plen = strlen(comm_prefix);
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -errno;
    int32_t rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char comm[32];
        int r = read_comm(e->d_name, comm, sizeof comm);
        if (r == -ENOENT || r == -ESRCH)
            continue;
        if (r < 0) {
            rc = r;
            break;
        }
        if (strncmp(comm, comm_prefix, plen) != 0)
            continue;
        (*matched_out)++;
        id_t tid = (id_t)strtol(e->d_name, NULL, 10);
        errno = 0;
        int current = getpriority(PRIO_PROCESS, tid);
        if (current == -1 && errno != 0) {
            if (errno == ESRCH)
                continue;
            rc = -errno;
            break;
        }
        if (current >= nice)
            continue;
        if (setpriority(PRIO_PROCESS, tid, nice) != 0) {
            if (errno == ESRCH)
                continue;
            rc = -errno;
            break;
        }
        (*changed_out)++;
    }
    closedir(d);
    return rc;
}
