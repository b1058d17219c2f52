/*
 * snapshot.c - the live snapshot saver: a consistent image of a space while mutators run.
 *
 * One native thread (`gch-snapshot`) owns a userfaultfd opened with PAGEFAULT_FLAG_WP and
 * WP_UNPOPULATED (synchronous write-protect faults: the kernel waits for us, so a page can be
 * saved before the write lands; WP_ASYNC is a per-uffd feature and would resolve every fault in
 * the kernel). It never runs managed code and never waits for the .NET runtime: it blocks only in
 * ppoll() on the uffd and an eventfd, and saves a faulted page whatever the managed writer does.
 *
 * Phases (the managed side drives them; docs/design.md section 15):
 *
 *   PRECOPY  the managed caller protects [0, pages) in slices while mutators run
 *            (gch_snapshot_protect) and re-protects what was written meanwhile
 *            (gch_snapshot_round_take, then gch_snapshot_round_protect without the lock), like
 *            live migration's pre-copy rounds. A write fault now only means "written before the
 *            snapshot point": the thread unprotects the page (which wakes the writer) and
 *            remembers it as DIRTY. A DIRTY page protected again by a round's run joined across
 *            a gap is unprotected again on its next fault (listed once).
 *   FROZEN   inside the stop-the-world pause, gch_snapshot_freeze copies the DIRTY pages into
 *            the pool (slots touched at creation; up to pause_copy_pages, the rest is
 *            re-protected) and protects the pages allocated since the last slice: from
 *            now on every page of [0, frozen_pages) is saved or write-protected with its
 *            contents at the pause.
 *   (COW)    after the pause the thread saves pages in order into the staging area (a copy,
 *            then one UFFDIO_WRITEPROTECT mode 0 per batch, which makes them writable and wakes
 *            anyone waiting), at most window_pages ahead of the managed writer. A write fault
 *            on a page not saved yet is served first: copy, unprotect (wakes the writer).
 *
 * Page state machine (state[], one byte per page; only the snapshot thread moves pages out of
 * PROTECTED / SAVED_WP / KEPT, under mu, so a page is saved exactly once per image). Members are
 * the pages of the image being saved; with tracking (config.track) the pages keep their
 * protection after being saved, and a later write (a fault) marks them written for the next image:
 *
 *            protect (slice, or freeze)        save (fault: copy + unprotect)
 *   CLEAN ------------------------------> PROTECTED -------------------------------> STAGED(_FAR)
 *                                           |    ^   \ save (background, tracking: copy only)  ^
 *             PRECOPY write fault: unprotect|    |    `---------------> SAVED_WP ---write fault-'
 *                                           v    |re-protect
 *         (fault after a joined run: unprotect) DIRTY  <---- PRECOPY write fault ---- KEPT
 *                                                                                 |  COW/TRACK
 *   begin_increment: STAGED(_FAR), WRITTEN -> DIRTY; SAVED_WP, KEPT -> KEPT       v  write fault
 *                                                                               WRITTEN
 *   freeze: DIRTY --copy into the pool, up to pause_copy_pages (the rest is re-protected)--> STAGED_POOL
 *   freeze: CLEAN below the pause's high-water mark (allocated since the last round) --copy into
 *           the pool while it has room (the rest is protected)--> STAGED_POOL
 *   (STAGED_POOL behaves as STAGED: saved, writable; begin_increment makes it DIRTY.)
 *
 *   CLEAN      not part of any image: never protected, or above frozen_pages.
 *   PROTECTED  a member, write-protected, not saved: its memory is the image's contents.
 *   DIRTY      a member written during pre-copy; unprotected; copied into the pool or
 *              re-protected inside the pause.
 *   STAGED     a member copied into a staging slot and unprotected: the writer may take it
 *              (_FAR: in the overflow area). Staging is a ring of window_pages pages, populated
 *              once (a fresh page costs ~13 us on its first touch in this project's VM), slot
 *              p % window; a page saved by fault further ahead than the window goes to the
 *              overflow area instead, given back once written.
 *   SAVED_WP   (tracking) a member saved in its ring slot and still protected: unwritten since
 *              the pause.
 *   KEPT       (increments) not a member: unwritten since the previous image's pause, protected.
 *   WRITTEN    (tracking) not a member of this image, written after its pause: in the next one.
 *
 * Without a uffd (config.allowed_methods == 0: the kernel lacks WP or WP_UNPOPULATED) freeze
 * copies every page into staging inside the pause (a pause that grows with the heap).
 *
 * Errno actions (also in design.md's errno table): UFFDIO_WRITEPROTECT EAGAIN (mmap_changing,
 * a non-cooperative event in progress): retry after sched_yield; any other error while
 * unprotecting in COW fails the snapshot, and failing unregisters the whole range, which clears
 * every uffd-wp bit and wakes every waiter (mm/userfaultfd.c userfaultfd_clear_vma), so no
 * thread can stay blocked. read(): EAGAIN = nothing queued, EINTR = retry.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"
#include "clock.h"
#include "uffd_abi.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
    SNAP_CLEAN = 0,
    SNAP_PROTECTED = 1,
    SNAP_DIRTY = 2,
    SNAP_STAGED = 3,
    SNAP_STAGED_FAR = 4,
    SNAP_SAVED_WP = 5,
    SNAP_KEPT = 6,
    SNAP_WRITTEN = 7,
    SNAP_STAGED_POOL = 8
};
enum { PHASE_PRECOPY = 0, PHASE_COW = 1, PHASE_TRACK = 2 };

#define BG_BATCH 64u      /* pages saved per background step (one unprotect ioctl) */
#define REPROTECT_GAP 256u /* re-protect runs are joined across gaps of up to this many pages: an ioctl (~26 us with
                             its TLB flush here) costs as much as walking ~250 protected pages */

struct gch_snapshot {
    gch_snapshot_config cfg;
    int uffd;
    int ev_fd; /* consumed() and destroy() wake the thread */
    uint8_t *state;
    char *ring;    /* window_pages slots, populated once, reused */
    char *staging; /* overflow: page p at p * 4096, for pages saved beyond the window */
    uint32_t *dirty; /* pages unprotected by pre-copy faults, not yet re-protected (under mu) */
    uint32_t ndirty;
    uint32_t *round; /* the list a pre-copy round is re-protecting, swapped with dirty under mu */
    uint32_t nround; /* its length; 0 once protected (the managed caller's thread only) */
    char *pool;          /* pause_copy_pages slots, touched at creation: the freeze's copies */
    uint32_t *pool_page; /* the page in each pool slot, ascending (written by the freeze only) */
    uint32_t npool;
    uint32_t protected_upto; /* [0, protected_upto) protected by slices */
    uint32_t frozen_pages;
    uint32_t bg;       /* next page the background saves */
    uint32_t consumed; /* atomic: pages the writer has taken */
    uint32_t released; /* staging released below this (writer's thread only) */
    int phase;         /* under mu */
    int resumed;       /* atomic: the pause is over; until then the background save stays off the CPU */
    int stop;          /* atomic */
    int failed;        /* atomic */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a page was staged, or the snapshot failed */
    pthread_t thread;
    int started;
    gch_snapshot_stats st;
};

#define ST_ADD(s, f, n) __atomic_fetch_add(&(s)->st.f, (uint64_t)(n), __ATOMIC_RELAXED)

static inline uint64_t page_addr(const gch_snapshot *s, uint32_t p)
{
    return s->cfg.base + ((uint64_t)p << GCH_PAGE_SHIFT);
}

static void snap_fail(gch_snapshot *s, int32_t error, int32_t op, uint64_t addr)
{
    pthread_mutex_lock(&s->mu);
    if (!s->st.error) {
        s->st.error = error;
        s->st.error_op = op;
        s->st.error_addr = addr;
    }
    __atomic_store_n(&s->failed, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->uffd >= 0) {
        /* Unregistering clears every uffd-wp bit and wakes every waiter: nobody stays blocked. */
        struct uffdio_range r = {.start = s->cfg.base, .len = (uint64_t)s->cfg.capacity_pages << GCH_PAGE_SHIFT};
        (void)ioctl(s->uffd, UFFDIO_UNREGISTER, &r);
    }
}

/* UFFDIO_WRITEPROTECT of [first, first + n); wp = 1 protects, 0 unprotects and wakes waiters. */
static int writeprotect(gch_snapshot *s, uint32_t first, uint32_t n, int wp)
{
    struct uffdio_writeprotect w;
    uint64_t t0 = gch_now_ns();
    int rc;
    for (;;) {
        memset(&w, 0, sizeof w);
        w.range.start = page_addr(s, first);
        w.range.len = (uint64_t)n << GCH_PAGE_SHIFT;
        w.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
        rc = ioctl(s->uffd, UFFDIO_WRITEPROTECT, &w) == 0 ? 0 : -errno;
        if (rc != -EAGAIN)
            break;
        ST_ADD(s, eagain_retries, 1); /* mmap_changing: a non-cooperative event is in progress */
        sched_yield();
    }
    uint64_t dt = gch_now_ns() - t0;
    if (wp) {
        ST_ADD(s, protect_ioctls, 1);
        ST_ADD(s, protect_ns, dt);
    } else {
        ST_ADD(s, unprotect_ioctls, 1);
        ST_ADD(s, unprotect_ns, dt);
    }
    return rc;
}

static inline void set_state(gch_snapshot *s, uint32_t p, uint8_t v)
{
    __atomic_store_n(&s->state[p], v, __ATOMIC_RELEASE);
}

static inline uint8_t get_state(const gch_snapshot *s, uint32_t p)
{
    return __atomic_load_n(&s->state[p], __ATOMIC_ACQUIRE);
}

static inline int is_staged(uint8_t st)
{
    return st == SNAP_STAGED || st == SNAP_STAGED_FAR || st == SNAP_STAGED_POOL || st == SNAP_SAVED_WP;
}

static inline int is_member(uint8_t st) { return (st >= SNAP_PROTECTED && st <= SNAP_SAVED_WP) || st == SNAP_STAGED_POOL; }

/* Copied and unprotected: the page's next write is the writer's own business. */
static inline int is_saved_writable(uint8_t st) { return st == SNAP_STAGED || st == SNAP_STAGED_FAR || st == SNAP_STAGED_POOL; }

/* The pool slot holding page p (STAGED_POOL): pool_page is ascending. */
static char *pool_slot(const gch_snapshot *s, uint32_t p)
{
    uint32_t lo = 0, hi = s->npool;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->pool_page[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return s->pool + ((uint64_t)lo << GCH_PAGE_SHIFT);
}

/* Protected right now (a write faults). */
static inline int is_protected(uint8_t st) { return st == SNAP_PROTECTED || st == SNAP_SAVED_WP || st == SNAP_KEPT; }

static inline char *slot_of(const gch_snapshot *s, uint32_t p, uint8_t st)
{
    if (st == SNAP_STAGED_POOL)
        return pool_slot(s, p);
    return st == SNAP_STAGED_FAR ? s->staging + ((uint64_t)p << GCH_PAGE_SHIFT)
                                 : s->ring + ((uint64_t)(p % s->cfg.window_pages) << GCH_PAGE_SHIFT);
}

/* Copies page p into its staging slot; returns the state it will have once unprotected. The ring
 * slot p % window is free when p is within the window of the writer's position: any other page
 * mapping to it is either written already or beyond the window. */
static uint8_t copy_page(gch_snapshot *s, uint32_t p)
{
    uint64_t t0 = gch_now_ns();
    uint32_t consumed = __atomic_load_n(&s->consumed, __ATOMIC_ACQUIRE);
    uint8_t st = p < consumed + s->cfg.window_pages ? SNAP_STAGED : SNAP_STAGED_FAR;
    memcpy(slot_of(s, p, st), (const void *)page_addr(s, p), GCH_PAGE_SIZE);
    ST_ADD(s, copy_ns, gch_now_ns() - t0);
    return st;
}

/* One write fault (called with mu held). */
static void serve_fault(gch_snapshot *s, uint64_t addr)
{
    uint64_t base = s->cfg.base;
    uint64_t end = base + ((uint64_t)s->cfg.capacity_pages << GCH_PAGE_SHIFT);
    ST_ADD(s, write_faults, 1);
    if (addr < base || addr >= end) {
        return; /* not ours: cannot happen (only the space is registered) */
    }
    uint32_t p = (uint32_t)((addr - base) >> GCH_PAGE_SHIFT);
    uint8_t st = get_state(s, p);
    if (!is_protected(st)) {
        /* Unprotected as far as the states go. Either a fault queued before an unprotect that
         * released it (the ioctl below is then a no-op that wakes the writer), or a page that a
         * pre-copy round protected again because it lay in the gap of a joined run after this
         * page had been listed DIRTY (the DIRTY page may then also have been copied by the
         * freeze, STAGED): unprotect it again, never only wake (the writer would fault again,
         * forever). A DIRTY page stays listed once. */
        int rc = writeprotect(s, p, 1, 0);
        if (rc != 0) {
            pthread_mutex_unlock(&s->mu);
            snap_fail(s, rc, GCH_SNAP_OP_UNPROTECT, page_addr(s, p));
            pthread_mutex_lock(&s->mu);
        }
        if (st == SNAP_DIRTY || is_saved_writable(st))
            ST_ADD(s, refaults, 1);
        else
            ST_ADD(s, stale_faults, 1);
        return;
    }
    uint8_t next;
    if (s->phase == PHASE_PRECOPY) {
        next = SNAP_DIRTY; /* written before the snapshot point: re-protected by a round or the freeze */
    } else if (st == SNAP_PROTECTED) {
        next = copy_page(s, p); /* the pause's contents, before the write lands */
        ST_ADD(s, pages_saved_by_fault, 1);
    } else if (st == SNAP_SAVED_WP) {
        next = SNAP_STAGED; /* saved already; written from now on: in the next image too */
        ST_ADD(s, tracked_writes, 1);
    } else {
        next = SNAP_WRITTEN; /* KEPT: not in this image; in the next one */
        ST_ADD(s, tracked_writes, 1);
    }
    int rc = writeprotect(s, p, 1, 0);
    if (rc != 0) {
        pthread_mutex_unlock(&s->mu);
        snap_fail(s, rc, GCH_SNAP_OP_UNPROTECT, page_addr(s, p));
        pthread_mutex_lock(&s->mu);
        return;
    }
    set_state(s, p, next);
    if (next == SNAP_DIRTY) {
        s->dirty[s->ndirty++] = p;
        ST_ADD(s, precopy_faults, 1);
    }
    pthread_cond_broadcast(&s->cv);
}

/* Reads and serves every queued fault; returns without blocking. */
static void drain_faults(gch_snapshot *s)
{
    struct uffd_msg msgs[32];
    for (;;) {
        ssize_t n = read(s->uffd, msgs, sizeof msgs);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* EAGAIN: nothing queued (the uffd is non-blocking) */
        pthread_mutex_lock(&s->mu);
        for (ssize_t i = 0; i < n / (ssize_t)sizeof msgs[0]; i++)
            if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
                serve_fault(s, msgs[i].arg.pagefault.address & ~(uint64_t)(GCH_PAGE_SIZE - 1));
        pthread_mutex_unlock(&s->mu);
    }
}

/* Saves the next batch of pages in order (COW phase); 1 if it did something. */
static int background_step(gch_snapshot *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->phase != PHASE_COW || s->bg >= s->frozen_pages || !__atomic_load_n(&s->resumed, __ATOMIC_ACQUIRE)) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    uint32_t window_end = __atomic_load_n(&s->consumed, __ATOMIC_ACQUIRE) + s->cfg.window_pages;
    if (s->bg >= window_end) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    uint32_t first = s->bg;
    uint32_t end = first + BG_BATCH;
    if (end > s->frozen_pages)
        end = s->frozen_pages;
    if (end > window_end)
        end = window_end;
    uint32_t saved = 0;
    for (uint32_t p = first; p < end; p++) {
        if (get_state(s, p) == SNAP_PROTECTED) {
            (void)copy_page(s, p); /* within the window: a ring slot */
            saved++;
        }
    }
    if (saved && s->cfg.track) {
        /* Tracking: the pages stay protected, so their next write is seen (and no ioctl here). */
        for (uint32_t p = first; p < end; p++)
            if (get_state(s, p) == SNAP_PROTECTED)
                set_state(s, p, SNAP_SAVED_WP);
        ST_ADD(s, pages_saved_background, saved);
    } else if (saved) {
        int rc = writeprotect(s, first, end - first, 0);
        if (rc != 0) {
            pthread_mutex_unlock(&s->mu);
            snap_fail(s, rc, GCH_SNAP_OP_UNPROTECT, page_addr(s, first));
            return 0;
        }
        for (uint32_t p = first; p < end; p++)
            if (get_state(s, p) == SNAP_PROTECTED)
                set_state(s, p, SNAP_STAGED);
        ST_ADD(s, pages_saved_background, saved);
    }
    s->bg = end;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 1;
}

static void *snapshot_main(void *arg)
{
    gch_snapshot *s = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_setname_np(pthread_self(), "gch-snapshot");
    /* Serving a fault is on a writer's critical path (and on the pause's: a stop waits for a
     * thread blocked in a fault): run ahead of mutators when allowed, like the compactor. */
    if (s->cfg.thread_nice != 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), s->cfg.thread_nice);
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) && !__atomic_load_n(&s->failed, __ATOMIC_ACQUIRE)) {
        drain_faults(s);
        if (background_step(s))
            continue; /* look at faults between batches */
        struct pollfd pf[2] = {{.fd = s->uffd, .events = POLLIN}, {.fd = s->ev_fd, .events = POLLIN}};
        int r = ppoll(pf, 2, NULL, NULL);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ENOMEM)
                continue; /* transient: never abandon a blocked writer */
            snap_fail(s, -errno, GCH_SNAP_OP_READ, 0);
            break;
        }
        if (pf[1].revents & POLLIN) {
            uint64_t v;
            (void)!read(s->ev_fd, &v, sizeof v);
        }
    }
    return NULL;
}

int32_t gch_snapshot_create(const gch_snapshot_config *config, gch_snapshot **out)
{
    *out = NULL;
    if (!config || config->capacity_pages == 0 || config->window_pages == 0 || (config->base & (GCH_PAGE_SIZE - 1)))
        return -EINVAL;
    gch_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->cfg = *config;
    s->uffd = -1;
    s->ev_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    size_t cap = config->capacity_pages;
    int rc = 0;
    s->state = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    s->dirty = mmap(NULL, cap * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    s->round = mmap(NULL, cap * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    s->staging = mmap(NULL, cap << GCH_PAGE_SHIFT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    s->ring = mmap(NULL, (size_t)config->window_pages << GCH_PAGE_SHIFT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s->state == MAP_FAILED || s->dirty == MAP_FAILED || s->round == MAP_FAILED || s->staging == MAP_FAILED || s->ring == MAP_FAILED) {
        rc = -ENOMEM;
        goto fail;
    }
    (void)madvise(s->staging, cap << GCH_PAGE_SHIFT, MADV_DONTFORK);
    (void)madvise(s->ring, (size_t)config->window_pages << GCH_PAGE_SHIFT, MADV_DONTFORK);
    /* Populate the ring now, outside any pause (EINVAL before 5.14: the first copies fault it in). */
    (void)madvise(s->ring, (size_t)config->window_pages << GCH_PAGE_SHIFT, 23 /* MADV_POPULATE_WRITE */);
    if (config->allowed_methods != 0 && config->pause_copy_pages > 0) {
        /* The freeze's copies land here inside the pause: touch every slot now, from the CPU.
         * MADV_POPULATE_WRITE is not enough in this VM: the first touch after it still cost
         * ~7 us per page, a touch after a touch 0.03 us (docs/results/2026-11-29/populate-touch.txt). */
        size_t bytes = (size_t)config->pause_copy_pages << GCH_PAGE_SHIFT;
        s->pool = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        s->pool_page = mmap(NULL, (size_t)config->pause_copy_pages * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (s->pool == MAP_FAILED || s->pool_page == MAP_FAILED) {
            rc = -ENOMEM;
            goto fail;
        }
        (void)madvise(s->pool, bytes, MADV_DONTFORK);
        for (size_t off = 0; off < bytes; off += GCH_PAGE_SIZE)
            ((volatile char *)s->pool)[off] = 0;
        memset(s->pool_page, 0, (size_t)config->pause_copy_pages * 4);
    } else {
        s->cfg.pause_copy_pages = 0;
    }
    s->ev_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->ev_fd < 0) {
        rc = -errno;
        goto fail;
    }
    if (config->allowed_methods == 0) {
        *out = s; /* copy-in-pause mode: no uffd, no thread */
        return 0;
    }
    int32_t fd = -1, method = 0;
    uint64_t got = 0;
    rc = gch_uffd_open(config->allowed_methods, UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED, &fd, &method,
                       &got);
    if (rc != 0)
        goto fail;
    s->uffd = fd;
    rc = gch_uffd_register(fd, config->base, (uint64_t)cap << GCH_PAGE_SHIFT, UFFDIO_REGISTER_MODE_WP, NULL);
    if (rc != 0)
        goto fail;
    if (pthread_create(&s->thread, NULL, snapshot_main, s) != 0) {
        rc = -EAGAIN;
        goto fail;
    }
    s->started = 1;
    *out = s;
    return 0;
fail:
    gch_snapshot_destroy(s);
    return rc;
}

int32_t gch_snapshot_protect(gch_snapshot *s, uint32_t first, uint32_t count)
{
    if (s->uffd < 0 || first != s->protected_upto || first + count > s->cfg.capacity_pages || s->phase != PHASE_PRECOPY)
        return -EINVAL;
    if (__atomic_load_n(&s->failed, __ATOMIC_ACQUIRE))
        return s->st.error ? s->st.error : -EIO;
    if (count == 0)
        return 0;
    /* States first: a fault can only arrive once the ioctl has protected the page, and the
     * snapshot thread must then find it PROTECTED. */
    for (uint32_t p = first; p < first + count; p++)
        set_state(s, p, SNAP_PROTECTED);
    int rc = writeprotect(s, first, count, 1);
    if (rc != 0)
        return rc;
    ST_ADD(s, pages_protected, count);
    s->protected_upto = first + count;
    return 0;
}

static int cmp_page(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Takes the DIRTY list (called with mu held): marks its pages PROTECTED and swaps it into
 * s->round (returning its length), leaving an empty list for the faults that follow. Marking
 * first keeps the order the protect of a slice uses: once the ioctl protects a page, a fault on
 * it must find it PROTECTED. */
static uint32_t take_dirty(gch_snapshot *s)
{
    uint32_t n = s->ndirty;
    uint32_t *taken = s->dirty;
    s->dirty = s->round;
    s->round = taken;
    s->ndirty = 0;
    for (uint32_t i = 0; i < n; i++)
        set_state(s, taken[i], SNAP_PROTECTED);
    return n;
}

/* Protects the listed pages, coalescing neighbours into one ioctl per run. The list is in fault
 * order; sorting keeps neighbours together. Runs are joined across gaps of up to REPROTECT_GAP
 * pages: a gap page is below protected_upto, so it is protected already (PROTECTED, KEPT) or was
 * written since the list was taken (DIRTY: listed for the next round, and a fault on it while
 * it is protected again is served by unprotecting it again, see serve_fault); an ioctl costs far
 * more than a page (design section 15). */
static int protect_runs(gch_snapshot *s, uint32_t *list, uint32_t n)
{
    if (n > 1)
        qsort(list, n, sizeof list[0], cmp_page);
    uint32_t i = 0;
    while (i < n) {
        uint32_t j = i + 1;
        while (j < n && list[j] - list[j - 1] <= REPROTECT_GAP + 1)
            j++;
        int rc = writeprotect(s, list[i], list[j - 1] - list[i] + 1, 1);
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

/* A pre-copy round, first step. The list is taken under mu; the ioctls (second step) run without
 * it: faults arriving meanwhile are served at once instead of waiting for the whole round (a
 * writer held for a round of several milliseconds was then also a stop-the-world waiting for
 * that writer: the snapshot command's longest pauses before this change). */
int32_t gch_snapshot_round_take(gch_snapshot *s, uint32_t *count_out)
{
    *count_out = 0;
    if (s->uffd < 0 || s->nround != 0)
        return -EINVAL;
    pthread_mutex_lock(&s->mu);
    int rc = s->phase == PHASE_PRECOPY ? 0 : -EINVAL;
    if (rc == 0)
        s->nround = take_dirty(s);
    pthread_mutex_unlock(&s->mu);
    *count_out = s->nround;
    return rc;
}

/* A pre-copy round, second step: re-protects the taken list, mutators running; then reports how
 * many pages were written while it ran (listed for the next round, or for the pause). That, not
 * the length of the list taken, says whether the rounds converged: a short list can take long to
 * protect when this thread is kept off its CPU, and the writes meanwhile are what the pause copies
 * (2,122 pages after a round that took 64 or fewer: docs/results/2026-12-07/snapshot-first-gc/ftrace/). */
int32_t gch_snapshot_round_protect(gch_snapshot *s, uint32_t *left_out)
{
    *left_out = 0;
    if (s->uffd < 0)
        return -EINVAL;
    uint32_t n = s->nround;
    s->nround = 0;
    int rc = protect_runs(s, s->round, n);
    if (rc == 0) {
        ST_ADD(s, reprotect_rounds, 1);
        ST_ADD(s, pages_reprotected, n);
    }
    pthread_mutex_lock(&s->mu);
    *left_out = s->ndirty;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int32_t gch_snapshot_freeze(gch_snapshot *s, uint32_t pages)
{
    if (pages > s->cfg.capacity_pages || s->phase != PHASE_PRECOPY)
        return -EINVAL;
    uint64_t t0 = gch_now_ns();
    if (s->uffd < 0) {
        /* No write-protect here: the whole image is copied inside the pause. */
        for (uint32_t p = 0; p < pages; p++) {
            memcpy(s->staging + ((uint64_t)p << GCH_PAGE_SHIFT), (const void *)page_addr(s, p), GCH_PAGE_SIZE);
            set_state(s, p, SNAP_STAGED_FAR);
        }
        s->st.pages_copied_in_pause = pages;
        s->frozen_pages = pages;
        s->bg = pages;
        s->phase = PHASE_COW;
        s->st.freeze_ns = gch_now_ns() - t0;
        return 0;
    }
    if (pages < s->protected_upto || s->nround != 0)
        return -EINVAL; /* the space never shrinks while the collector is held off; a round is whole */
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (__atomic_load_n(&s->failed, __ATOMIC_ACQUIRE)) {
        rc = s->st.error ? s->st.error : -EIO;
    } else {
        /* The pages written since the last round: copy them as they are now (the pause's
         * contents) into the pool, up to pause_copy_pages, and re-protect only the rest. A copy
         * into a slot touched before costs ~1 us here (567 pages in 0.51 ms); re-protecting a
         * scattered page costs an ioctl and a TLB flush (~26 us each), and a copy into a slot
         * never touched pays a first touch (~7 us even after MADV_POPULATE_WRITE: 15-58 us per
         * copy inside the pause, docs/results/2026-11-29/snapshot-precopy/populate/). A copied
         * page stays writable (STAGED_POOL: saved for this image). Ascending order: pool_slot()
         * finds a page by binary search. */
        uint32_t n = s->ndirty, left = 0;
        uint64_t tc = gch_now_ns();
        if (n > 1)
            qsort(s->dirty, n, sizeof s->dirty[0], cmp_page);
        s->npool = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t p = s->dirty[i];
            if (s->npool < s->cfg.pause_copy_pages) {
                memcpy(s->pool + ((uint64_t)s->npool << GCH_PAGE_SHIFT), (const void *)page_addr(s, p), GCH_PAGE_SIZE);
                s->pool_page[s->npool++] = p;
                set_state(s, p, SNAP_STAGED_POOL);
            } else {
                s->dirty[left++] = p;
            }
        }
        s->ndirty = left;
        s->st.pause_pages_copied = s->npool;
        s->st.pause_copy_ns = gch_now_ns() - tc;
        n = take_dirty(s);
        rc = protect_runs(s, s->round, n); /* in the pause: nothing else writes, mu may stay held */
        s->st.pause_pages_reprotected = n;
        /* The pages allocated since the last round (a handful: the rounds protect the rest) are
         * copied into the pool too while it has room, and only the rest protected. Above every
         * listed page, they keep pool_page ascending. A protect ioctl here, even of one page,
         * took 0.02-2.8 ms of the pause (its TLB flush; pauses whose freeze protected no page
         * spent nothing beyond their copies: docs/results/2026-12-08/snapshot-rounds/). */
        uint32_t first = s->protected_upto;
        tc = gch_now_ns();
        while (rc == 0 && first < pages && s->npool < s->cfg.pause_copy_pages) {
            memcpy(s->pool + ((uint64_t)s->npool << GCH_PAGE_SHIFT), (const void *)page_addr(s, first), GCH_PAGE_SIZE);
            s->pool_page[s->npool++] = first;
            set_state(s, first, SNAP_STAGED_POOL);
            s->st.pause_new_pages_copied++;
            first++;
        }
        s->st.pause_copy_ns += gch_now_ns() - tc;
        if (rc == 0 && pages > first) {
            for (uint32_t p = first; p < pages; p++)
                set_state(s, p, SNAP_PROTECTED);
            rc = writeprotect(s, first, pages - first, 1);
            if (rc == 0)
                s->st.pause_pages_protected = pages - first;
        }
        if (rc == 0 && pages > s->protected_upto)
            s->protected_upto = pages;
        if (rc == 0) {
            s->frozen_pages = pages;
            s->phase = PHASE_COW;
        }
    }
    pthread_mutex_unlock(&s->mu);
    s->st.freeze_ns = gch_now_ns() - t0;
    /* The background save starts at gch_snapshot_resumed: woken here, the CPU-bound thread could
     * preempt the rest of the pause on a small machine (faults are served either way). */
    return rc;
}

void gch_snapshot_resumed(gch_snapshot *s)
{
    __atomic_store_n(&s->resumed, 1, __ATOMIC_RELEASE);
    if (s->ev_fd >= 0) {
        uint64_t one = 1;
        (void)!write(s->ev_fd, &one, sizeof one);
    }
}

int32_t gch_snapshot_track(gch_snapshot *s)
{
    if (s->uffd < 0 || !s->cfg.track)
        return -EINVAL;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    for (uint32_t p = 0; p < s->frozen_pages && rc == 0; p++)
        if (!is_staged(get_state(s, p)) && is_member(get_state(s, p)))
            rc = -EBUSY; /* the image is not saved yet */
    if (rc == 0)
        s->phase = PHASE_TRACK;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int32_t gch_snapshot_begin_increment(gch_snapshot *s)
{
    if (s->uffd < 0 || !s->cfg.track)
        return -EINVAL;
    if (__atomic_load_n(&s->failed, __ATOMIC_ACQUIRE))
        return s->st.error ? s->st.error : -EIO;
    pthread_mutex_lock(&s->mu);
    if (s->phase != PHASE_TRACK) {
        pthread_mutex_unlock(&s->mu);
        return -EINVAL;
    }
    /* Written since the previous pause (unprotected): members of the new image, to be
     * re-protected by the first round; unwritten (still protected): kept out of it. */
    s->ndirty = 0;
    uint32_t written = 0;
    for (uint32_t p = 0; p < s->frozen_pages; p++) {
        uint8_t st = get_state(s, p);
        if (is_saved_writable(st) || st == SNAP_WRITTEN) {
            set_state(s, p, SNAP_DIRTY);
            s->dirty[s->ndirty++] = p;
            written++;
        } else {
            set_state(s, p, SNAP_KEPT);
        }
    }
    int32_t error = s->st.error;
    memset(&s->st, 0, sizeof s->st);
    s->st.error = error;
    s->st.pages_written_since = written;
    s->protected_upto = s->frozen_pages;
    s->bg = 0;
    __atomic_store_n(&s->consumed, 0, __ATOMIC_RELEASE);
    s->released = 0;
    __atomic_store_n(&s->resumed, 0, __ATOMIC_RELEASE);
    s->phase = PHASE_PRECOPY;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int32_t gch_snapshot_wait(gch_snapshot *s, uint32_t page, int32_t timeout_ms, uint64_t *addr_out)
{
    *addr_out = 0;
    if (page >= s->frozen_pages)
        return -EINVAL;
    uint8_t st = get_state(s, page);
    if (!is_member(st))
        return 1; /* not in this image (an increment: unwritten since the previous one) */
    if (is_staged(st)) {
        *addr_out = (uint64_t)slot_of(s, page, st);
        return 0;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    while (!is_staged(get_state(s, page))) {
        if (__atomic_load_n(&s->failed, __ATOMIC_ACQUIRE)) {
            rc = s->st.error ? s->st.error : -EIO;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
            rc = is_staged(get_state(s, page)) ? 0 : -ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == 0)
        *addr_out = (uint64_t)slot_of(s, page, get_state(s, page));
    return rc;
}

int32_t gch_snapshot_consumed(gch_snapshot *s, uint32_t upto)
{
    if (upto > s->frozen_pages || upto < s->released)
        return -EINVAL;
    if (upto > s->released) {
        /* The writer has taken these pages: give their overflow copies back (ring slots stay). */
        (void)madvise(s->staging + ((uint64_t)s->released << GCH_PAGE_SHIFT), (size_t)(upto - s->released) << GCH_PAGE_SHIFT,
                      MADV_DONTNEED);
        s->released = upto;
    }
    __atomic_store_n(&s->consumed, upto, __ATOMIC_RELEASE);
    if (s->uffd >= 0) {
        uint64_t one = 1;
        (void)!write(s->ev_fd, &one, sizeof one);
    }
    return 0;
}

int32_t gch_snapshot_get_stats(gch_snapshot *s, gch_snapshot_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->frozen_pages = s->frozen_pages;
    uint32_t members = 0;
    for (uint32_t p = 0; p < s->frozen_pages; p++)
        members += is_member(get_state(s, p));
    out->member_pages = members;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void gch_snapshot_destroy(gch_snapshot *s)
{
    if (!s)
        return;
    if (s->started) {
        __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
        uint64_t one = 1;
        (void)!write(s->ev_fd, &one, sizeof one);
        pthread_join(s->thread, NULL);
    }
    if (s->uffd >= 0) {
        /* Closing the uffd clears every uffd-wp bit left and wakes every thread waiting in a
         * fault (userfaultfd_release): an abandoned snapshot never leaves a writer blocked. */
        close(s->uffd);
    }
    if (s->ev_fd >= 0)
        close(s->ev_fd);
    size_t cap = s->cfg.capacity_pages;
    if (s->state && s->state != MAP_FAILED)
        munmap(s->state, cap);
    if (s->dirty && s->dirty != MAP_FAILED)
        munmap(s->dirty, cap * 4);
    if (s->round && s->round != MAP_FAILED)
        munmap(s->round, cap * 4);
    if (s->pool && s->pool != MAP_FAILED)
        munmap(s->pool, (size_t)s->cfg.pause_copy_pages << GCH_PAGE_SHIFT);
    if (s->pool_page && s->pool_page != MAP_FAILED)
        munmap(s->pool_page, (size_t)s->cfg.pause_copy_pages * 4);
    if (s->staging && s->staging != MAP_FAILED)
        munmap(s->staging, cap << GCH_PAGE_SHIFT);
    if (s->ring && s->ring != MAP_FAILED)
        munmap(s->ring, (size_t)s->cfg.window_pages << GCH_PAGE_SHIFT);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
