/*
 * uffd_events.c - what the kernel does with non-cooperative userfaultfd events, checked on the
 * machine at hand (docs/design.md section 6, "Events"; output in
 * docs/results/2026-11-29/events/uffd-events.txt). Needs root (EVENT_FORK wants CAP_SYS_PTRACE).
 *
 *   cc -O1 -pthread experiments/kernel-costs/uffd_events.c -o /tmp/uffd_events && /tmp/uffd_events
 *
 * E1 madvise(MADV_DONTNEED) of a registered range blocks until REMOVE is read; meanwhile COPY
 *    and MOVE answer EAGAIN without progress; the zapped page is gone afterwards.
 * E2 fork() without EVENT_FORK: the child's registered VMA is reset, a missing page reads zero.
 * E3 fork() with EVENT_FORK blocks until FORK is read; COPY in the parent answers EAGAIN meanwhile;
 *    the child's fault arrives on the new uffd; UFFDIO_POISON there makes the child die of SIGBUS.
 * E4 closing the child's uffd unregisters its VMAs: a missing page then reads zero.
 * E5 munmap of part of a registered range: UNMAP blocks until read; UNREGISTER over the hole works.
 * E6 mremap of a registered range: REMAP, then UNMAP of the old range; the new range stays
 *    registered to the same uffd until unregistered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define P 4096UL
#define FEAT_POISON (1ULL << 14)
#define FEAT_MOVE (1ULL << 16)
#define EVENTS (UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP)

struct poison_arg { struct uffdio_range range; uint64_t mode; int64_t updated; };
struct move_arg { uint64_t dst, src, len, mode; int64_t move; };
#define IOC_POISON _IOWR(UFFDIO, 0x08, struct poison_arg)
#define IOC_MOVE _IOWR(UFFDIO, 0x05, struct move_arg)

static char *src;

static int uffd_open(uint64_t features)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = {.api = UFFD_API, .features = features};
    if (fd < 0 || ioctl(fd, UFFDIO_API, &api) != 0) {
        perror("userfaultfd");
        exit(1);
    }
    return fd;
}

static char *registered(int fd, size_t pages)
{
    char *a = mmap(NULL, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct uffdio_register r = {.range = {(uint64_t)a, pages * P}, .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(fd, UFFDIO_REGISTER, &r) != 0) {
        perror("register");
        exit(1);
    }
    return a;
}

static int copy_page(int fd, char *dst)
{
    struct uffdio_copy c = {.dst = (uint64_t)dst, .src = (uint64_t)src, .len = P};
    return ioctl(fd, UFFDIO_COPY, &c) == 0 ? 0 : -errno;
}

static int move_page(int fd, char *dst, char *from)
{
    struct move_arg m = {(uint64_t)dst, (uint64_t)from, P, 0, 0};
    return ioctl(fd, IOC_MOVE, &m) == 0 ? 0 : -errno;
}

static int read_msg(int fd, struct uffd_msg *m)
{
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, 1000) <= 0)
        return -1;
    return read(fd, m, sizeof *m) == (ssize_t)sizeof *m ? 0 : -1;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- threads that change the address space ---- */
struct change { char *addr; size_t len; char *to; };

static void *do_madvise(void *p)
{
    struct change *c = p;
    printf("  [madvise returned %d]\n", madvise(c->addr, c->len, MADV_DONTNEED));
    return NULL;
}

static void *do_munmap(void *p)
{
    struct change *c = p;
    printf("  [munmap returned %d]\n", munmap(c->addr, c->len));
    return NULL;
}

static void *do_mremap(void *p)
{
    struct change *c = p;
    void *r = mremap(c->addr, c->len, c->len, MREMAP_MAYMOVE | MREMAP_FIXED, c->to);
    printf("  [mremap returned %s]\n", r == c->to ? "the new address" : "an error");
    return NULL;
}

/* ---- E3: the reader of the parent's uffd while fork() waits ---- */
struct fork_reader { int fd; char *area; int child_fd; };

static void *read_fork(void *p)
{
    struct fork_reader *x = p;
    usleep(200000);
    printf("E3 fork in progress, FORK unread: COPY in the parent -> %d\n", copy_page(x->fd, x->area + 3 * P));
    struct uffd_msg m;
    if (read_msg(x->fd, &m) == 0 && m.event == UFFD_EVENT_FORK) {
        x->child_fd = (int)m.arg.fork.ufd;
        printf("E3 read UFFD_EVENT_FORK: the child's uffd is fd %d in this process\n", x->child_fd);
    }
    return NULL;
}

static const char *child_outcome(int st)
{
    if (WIFSIGNALED(st))
        return strsignal(WTERMSIG(st));
    return WEXITSTATUS(st) == 42 ? "read the data" : WEXITSTATUS(st) == 40 ? "read zero" : "other";
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    src = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(src, 7, 4 * P);
    struct uffd_msg m;
    pthread_t th;
    int st;

    /* E1 */
    int fd = uffd_open(EVENTS | FEAT_MOVE | FEAT_POISON);
    char *a = registered(fd, 16);
    copy_page(fd, a);
    struct change c1 = {a, P, NULL};
    pthread_create(&th, NULL, do_madvise, &c1);
    usleep(100000);
    printf("E1 madvise blocked, REMOVE unread: COPY -> %d, MOVE -> %d (EAGAIN = -%d)\n", copy_page(fd, a + P),
           move_page(fd, a + 2 * P, src + P), EAGAIN);
    if (read_msg(fd, &m) == 0)
        printf("E1 read event 0x%x (UFFD_EVENT_REMOVE = 0x%x), pages [%lu, %lu)\n", m.event, UFFD_EVENT_REMOVE,
               (unsigned long)((m.arg.remove.start - (uint64_t)a) / P), (unsigned long)((m.arg.remove.end - (uint64_t)a) / P));
    pthread_join(th, NULL);
    unsigned char v = 0;
    mincore(a, P, &v);
    printf("E1 after the read: COPY -> %d; page 0 (installed before) resident: %d\n", copy_page(fd, a + P), v & 1);
    close(fd);

    /* E2 */
    fd = uffd_open(FEAT_MOVE);
    char *b = registered(fd, 4);
    copy_page(fd, b);
    pid_t pid = fork();
    if (pid == 0)
        _exit(b[P] == 0 ? 40 : 1);
    waitpid(pid, &st, 0);
    printf("E2 fork() without EVENT_FORK: the child %s on a missing registered page, without waiting\n", child_outcome(st));
    close(fd);

    /* E3, E4 */
    fd = uffd_open(EVENTS | FEAT_MOVE | FEAT_POISON);
    char *e = registered(fd, 8);
    copy_page(fd, e);
    struct fork_reader fr = {fd, e, -1};
    pthread_create(&th, NULL, read_fork, &fr);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid == 0) {
        volatile char x = e[5 * P];
        _exit(x == 7 ? 42 : x == 0 ? 40 : 1);
    }
    printf("E3 fork() returned after %.0f ms: it waited for its event to be read (the reader slept 200 ms)\n", ms_since(&t0));
    pthread_join(th, NULL);
    printf("E3 after the read: COPY in the parent -> %d\n", copy_page(fd, e + 3 * P));
    if (read_msg(fr.child_fd, &m) == 0)
        printf("E3 the child's fault arrived on the child's uffd: event 0x%x, page %lu\n", m.event,
               (unsigned long)((m.arg.pagefault.address - (uint64_t)e) / P));
    for (int i = 0; i < 8; i++) {
        struct poison_arg po = {.range = {(uint64_t)e + i * P, P}};
        printf("%s%d", i ? " " : "E3 UFFDIO_POISON of each page in the child: ", ioctl(fr.child_fd, IOC_POISON, &po) ? -errno : 0);
    }
    printf(" (EEXIST = -%d: page 0 was present before the fork)\n", EEXIST);
    close(fr.child_fd);
    waitpid(pid, &st, 0);
    printf("E3 the child touching a poisoned page: %s\n", child_outcome(st));
    fr.child_fd = -1;
    pthread_create(&th, NULL, read_fork, &fr);
    pid = fork();
    if (pid == 0) {
        usleep(300000);
        volatile char x = e[6 * P];
        _exit(x == 7 ? 42 : x == 0 ? 40 : 1);
    }
    pthread_join(th, NULL);
    close(fr.child_fd);
    waitpid(pid, &st, 0);
    printf("E4 the child after its uffd was closed: %s (its VMAs were unregistered)\n", child_outcome(st));
    close(fd);

    /* E5 */
    fd = uffd_open(EVENTS | FEAT_MOVE | FEAT_POISON);
    char *u = registered(fd, 8);
    struct change c5 = {u + 2 * P, 2 * P, NULL};
    pthread_create(&th, NULL, do_munmap, &c5);
    usleep(100000);
    printf("E5 munmap blocked, UNMAP unread: COPY elsewhere in the range -> %d\n", copy_page(fd, u));
    if (read_msg(fd, &m) == 0)
        printf("E5 read event 0x%x (UFFD_EVENT_UNMAP = 0x%x), pages [%ld, %ld)\n", m.event, UFFD_EVENT_UNMAP,
               (long)((m.arg.remove.start - (uint64_t)u) / P), (long)((m.arg.remove.end - (uint64_t)u) / P));
    pthread_join(th, NULL);
    struct uffdio_range whole = {(uint64_t)u, 8 * P};
    printf("E5 UFFDIO_UNREGISTER over the hole -> %d\n", ioctl(fd, UFFDIO_UNREGISTER, &whole) ? -errno : 0);
    close(fd);

    /* E6 */
    fd = uffd_open(EVENTS | FEAT_MOVE | FEAT_POISON);
    char *r = registered(fd, 8);
    char *dst = mmap(NULL, 2 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    copy_page(fd, r + 2 * P);
    struct change c6 = {r + 2 * P, 2 * P, dst};
    pthread_create(&th, NULL, do_mremap, &c6);
    usleep(100000);
    printf("E6 mremap blocked, REMAP unread: COPY -> %d\n", copy_page(fd, r));
    while (read_msg(fd, &m) == 0) {
        if (m.event == UFFD_EVENT_REMAP)
            printf("E6 read UFFD_EVENT_REMAP: from page %ld, to the new address: %s, %llu pages\n",
                   (long)((m.arg.remap.from - (uint64_t)r) / P), m.arg.remap.to == (uint64_t)dst ? "yes" : "no",
                   (unsigned long long)(m.arg.remap.len / P));
        else
            printf("E6 read event 0x%x (UFFD_EVENT_UNMAP = 0x%x), old pages [%ld, %ld)\n", m.event, UFFD_EVENT_UNMAP,
                   (long)((m.arg.remove.start - (uint64_t)r) / P), (long)((m.arg.remove.end - (uint64_t)r) / P));
    }
    pthread_join(th, NULL);
    struct uffdio_range moved = {(uint64_t)dst, 2 * P};
    printf("E6 UFFDIO_UNREGISTER of the new range -> %d (it was registered to this uffd)\n",
           ioctl(fd, UFFDIO_UNREGISTER, &moved) ? -errno : 0);
    close(fd);
    return 0;
}
