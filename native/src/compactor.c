/*
 * compactor.c - the concurrent compactor.
 *
 * Native threads only; none of them ever runs managed code or waits for the .NET runtime (a
 * mutator blocked in a fault can never reach a .NET safepoint, so anything the fault path
 * waited on in the runtime would deadlock the process):
 *
 *   fault thread  - blocks in ppoll() on the uffd, reads missing-fault events and serves each
 *                   one itself: claims the page, builds it and installs it at once. It never
 *                   waits for a sweeper: a page a sweeper is building is flushed by that sweeper
 *                   as soon as it sees the request (urgent_epoch), and the ioctl wakes the thread.
 *   sweepers      - `workers` threads take chunks of to-space in order from a shared cursor,
 *                   claim, build and install their pages in runs: one ioctl per run of
 *                   consecutive to-pages whose sources are consecutive in one mapping.
 *
 * Per-page state machine (to_state), one byte per to-space page, changed only by CAS or by
 * its owner:
 *
 *     PENDING --claim (CAS, any worker)--> CLAIMED --build--> BUILT --install--> INSTALLED
 *
 *   PENDING   nobody owns it. Sweepers and the fault thread race to claim it with a CAS; the
 *             winner owns it until it is INSTALLED.
 *   CLAIMED   its owner is building it (fixing references in place, or packing into a buffer).
 *   BUILT     complete in its source page and waiting in the owner's pending run. A fault on a
 *             CLAIMED or BUILT page bumps urgent_epoch: the owner installs its run at once.
 *   INSTALLED present in to-space. A fault on it raced the install: UFFDIO_WAKE.
 *
 * Install policy (measurements in docs/design.md section 6): a run goes in with one
 * UFFDIO_MOVE if it has at least min_move_pages pages, else with one UFFDIO_COPY; a page MOVE
 * refuses with EBUSY goes in by COPY alone and the run continues by MOVE after it. A faulted
 * page goes in alone (COPY by default: no TLB flush on the waiting thread's path).
 *
 * Continue mode (GCH_INSTALL_CONTINUE): to-space is a memfd mapped twice. The mutator view
 * [to_base, ...) is registered MISSING|MINOR; the collector view (cfg.collector_view) is not. The
 * same state machine runs; only where a page is built and how it goes in differ: a page is built
 * in place in the collector view (a whole page is copied there from from-space and fixed in the
 * copy, a packed page is packed there), which puts it in the memfd's page cache, and a run of
 * consecutive to-pages goes in with one UFFDIO_CONTINUE, which maps those page-cache pages into
 * the mutator view (nothing copied, no page allocated, no source unmapped). A fault is a minor
 * fault (the page is in the page cache, e.g. half built) or a missing fault (a hole: not built
 * yet); both are served alike. Registering MINOR alone would not do: a touch of a hole would
 * then silently allocate a zero page, which building would later fill under the mutator's eyes.
 * Before building a chunk or a fault window its collector-view pages are populated with one
 * MADV_POPULATE_WRITE (a first-touch fault per page costs ~10 us in this VM).
 *
 * Continue on hugetlbfs (cfg.unit_pages = 512): CONTINUE must cover whole 2 MiB pages, so the
 * install unit is the aligned group of 512 to-pages, not a run. Workers claim and build pages as
 * before; each built page increments its unit's count (unit_built), and the worker whose page
 * completes the unit continues it whole (including, in the last unit, the slack beyond the plan,
 * which reads as zeros). A fault builds whatever of its unit is still pending and, when a sweeper
 * holds the rest, waits like any fault on a claimed page: that sweeper's last page installs it.
 *
 * From-space is given back in batches: once every to-page below a frontier is INSTALLED, no
 * page still to be built reads a from-space page below the smallest first source of the
 * to-pages at or after the frontier (a suffix minimum, so any to-space order works), and that
 * prefix is released with one MADV_DONTNEED (Continue: MADV_REMOVE, which punches the pages out
 * of the from-space memfd; DONTNEED would only drop this view's PTEs and keep the page cache).
 *
 * Non-cooperative events (UFFD_FEATURE_EVENT_FORK/REMOVE/UNMAP/REMAP, when the heap's uffd has
 * them) are read by the fault thread with the faults. Each one blocks the thread that caused it
 * until it is read, and until then (and until that thread resumes) MOVE/COPY/ZEROPAGE answer
 * EAGAIN without progress; so the fault thread never waits for anything while events may be
 * unread except inside do_fill, where it reads them itself. What each event means here:
 *
 *   FORK    a child has our to-space registered to a new uffd. Complete compaction (every page
 *           installed before the fork: installs after it answer EAGAIN until the event is read):
 *           close that uffd, which unregisters the child's VMAs. Otherwise (only a fork that
 *           bypassed the fork gate, fork_gate.c): UFFDIO_POISON each page not INSTALLED in the
 *           child (a page the child has answers EEXIST and is skipped), then close: a child that
 *           touches a page it lacks dies with SIGBUS instead of hanging or reading zeros.
 *   REMOVE  pages of registered to-space were discarded by other code. Hitting a planned page,
 *           it destroys installed contents (or races an install: the page would refault as
 *           INSTALLED and be woken forever): the compaction fails. Slack beyond the plan holds
 *           nothing: counted, harmless.
 *   UNMAP   registered to-space is gone: the compaction fails.
 *   REMAP   registered to-space moved elsewhere (mremap also sends UNMAP for the old range):
 *           the new range is unregistered, so nothing there ever waits for this uffd, and the
 *           compaction fails.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"
#include "clock.h"
#include "fork_gate.h"
#include "page_builder.h"
#include "uffd_abi.h"
#include "uffd_fill.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_WORKERS 16u
#define MAX_WAITERS 256u /* faults on pages another worker owns; one per blocked thread at most */
#define MAX_STASH 1024u  /* faults read while the fault thread consumed events inside an ioctl */
#define STAMP_EVERY_PAGES 8u /* fault-around: read the uffd this often while building a window */
#define MAX_PENDING_CHILDREN 16u
#define EAGAIN_STALL_LIMIT 16      /* zero-progress EAGAINs before letting events be consumed */
#define EAGAIN_GIVE_UP_NS 10000000000ull /* an event nobody consumes for 10 s: fail         */

/* No thread-local storage here: in a dlopen'ed library the first access to a __thread variable
 * allocates with malloc, and fork() holds malloc's locks while it waits for its FORK event to
 * be read, by the very thread that would then block on them (found by the fork tests). */

enum { SRC_WHOLE = 0, SRC_RING = 1, SRC_VIEW = 2 /* Continue: the to-page's own collector-view page */ };

typedef struct gch_worker gch_worker;

/* One builder: a sweeper, or the fault thread. Owns its pending run and its buffer ring. */
struct gch_worker {
    gch_compactor *c;
    uint32_t id;
    /* pending run: to-pages [run_dst, run_dst + run_n) built in [run_src, ...) */
    uint32_t run_dst;
    uint32_t run_n;
    uint64_t run_src;
    uint8_t *run_kind; /* SRC_* per page of the run */
    /* buffer ring for compacted pages: slot i holds the i-th page of the current chunk */
    char *ring;
    uint32_t ring_pages;
    uint8_t *ring_resident; /* 1: the slot has a page frame (MOVE takes it away) */
    gch_build_counters bc;
    uint64_t seen_epoch;
    pthread_t thread;
    int started;
};

typedef struct waiter {
    uint32_t page;
    uint64_t t_ns;
} waiter;

typedef struct stashed_fault {
    uint64_t addr;
    uint64_t flags; /* UFFD_PAGEFAULT_FLAG_* (MINOR for the Continue backend) */
    uint64_t t_ns;
} stashed_fault;

struct gch_compactor {
    gch_plan plan;
    gch_compactor_config cfg;

    gch_worker sweepers[MAX_WORKERS];
    gch_worker faulter; /* the fault thread's builder state */
    uint32_t nworkers;

    uint32_t next_chunk;     /* atomic: next chunk of batch_pages to-pages a sweeper takes */
    uint32_t first_page;     /* first to-page a sweeper takes: the nursery's holes below are done */
    uint32_t active;         /* atomic: sweepers still running                              */
    uint64_t installed;      /* atomic: to-pages INSTALLED                                  */
    uint64_t urgent_epoch;   /* atomic: bumped when a fault waits on a page a sweeper owns  */
    int failed;              /* atomic: a worker failed; everyone stops                    */

    /* batched release of from-space (release_mu) */
    pthread_mutex_t release_mu;
    uint32_t *floor_from;    /* [to_pages + 1] suffix minimum of the first source page      */
    int floor_ready;         /* atomic */
    uint32_t frontier;       /* every to-page below is INSTALLED                           */
    uint32_t released_upto;  /* from-pages [nursery_pages, released_upto) given back        */

    /* fault thread bookkeeping (written by it alone) */
    waiter waiters[MAX_WAITERS];
    uint32_t nwaiters;
    uint64_t *stalls;
    uint32_t stall_cap;
    uint32_t stall_n;
    stashed_fault stash[MAX_STASH]; /* faults waiting for the plan or read inside do_fill */
    uint32_t nstash;
    int pending_children[MAX_PENDING_CHILDREN]; /* FORK read before the plan: uffds of children */
    uint32_t npending_children;
    uint64_t removed_lo, removed_hi; /* REMOVE read before the plan: hull of the ranges (mu) */
    uint64_t removed_count;          /* ... and how many (mu) */
    int fault_joined;
    int gate_held; /* atomic: armed in the fork gate and not yet left */

    uint8_t *block_state;    /* huge_blocks: verdict per 512-page to-block (BLOCK_*, CAS once) */
    int pagemap_fd;          /* huge_blocks: /proc/self/pagemap for PAGEMAP_SCAN, or -1       */
    int pagemap_usable;      /* atomic: 0 once PAGEMAP_SCAN answered that it is not supported */

    uint32_t unit;           /* CONTINUE install unit in pages (1, or 512 on hugetlbfs)     */
    uint32_t *unit_built;    /* unit > 1: built pages per unit (atomic)                     */

    gch_compaction_stats st; /* counters: relaxed atomics, read while running */
    gch_failure fail;        /* first failure (fail_mu) */
    pthread_mutex_t fail_mu;

    int stop_fd;
    pthread_t fault_thread;
    int fault_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t threads_ready; /* threads that have started and wait for the plan */
    int began;   /* the plan was handed over */
    int resumed; /* the managed side released the mutators (atomic) */
    int abandon; /* destroyed without a plan */
    int done;
    int32_t result;
    uint64_t t_start;
    uint64_t cpu_ns; /* atomic: CPU time of all sweepers */
};

#define STAT_ADD(c, field, n) __atomic_fetch_add(&(c)->st.field, (uint64_t)(n), __ATOMIC_RELAXED)

static inline uint8_t page_state(const gch_compactor *c, uint32_t t)
{
    return __atomic_load_n(&c->plan.to_state[t], __ATOMIC_ACQUIRE);
}

static inline void set_page_state(gch_compactor *c, uint32_t t, uint8_t s)
{
    __atomic_store_n(&c->plan.to_state[t], s, __ATOMIC_RELEASE);
}

/* PENDING -> CLAIMED; 1 if this worker now owns page t. */
static inline int claim(gch_compactor *c, uint32_t t)
{
    uint8_t expected = GCH_PAGE_PENDING;
    return __atomic_compare_exchange_n(&c->plan.to_state[t], &expected, GCH_PAGE_CLAIMED, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

static inline int has_failed(const gch_compactor *c) { return __atomic_load_n(&c->failed, __ATOMIC_ACQUIRE); }

/* Records the first failure of any worker and tells every worker to stop. */
static void fail_with(gch_compactor *c, int32_t error, int32_t op, uint64_t addr)
{
    pthread_mutex_lock(&c->fail_mu);
    gch_fail(&c->fail, error, op, addr);
    pthread_mutex_unlock(&c->fail_mu);
    __atomic_store_n(&c->failed, 1, __ATOMIC_RELEASE);
}

/* The page builder reports into a private gch_failure; move it to the compactor's. */
static void fail_from(gch_compactor *c, const gch_failure *f)
{
    fail_with(c, f->error ? f->error : -EIO, f->op, f->addr);
}

static void block_all_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

/* Serving faults is on the mutators' critical path: when allowed, give the native threads more
 * CPU weight than mutators so a fault is not left waiting behind a running mutator. */
static void apply_nice(const gch_compactor *c)
{
    if (c->cfg.thread_nice != 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), c->cfg.thread_nice);
}

/* ------------------------------------------------------------------ ioctls with counting */

static void pump_events(gch_compactor *c);
static void disarm(gch_compactor *c);

/* Lets a pending non-cooperative event be consumed: the fault thread reads it itself (it is the
 * only reader), a sweeper gives the CPU to the fault thread and to the thread the event blocks. */
static inline int on_fault_thread(const gch_compactor *c)
{
    return c->fault_started && pthread_equal(pthread_self(), c->fault_thread);
}

static void let_events_through(gch_compactor *c)
{
    if (on_fault_thread(c))
        pump_events(c);
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

/* MOVE/COPY/ZEROPAGE of [dst, dst + len): resumes partial progress; an EAGAIN without progress
 * means the mapping is changing (an event unread, or its thread not yet resumed), so the event is
 * let through and the rest retried, for at most EAGAIN_GIVE_UP_NS. */
static int do_fill(gch_compactor *c, enum gch_fill_op op, uint64_t dst, uint64_t src, uint64_t len, uint64_t *done)
{
    gch_fill_counters k = {0, 0};
    uint64_t t0 = gch_now_ns();
    uint64_t off = 0;
    int has_src = op == GCH_FILL_MOVE || op == GCH_FILL_COPY;
    int rc;
    for (;;) {
        uint64_t d = 0;
        rc = gch_uffd_fill_bounded(c->cfg.uffd, op, dst + off, has_src ? src + off : 0, len - off, 0, &d, &k,
                                   EAGAIN_STALL_LIMIT);
        off += d;
        if (rc != -EAGAIN)
            break;
        STAT_ADD(c, eagain_event_waits, 1);
        if (has_failed(c) || gch_now_ns() - t0 > EAGAIN_GIVE_UP_NS)
            break; /* -EAGAIN: the caller fails (or the compaction already did) */
        let_events_through(c);
    }
    *done = off;
    uint64_t dt = gch_now_ns() - t0;
    STAT_ADD(c, ioctls, k.ioctls);
    STAT_ADD(c, eagain_retries, k.eagain_retries);
    if (op == GCH_FILL_MOVE) {
        STAT_ADD(c, move_ioctls, k.ioctls);
        STAT_ADD(c, move_ns, dt);
    } else if (op == GCH_FILL_COPY) {
        STAT_ADD(c, copy_ioctls, k.ioctls);
        STAT_ADD(c, copy_ns, dt);
    } else if (op == GCH_FILL_CONTINUE) {
        STAT_ADD(c, continue_ioctls, k.ioctls);
        STAT_ADD(c, continue_ns, dt);
    }
    return rc;
}

static inline int continue_mode(const gch_compactor *c) { return c->cfg.install_mode == GCH_INSTALL_CONTINUE; }

/* Gives source pages back: MADV_DONTNEED for anonymous from-space, MADV_REMOVE (punch the pages out
 * of the memfd) for the Continue backend's shared from-space. */
static int do_discard(gch_compactor *c, uint64_t addr, uint64_t len)
{
    STAT_ADD(c, madvise_calls, 1);
    uint64_t t0 = gch_now_ns();
    int rc = madvise((void *)addr, (size_t)len, continue_mode(c) ? MADV_REMOVE : MADV_DONTNEED);
    STAT_ADD(c, release_ns, gch_now_ns() - t0);
    if (rc != 0) {
        fail_with(c, -errno, GCH_OP_MADVISE, addr);
        return -1;
    }
    return 0;
}

static inline int src_in_from_space(const gch_compactor *c, uint64_t src)
{
    return src >= c->plan.from_base && src < c->plan.from_base + ((uint64_t)c->plan.from_pages << GCH_PAGE_SHIFT);
}

/* A whole page whose source is in the from-space nursery: its frame stays there (the heap zeroes
 * it in place for a later cycle), so it goes in by COPY, never by MOVE. */
static inline int src_in_nursery(const gch_compactor *c, uint64_t src)
{
    return src >= c->plan.from_base && src < c->plan.from_base + ((uint64_t)c->plan.nursery_pages << GCH_PAGE_SHIFT);
}

enum { HOW_COPIED = 0, HOW_MOVED = 1, HOW_ZERO_FILLED = 2, HOW_CONTINUED = 3 };

/* Counts n installed pages by kind (whole or packed) and by how they went in. */
static void account(gch_compactor *c, uint32_t to_page, const uint8_t *kinds, uint32_t n, int how)
{
    int moved = how == HOW_MOVED;
    uint64_t whole = 0, zero_copy = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (c->plan.to_kind[to_page + i] == GCH_TO_WHOLE) {
            whole++;
            if (moved && kinds[i] == SRC_WHOLE)
                zero_copy++;
        }
    }
    STAT_ADD(c, pages_whole, whole);
    STAT_ADD(c, pages_compacted, n - whole);
    STAT_ADD(c, pages_zero_copy, zero_copy);
    if (how == HOW_MOVED)
        STAT_ADD(c, pages_moved, n);
    else if (how == HOW_COPIED)
        STAT_ADD(c, pages_copied, n);
    else if (how == HOW_CONTINUED)
        STAT_ADD(c, pages_continued, n);
    else
        STAT_ADD(c, pages_zero_filled, n);
}

static void mark_installed(gch_compactor *c, uint32_t first, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++)
        set_page_state(c, first + j, GCH_PAGE_INSTALLED);
    STAT_ADD(c, pages_installed, n);
    __atomic_fetch_add(&c->installed, (uint64_t)n, __ATOMIC_ACQ_REL);
}

/* MOVE answered EEXIST at dst: how many pages from dst on it moved all the same. On Linux 6.18 a
 * MOVE that races another MOVE splitting the same transparent huge page source can complete and
 * answer EEXIST (experiments/kernel-costs/thp_move_race.c reproduces it without GcHeap: two
 * threads, disjoint subranges of one THP; 84 of 1,000 rounds, docs/results/2026-11-29/thp). The run's destination pages are this
 * worker's alone (the page state machine), and a source page is never given back before its
 * to-page is installed, so "destination present and source gone" can only mean this MOVE moved
 * it. Counts that prefix; 0 means a destination page really was present (a broken invariant). */
static uint32_t moved_despite_eexist(uint64_t dst, uint64_t src, uint32_t n)
{
    unsigned char dv[64], sv[64];
    uint32_t k = 0;
    while (k < n) {
        uint32_t m = n - k < 64 ? n - k : 64;
        if (mincore((void *)(dst + ((uint64_t)k << GCH_PAGE_SHIFT)), (size_t)m << GCH_PAGE_SHIFT, dv) != 0 ||
            mincore((void *)(src + ((uint64_t)k << GCH_PAGE_SHIFT)), (size_t)m << GCH_PAGE_SHIFT, sv) != 0)
            return k; /* ENOMEM: a source page is unmapped (cannot be); treat what follows as not moved */
        for (uint32_t j = 0; j < m; j++, k++)
            if (!(dv[j] & 1) || (sv[j] & 1))
                return k;
    }
    return k;
}

/* Installs to-pages [dst_page, dst_page + n) from the contiguous source [src, src + n pages) with
 * one ioctl where the kernel lets it: MOVE when `move`, else COPY. Every errno is handled here,
 * as in the design's table. */
static int install(gch_compactor *c, uint32_t dst_page, uint64_t src, uint32_t n, const uint8_t *kinds, int move)
{
    const uint64_t P = GCH_PAGE_SIZE;
    uint64_t dst = c->plan.to_base + ((uint64_t)dst_page << GCH_PAGE_SHIFT);
    uint32_t i = 0;
    while (i < n) {
        uint64_t done = 0;
        int rc = do_fill(c, move ? GCH_FILL_MOVE : GCH_FILL_COPY, dst + i * P, src + i * P, (n - i) * P, &done);
        uint32_t k = (uint32_t)(done / P);
        account(c, dst_page + i, kinds + i, k, move ? HOW_MOVED : HOW_COPIED);
        if (k && move)
            STAT_ADD(c, runs_moved, 1);
        i += k;
        if (rc == 0)
            break;
        if (n - i > 1 && (rc == -EINVAL || (!move && rc == -ENOENT))) {
            /* The range crosses a VMA boundary (MOVE: EINVAL; COPY: ENOENT, "not inside one
             * registered VMA"), e.g. two pieces of a space that did not merge again: install
             * the rest one page at a time; a single page never spans two VMAs. */
            mark_installed(c, dst_page, i);
            for (uint32_t j = i; j < n; j++)
                if (install(c, dst_page + j, src + (uint64_t)j * P, 1, kinds + j, move) != 0)
                    return -1;
            return 0;
        }
        if (rc == -EEXIST && move) {
            uint32_t moved = moved_despite_eexist(dst + i * P, src + i * P, n - i);
            if (moved > 0) {
                STAT_ADD(c, moves_misreported, moved);
                account(c, dst_page + i, kinds + i, moved, HOW_MOVED);
                STAT_ADD(c, runs_moved, 1);
                i += moved;
                continue; /* the rest of the run, if any, goes in by MOVE again */
            }
        }
        if (rc == -EEXIST) {
            /* Only this compactor fills to-space, and every page has exactly one owner: a present
             * destination (that MOVE did not just fill) means the page state machine is broken.
             * Fail loudly. */
            STAT_ADD(c, eexist, 1);
            fail_with(c, rc, move ? GCH_OP_MOVE : GCH_OP_COPY, dst + i * P);
            return -1;
        } else if (move && rc == -EBUSY) {
            /* Source frame not exclusively ours (fork, KSM, pin, swap cache): copy this page in
             * and go on moving the rest of the run. A whole source is dropped at once so nothing
             * is left behind; ring slots are simply rebuilt. */
            STAT_ADD(c, ebusy_fallbacks, 1);
            uint64_t d2 = 0;
            int rc2 = do_fill(c, GCH_FILL_COPY, dst + i * P, src + i * P, P, &d2);
            if (rc2 != 0) {
                fail_with(c, rc2, GCH_OP_COPY, dst + i * P);
                return -1;
            }
            account(c, dst_page + i, kinds + i, 1, HOW_COPIED);
            if (kinds[i] == SRC_WHOLE && do_discard(c, src + i * P, P) != 0)
                return -1;
            i++;
        } else if (move && rc == -ENOENT) {
            /* Source page never touched (e.g. the unwritten tail of a large array). */
            uint64_t d2 = 0;
            int rc2 = do_fill(c, GCH_FILL_ZEROPAGE, dst + i * P, 0, P, &d2);
            if (rc2 != 0) {
                fail_with(c, rc2, GCH_OP_ZEROPAGE, dst + i * P);
                return -1;
            }
            account(c, dst_page + i, kinds + i, 1, HOW_ZERO_FILLED);
            i++;
        } else {
            fail_with(c, rc, move ? GCH_OP_MOVE : GCH_OP_COPY, dst + i * P);
            return -1;
        }
    }
    mark_installed(c, dst_page, n);
    return 0;
}

/* Continue mode: maps to-pages [dst_page, dst_page + n), built in the collector view, into the
 * mutator view with one UFFDIO_CONTINUE where the kernel lets it. Every errno is handled here, as
 * in the design's table. */
static int install_continue(gch_compactor *c, uint32_t dst_page, const uint8_t *kinds, uint32_t n)
{
    const uint64_t P = GCH_PAGE_SIZE;
    uint64_t dst = c->plan.to_base + ((uint64_t)dst_page << GCH_PAGE_SHIFT);
    uint32_t i = 0;
    while (i < n) {
        uint64_t done = 0;
        /* gch_uffd_fill resumes after partial progress (EAGAIN with `mapped` > 0) by itself. */
        int rc = do_fill(c, GCH_FILL_CONTINUE, dst + i * P, 0, (n - i) * P, &done);
        uint32_t k = (uint32_t)(done / P);
        account(c, dst_page + i, kinds + i, k, HOW_CONTINUED);
        i += k;
        if (rc == 0)
            break;
        if (rc == -EEXIST) {
            /* Already mapped. A shared mapping can only map the file's own page at this offset,
             * the very page this worker built, so the mutator sees the right contents: treat it as
             * installed, and wake a thread that may be waiting on it (CONTINUE did not). */
            STAT_ADD(c, eexist, 1);
            STAT_ADD(c, ioctls, 1);
            STAT_ADD(c, wake_ioctls, 1);
            int rc2 = gch_uffd_wake(c->cfg.uffd, dst + i * P, P);
            if (rc2 != 0) {
                fail_with(c, rc2, GCH_OP_WAKE, dst + i * P);
                return -1;
            }
            account(c, dst_page + i, kinds + i, 1, HOW_CONTINUED);
            i++;
        } else if (n - i > 1 && (rc == -EINVAL || rc == -ENOENT)) {
            /* The range crosses a VMA boundary (mutator view split by an earlier registration
             * that did not merge back): the rest page by page. */
            mark_installed(c, dst_page, i);
            for (uint32_t j = i; j < n; j++)
                if (install_continue(c, dst_page + j, kinds + j, 1) != 0)
                    return -1;
            return 0;
        } else {
            /* EFAULT: the page is not in the memfd's page cache, i.e. it was never written in the
             * collector view: building must write every page, so this is a broken invariant.
             * Anything else is unexpected. Fail loudly either way. */
            fail_with(c, rc, GCH_OP_CONTINUE, dst + i * P);
            return -1;
        }
    }
    mark_installed(c, dst_page, n);
    return 0;
}

static inline uint32_t unit_size(const gch_compactor *c, uint32_t u)
{
    uint32_t first = u * c->unit;
    return c->plan.to_pages - first < c->unit ? c->plan.to_pages - first : c->unit;
}

/* Hugetlb: continues unit u whole (2 MiB); its to-pages are all built. Pages past the plan in the
 * last unit are mapped too (zeros) and are not counted. */
static int install_unit(gch_compactor *c, uint32_t u)
{
    const uint64_t P = GCH_PAGE_SIZE;
    uint32_t first = u * c->unit, n = unit_size(c, u);
    uint64_t dst = c->plan.to_base + (uint64_t)first * P, done = 0;
    int rc = do_fill(c, GCH_FILL_CONTINUE, dst, 0, (uint64_t)c->unit * P, &done);
    if (rc == -EEXIST && done == 0) {
        /* Already mapped (see install_continue): wake the range, it is installed. */
        STAT_ADD(c, eexist, 1);
        STAT_ADD(c, ioctls, 1);
        STAT_ADD(c, wake_ioctls, 1);
        rc = gch_uffd_wake(c->cfg.uffd, dst, (uint64_t)c->unit * P);
        if (rc != 0) {
            fail_with(c, rc, GCH_OP_WAKE, dst);
            return -1;
        }
    } else if (rc != 0) {
        fail_with(c, rc, GCH_OP_CONTINUE, dst + done);
        return -1;
    }
    STAT_ADD(c, pages_continued, n);
    uint64_t whole = 0;
    for (uint32_t i = 0; i < n; i++)
        whole += c->plan.to_kind[first + i] == GCH_TO_WHOLE;
    STAT_ADD(c, pages_whole, whole);
    STAT_ADD(c, pages_compacted, n - whole);
    mark_installed(c, first, n);
    return 0;
}

/* Hugetlb: page t is built; the worker that completes its unit installs the unit. */
static int unit_page_built(gch_compactor *c, uint32_t t)
{
    uint32_t u = t / c->unit;
    if (__atomic_add_fetch(&c->unit_built[u], 1, __ATOMIC_ACQ_REL) == unit_size(c, u))
        return install_unit(c, u);
    return 0;
}

static int flush_run(gch_worker *w)
{
    gch_compactor *c = w->c;
    if (w->run_n == 0)
        return 0;
    uint32_t n = w->run_n;
    w->run_n = 0;
    if (continue_mode(c))
        return install_continue(c, w->run_dst, w->run_kind, n);
    int move = c->cfg.install_mode == GCH_INSTALL_MOVE && n >= c->cfg.min_move_pages;
    if (c->cfg.packed_pages_by_copy && w->run_kind[0] == SRC_RING)
        move = 0; /* a run never mixes ring slots and from-space (extends_run) */
    int nursery = src_in_nursery(c, w->run_src);
    if (nursery)
        move = 0; /* nor nursery pages and the rest of from-space */
    if (install(c, w->run_dst, w->run_src, n, w->run_kind, move) != 0)
        return -1;
    if (nursery)
        STAT_ADD(c, pages_nursery_copied, n);
    if (move) {
        /* MOVE took the ring frames of packed pages with it. */
        for (uint32_t i = 0; i < n; i++)
            if (w->run_kind[i] == SRC_RING)
                w->ring_resident[(w->run_src - (uint64_t)w->ring) / GCH_PAGE_SIZE + i] = 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ from-space release */

/* First from-space page to-page t reads: its whole page, or the page of its first packed object. */
static inline uint32_t first_source(const gch_plan *pl, uint32_t t)
{
    return pl->to_kind[t] == GCH_TO_WHOLE ? pl->to_src[t] : pl->to_src[t] / GCH_GRANULES_PER_PAGE;
}

/* floor_from[t] = min first source of to-pages >= t (from_pages past the end). */
static int compute_floors(gch_compactor *c)
{
    const gch_plan *pl = &c->plan;
    uint32_t *f = malloc(((size_t)pl->to_pages + 1) * sizeof *f);
    if (!f)
        return -ENOMEM;
    f[pl->to_pages] = pl->from_pages;
    for (uint32_t t = pl->to_pages; t-- > 0;) {
        if (pl->to_kind[t] == GCH_TO_HOLE) {
            f[t] = f[t + 1];
            continue;
        }
        uint32_t s = first_source(pl, t);
        if (s < pl->nursery_pages) {
            /* The nursery is never released. A whole page reads only its own source: black
             * nursery pages, wherever they are in to-space, hold nothing back. A packed page
             * starting in the nursery may read on into the pages above it. */
            if (pl->to_kind[t] == GCH_TO_WHOLE) {
                f[t] = f[t + 1];
                continue;
            }
            s = pl->nursery_pages;
        }
        f[t] = s < f[t + 1] ? s : f[t + 1];
    }
    c->floor_from = f;
    __atomic_store_n(&c->floor_ready, 1, __ATOMIC_RELEASE);
    return 0;
}

/* Gives back from-space below the floor of the installed frontier, in chunks of at least
 * release_chunk_pages (`all`: whatever is left). Pages moved out are holes already; discarding
 * them is cheap. */
static int release_prefix(gch_compactor *c, int all)
{
    const gch_plan *pl = &c->plan;
    if (!c->cfg.release_chunk_pages || !__atomic_load_n(&c->floor_ready, __ATOMIC_ACQUIRE))
        return 0;
    if (all) {
        pthread_mutex_lock(&c->release_mu);
    } else if (pthread_mutex_trylock(&c->release_mu) != 0) {
        return 0; /* another sweeper is at it */
    }
    int rc = 0;
    while (c->frontier < pl->to_pages && page_state(c, c->frontier) == GCH_PAGE_INSTALLED)
        c->frontier++;
    uint32_t floor = c->floor_from[c->frontier];
    if (floor > c->released_upto && (all || floor - c->released_upto >= c->cfg.release_chunk_pages)) {
        if (do_discard(c, pl->from_base + ((uint64_t)c->released_upto << GCH_PAGE_SHIFT),
                       (uint64_t)(floor - c->released_upto) << GCH_PAGE_SHIFT) != 0) {
            rc = -1;
        } else {
            STAT_ADD(c, pages_released, floor - c->released_upto);
            c->released_upto = floor;
        }
    }
    pthread_mutex_unlock(&c->release_mu);
    return rc;
}

/* Continue mode, once every page is installed: the collector view lets go of its page-table
 * entries (MADV_DONTNEED on a shared mapping drops PTEs only; the pages stay in the page cache,
 * mapped by the mutator view). Otherwise every to-space page stays mapped twice and the process's
 * RSS (RssShmem) counts it twice, although it exists once (PSS counts it once). */
static int drop_collector_view(gch_compactor *c)
{
    STAT_ADD(c, madvise_calls, 1);
    uint64_t t0 = gch_now_ns();
    uint64_t pages = ((uint64_t)c->plan.to_pages + c->unit - 1) / c->unit * c->unit;
    int rc = madvise((void *)c->cfg.collector_view, (size_t)pages << GCH_PAGE_SHIFT, MADV_DONTNEED);
    STAT_ADD(c, release_ns, gch_now_ns() - t0);
    if (rc != 0) {
        fail_with(c, -errno, GCH_OP_MADVISE, c->cfg.collector_view);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ building */

/* A buffer page for packing to-page t, which is page `slot` of the worker's current chunk. */
static char *ring_slot(gch_worker *w, uint32_t slot)
{
    gch_compactor *c = w->c;
    char *buf = w->ring + ((uint64_t)slot << GCH_PAGE_SHIFT);
    if (!w->ring_resident[slot]) {
        /* MOVE took the frame: populate the rest of the ring in one call rather than taking a
         * page fault per slot (a fault costs ~10 us in a VM with shadow paging, measured). */
        uint32_t end = slot;
        while (end < w->ring_pages && !w->ring_resident[end])
            end++;
        uint64_t t0 = gch_now_ns();
        int rc = gch_mem_populate((uint64_t)buf, (uint64_t)(end - slot) << GCH_PAGE_SHIFT);
        STAT_ADD(c, populate_ns, gch_now_ns() - t0);
        if (rc != 0) {
            fail_with(c, rc, GCH_OP_ALLOC, (uint64_t)buf);
            return NULL;
        }
        memset(w->ring_resident + slot, 1, end - slot);
    }
    return buf;
}

/* Continue mode: gives collector-view pages [first, end) their page-cache pages in one call
 * before they are built (pages already there, e.g. built by another worker, are left as they are:
 * populating only maps them). */
static int populate_view(gch_compactor *c, uint32_t first, uint32_t end)
{
    if (end <= first)
        return 0;
    uint64_t addr = c->cfg.collector_view + ((uint64_t)first << GCH_PAGE_SHIFT);
    uint64_t t0 = gch_now_ns();
    int rc = gch_mem_populate(addr, (uint64_t)(end - first) << GCH_PAGE_SHIFT);
    STAT_ADD(c, populate_ns, gch_now_ns() - t0);
    if (rc != 0) {
        fail_with(c, rc, GCH_OP_ALLOC, addr);
        return -1;
    }
    return 0;
}

/* Builds claimed page t; packed pages go to ring slot `slot` (Continue: every page is built in
 * its own collector-view page). */
static int build(gch_worker *w, uint32_t t, uint32_t slot, uint64_t *src, uint8_t *kind)
{
    gch_compactor *c = w->c;
    const gch_plan *pl = &c->plan;
    gch_failure f = {0, 0, 0};
    uint64_t t0 = gch_now_ns();
    int rc;
    gch_prefetch_sources(pl, t + 1); /* most builds go on with the next page */
    if (continue_mode(c)) {
        char *dst = (char *)(c->cfg.collector_view + ((uint64_t)t << GCH_PAGE_SHIFT));
        if (pl->to_kind[t] == GCH_TO_WHOLE) {
            rc = gch_build_whole_into(pl, pl->to_src[t], dst, (int)c->cfg.check_forwarding, &w->bc, &f);
            STAT_ADD(c, pages_whole_copied, 1);
        } else {
            rc = gch_build_compacted(pl, t, dst, (int)c->cfg.check_forwarding, &w->bc, &f);
        }
        *src = (uint64_t)dst;
        *kind = SRC_VIEW;
    } else if (pl->to_kind[t] == GCH_TO_WHOLE) {
        uint32_t p = pl->to_src[t];
        rc = gch_build_whole(pl, p, (int)c->cfg.check_forwarding, &w->bc, &f);
        *src = pl->from_base + ((uint64_t)p << GCH_PAGE_SHIFT);
        *kind = SRC_WHOLE;
    } else {
        char *buf = ring_slot(w, slot);
        if (!buf)
            return -1;
        rc = gch_build_compacted(pl, t, buf, (int)c->cfg.check_forwarding, &w->bc, &f);
        *src = (uint64_t)buf;
        *kind = SRC_RING;
        STAT_ADD(c, buffers_fresh, 1);
    }
    STAT_ADD(c, build_ns, gch_now_ns() - t0);
    if (rc != 0) {
        fail_from(c, &f);
        return -1;
    }
    set_page_state(c, t, GCH_PAGE_BUILT);
    return 0;
}

/* One ioctl may only span one VMA on each side. From-space and a buffer ring are separate
 * mappings that can sit next to each other in the address space, so a run never mixes them
 * even when the addresses happen to be contiguous. */
static inline int extends_run(const gch_worker *w, uint32_t t, uint64_t src)
{
    const gch_compactor *c = w->c;
    return w->run_n > 0 && t == w->run_dst + w->run_n && src == w->run_src + ((uint64_t)w->run_n << GCH_PAGE_SHIFT) &&
           src_in_from_space(c, src) == src_in_from_space(c, w->run_src) &&
           src_in_nursery(c, src) == src_in_nursery(c, w->run_src);
}

static void append_run(gch_worker *w, uint32_t t, uint64_t src, uint8_t kind)
{
    if (w->run_n == 0) {
        w->run_dst = t;
        w->run_src = src;
    }
    w->run_kind[w->run_n++] = kind;
}

/* An alignment hole: nothing to build or install; it counts as done. */
static void take_hole(gch_compactor *c, uint32_t t)
{
    set_page_state(c, t, GCH_PAGE_INSTALLED);
    STAT_ADD(c, pages_holes, 1); /* never a nursery hole: those are done in gch_compactor_begin */
    __atomic_fetch_add(&c->installed, 1, __ATOMIC_ACQ_REL);
}

/* Adds to-page t to the worker's pending run: t is already claimed (by this worker) or not
 * (`owned` == 0: claim it first; if another worker has it, the run ends here). Builds t in ring
 * slot `slot` and appends it, installing the run first if t does not extend it. */
static int take_page(gch_worker *w, uint32_t t, uint32_t slot, int owned)
{
    if (w->c->unit > 1) {
        /* Hugetlb: no runs; the page's unit goes in when its last page is built. */
        uint64_t src;
        uint8_t kind;
        if (!owned && !claim(w->c, t))
            return 0;
        if (build(w, t, slot, &src, &kind) != 0)
            return -1;
        return unit_page_built(w->c, t);
    }
    if (!owned && !claim(w->c, t))
        return flush_run(w);
    if (w->c->plan.to_kind[t] == GCH_TO_HOLE) {
        take_hole(w->c, t);
        return flush_run(w);
    }
    uint64_t src;
    uint8_t kind;
    if (build(w, t, slot, &src, &kind) != 0)
        return -1;
    if (!extends_run(w, t, src) && flush_run(w) != 0)
        return -1;
    append_run(w, t, src, kind);
    return 0;
}

/* ------------------------------------------------------------------ huge blocks */

/*
 * Huge blocks (cfg.huge_blocks; docs/design.md section 6, "Huge blocks"). Spaces are reserved
 * 2 MiB aligned with MADV_HUGEPAGE, so memory allocated fresh arrives as transparent huge pages.
 * The planner places a from-space block of 512 pages that moves whole at a to-space position
 * congruent to it modulo 512 (padding to-space with GCH_TO_HOLE pages), so the block's one MOVE
 * run has both ends PMD-aligned and the kernel moves the PMD itself: one page-table entry and one
 * TLB flush for 2 MiB. Any 4 KiB MOVE from inside a huge source would split it, so a huge block
 * is owned whole: the worker that claims its first page claims all 512 at once, builds them and
 * moves them as one run; a fault anywhere in it waits for that run (no page of it is ever taken
 * alone, and no urgent flush cuts it).
 *
 * Verdict per block, decided once (CAS from UNKNOWN) by whoever reaches the block first, before
 * anybody claims a page of it, so every worker treats the block the same way:
 *
 *     UNKNOWN --(plan: 512 aligned whole pages with consecutive sources; source mapped by a PMD
 *                per PAGEMAP_SCAN, where the kernel has it)--> HUGE
 *     UNKNOWN --(anything else)--> SMALL      (pages are taken one by one as before)
 */
enum { BLOCK_UNKNOWN = 0, BLOCK_HUGE = 1, BLOCK_SMALL = 2 };

/* 1: [addr, addr + 2 MiB) is mapped by one PMD; 0: it is not; -1: PAGEMAP_SCAN cannot tell. */
static int pmd_mapped(gch_compactor *c, uint64_t addr)
{
    if (c->pagemap_fd < 0 || !__atomic_load_n(&c->pagemap_usable, __ATOMIC_RELAXED))
        return -1;
    struct gch_page_region r = {0, 0, 0};
    struct gch_pm_scan_arg a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.start = addr;
    a.end = addr + ((uint64_t)GCH_PMD_PAGES << GCH_PAGE_SHIFT);
    a.vec = (uint64_t)(uintptr_t)&r;
    a.vec_len = 1;
    a.category_mask = GCH_PAGE_IS_HUGE;
    a.return_mask = GCH_PAGE_IS_HUGE;
    int n = ioctl(c->pagemap_fd, GCH_PAGEMAP_SCAN, &a);
    if (n < 0) {
        if (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP)
            __atomic_store_n(&c->pagemap_usable, 0, __ATOMIC_RELAXED); /* before Linux 6.7 */
        return -1;
    }
    return n == 1 && r.start == a.start && r.end == a.end;
}

/* The verdict on to-block b (pages [512 b, 512 b + 512)); see the state machine above. */
static int block_is_huge(gch_compactor *c, uint32_t b)
{
    if (!c->block_state)
        return 0;
    uint8_t v = __atomic_load_n(&c->block_state[b], __ATOMIC_ACQUIRE);
    if (v != BLOCK_UNKNOWN)
        return v == BLOCK_HUGE;
    const gch_plan *pl = &c->plan;
    uint32_t t0 = b * GCH_PMD_PAGES;
    int huge = t0 + GCH_PMD_PAGES <= pl->to_pages && pl->to_kind[t0] == GCH_TO_WHOLE && pl->to_src[t0] % GCH_PMD_PAGES == 0 &&
               pl->to_src[t0] + GCH_PMD_PAGES <= pl->from_pages &&
               pl->to_src[t0] >= pl->nursery_pages; /* nursery frames stay: copied, never moved */
    for (uint32_t i = 1; huge && i < GCH_PMD_PAGES; i++)
        huge = pl->to_kind[t0 + i] == GCH_TO_WHOLE && pl->to_src[t0 + i] == pl->to_src[t0] + i;
    if (huge)
        huge = pmd_mapped(c, pl->from_base + ((uint64_t)pl->to_src[t0] << GCH_PAGE_SHIFT)) != 0; /* -1: trust the plan */
    uint8_t expected = BLOCK_UNKNOWN;
    (void)__atomic_compare_exchange_n(&c->block_state[b], &expected, huge ? BLOCK_HUGE : BLOCK_SMALL, 0, __ATOMIC_ACQ_REL,
                                      __ATOMIC_ACQUIRE);
    return __atomic_load_n(&c->block_state[b], __ATOMIC_ACQUIRE) == BLOCK_HUGE;
}

/* Builds and moves huge block t0 (its first page already claimed by this worker) as one run. */
static int take_block(gch_worker *w, uint32_t t0)
{
    gch_compactor *c = w->c;
    if (flush_run(w) != 0)
        return -1;
    /* Own every page first: nobody else claims a page of a huge block, but a fault must find them
     * CLAIMED (and wait) rather than PENDING. */
    for (uint32_t i = 1; i < GCH_PMD_PAGES; i++)
        if (!claim(c, t0 + i)) {
            fail_with(c, -EPROTO, GCH_OP_PLAN, c->plan.to_base + ((uint64_t)(t0 + i) << GCH_PAGE_SHIFT));
            return -1;
        }
    for (uint32_t i = 0; i < GCH_PMD_PAGES; i++)
        if (take_page(w, t0 + i, i, 1) != 0)
            return -1;
    int whole_run = w->run_n == GCH_PMD_PAGES;
    if (flush_run(w) != 0)
        return -1;
    STAT_ADD(c, huge_blocks, 1);
    if (whole_run && pmd_mapped(c, c->plan.to_base + ((uint64_t)t0 << GCH_PAGE_SHIFT)) == 1)
        STAT_ADD(c, pages_pmd_moved, GCH_PMD_PAGES);
    return 0;
}

/* ------------------------------------------------------------------ fault thread */

static void record_stall(gch_compactor *c, uint64_t ns)
{
    if (c->stall_n < c->stall_cap)
        c->stalls[c->stall_n++] = ns;
    STAT_ADD(c, stall_count, 1);
    STAT_ADD(c, fault_ns, ns);
    uint64_t prev = __atomic_load_n(&c->st.stall_max_ns, __ATOMIC_RELAXED);
    if (ns > prev)
        __atomic_store_n(&c->st.stall_max_ns, ns, __ATOMIC_RELAXED);
}

/* Stalls of faults on pages a sweeper owned end when that sweeper installs them. */
static void check_waiters(gch_compactor *c)
{
    uint32_t k = 0;
    uint64_t now = gch_now_ns();
    for (uint32_t i = 0; i < c->nwaiters; i++) {
        if (page_state(c, c->waiters[i].page) == GCH_PAGE_INSTALLED)
            record_stall(c, now - c->waiters[i].t_ns);
        else
            c->waiters[k++] = c->waiters[i];
    }
    c->nwaiters = k;
}

/* Hugetlb: a fault anywhere in unit u builds the unit's pending pages (the window is the unit);
 * the unit goes in when its last page is built, here or by the sweeper that holds the rest. A unit
 * entirely past the plan (registered slack) is populated (zeros) and continued. */
static int serve_fault_unit(gch_compactor *c, uint64_t addr, uint64_t t_ns)
{
    const gch_plan *pl = &c->plan;
    gch_worker *w = &c->faulter;
    uint64_t page = (addr - pl->to_base) >> GCH_PAGE_SHIFT;
    uint32_t u = (uint32_t)(page / c->unit);
    uint32_t w0 = u * c->unit;
    if (w0 >= pl->to_pages) {
        uint64_t dst = pl->to_base + ((uint64_t)w0 << GCH_PAGE_SHIFT), done = 0;
        if (populate_view(c, w0, w0 + c->unit) != 0)
            return -1;
        int rc = do_fill(c, GCH_FILL_CONTINUE, dst, 0, (uint64_t)c->unit << GCH_PAGE_SHIFT, &done);
        if (rc == -EEXIST)
            rc = gch_uffd_wake(c->cfg.uffd, dst, (uint64_t)c->unit << GCH_PAGE_SHIFT);
        if (rc != 0) {
            fail_with(c, rc, GCH_OP_CONTINUE, dst);
            return -1;
        }
        STAT_ADD(c, pages_zero_filled, c->unit);
        record_stall(c, gch_now_ns() - t_ns);
        return 0;
    }
    uint32_t t = page < pl->to_pages ? (uint32_t)page : pl->to_pages - 1; /* slack of the last unit */
    if (page_state(c, t) == GCH_PAGE_INSTALLED) {
        STAT_ADD(c, ioctls, 1);
        STAT_ADD(c, wake_ioctls, 1);
        int rc = gch_uffd_wake(c->cfg.uffd, addr & ~(uint64_t)(GCH_PAGE_SIZE - 1), GCH_PAGE_SIZE);
        if (rc != 0) {
            fail_with(c, rc, GCH_OP_WAKE, addr);
            return -1;
        }
        record_stall(c, gch_now_ns() - t_ns);
        return 0;
    }
    uint32_t w1 = w0 + unit_size(c, u);
    if (populate_view(c, w0, w1) != 0)
        return -1;
    int took_t = 0;
    for (uint32_t p = w0; p < w1; p++) {
        if (!claim(c, p))
            continue;
        took_t |= p == t;
        if (take_page(w, p, p - w0, 1) != 0)
            return -1;
    }
    if (took_t)
        STAT_ADD(c, faults_on_pending, 1);
    if (page_state(c, t) == GCH_PAGE_INSTALLED) {
        record_stall(c, gch_now_ns() - t_ns);
        return 0;
    }
    STAT_ADD(c, faults_on_claimed, 1);
    if (c->nwaiters < MAX_WAITERS) {
        c->waiters[c->nwaiters].page = t;
        c->waiters[c->nwaiters].t_ns = t_ns;
        c->nwaiters++;
    }
    return 0;
}

static int serve_fault(gch_compactor *c, uint64_t addr, uint64_t flags, uint64_t t_ns)
{
    const gch_plan *pl = &c->plan;
    gch_worker *w = &c->faulter;
    STAT_ADD(c, faults_served, 1);
    if (flags & UFFD_PAGEFAULT_FLAG_MINOR)
        STAT_ADD(c, faults_minor, 1);
    uint64_t off = addr - pl->to_base;
    if (c->unit > 1 && addr >= pl->to_base)
        return serve_fault_unit(c, addr, t_ns);
    int in_plan = addr >= pl->to_base && off < ((uint64_t)pl->to_pages << GCH_PAGE_SHIFT);
    uint32_t t = in_plan ? (uint32_t)(off >> GCH_PAGE_SHIFT) : 0;
    if (!in_plan || pl->to_kind[t] == GCH_TO_HOLE) {
        /* Registered slack beyond the plan, or an alignment hole inside it: nothing lives there
         * (allocation above the plan is not registered; a sweeper marks a hole done without
         * touching it), so the only reader is code walking past an object's or the heap's end. A
         * zero page parses as an empty page and ends the thread's wait for good. */
        uint64_t d = 0;
        int rc = do_fill(c, GCH_FILL_ZEROPAGE, addr, 0, GCH_PAGE_SIZE, &d);
        if (rc != 0 && rc != -EEXIST) {
            fail_with(c, rc, GCH_OP_ZEROPAGE, addr);
            return -1;
        }
        STAT_ADD(c, pages_zero_filled, 1);
        record_stall(c, gch_now_ns() - t_ns);
        return 0;
    }
    int huge = block_is_huge(c, t / GCH_PMD_PAGES);
    uint32_t t0 = t - t % GCH_PMD_PAGES;
    if (huge && claim(c, t0)) {
        /* The fault's window is the whole huge block: one PMD move. */
        STAT_ADD(c, faults_on_pending, 1);
        if (take_block(w, t0) != 0)
            return -1;
        record_stall(c, gch_now_ns() - t_ns);
        return 0;
    }
    if (!huge && claim(c, t)) {
        STAT_ADD(c, faults_on_pending, 1);
        uint32_t W = c->cfg.fault_around_pages;
        if (W > 1) {
            /* Fault-around: claim every pending page of the aligned window, build them and install
             * the window as runs (one MOVE where the sources allow): the thread waits for the
             * whole window, but no run is cut short around its page. */
            uint32_t w0 = t - t % W;
            uint32_t w1 = w0 + W < pl->to_pages ? w0 + W : pl->to_pages;
            if (c->block_state) {
                /* Never reach into a neighbouring (possibly huge) block: stay inside t's own. */
                w0 = w0 > t0 ? w0 : t0;
                w1 = w1 < t0 + GCH_PMD_PAGES ? w1 : t0 + GCH_PMD_PAGES;
            }
            if (continue_mode(c) && populate_view(c, w0, w1) != 0)
                return -1;
            for (uint32_t u = w0; u < w1; u++) {
                /* Read what arrives meanwhile, so a fault is timed from about when it happened
                 * rather than from when this window is done (served after it, from the stash). */
                if ((u - w0) % STAMP_EVERY_PAGES == STAMP_EVERY_PAGES - 1)
                    pump_events(c);
                if (take_page(w, u, u - w0, u == t) != 0)
                    return -1;
            }
            if (flush_run(w) != 0)
                return -1;
            record_stall(c, gch_now_ns() - t_ns);
            return 0;
        }
        uint64_t src;
        uint8_t kind;
        if (build(w, t, 0, &src, &kind) != 0)
            return -1;
        if (continue_mode(c)) {
            if (install_continue(c, t, &kind, 1) != 0)
                return -1;
            record_stall(c, gch_now_ns() - t_ns);
            return 0;
        }
        int move = c->cfg.install_mode == GCH_INSTALL_MOVE && !c->cfg.copy_faulted_pages;
        if (install(c, t, src, 1, &kind, move) != 0)
            return -1;
        if (move && kind == SRC_RING)
            w->ring_resident[0] = 0;
        if (!move && c->cfg.install_mode == GCH_INSTALL_MOVE)
            STAT_ADD(c, pages_fault_copied, 1);
        record_stall(c, gch_now_ns() - t_ns);
        return 0;
    }
    uint8_t s = page_state(c, t);
    if (s == GCH_PAGE_INSTALLED) {
        /* The install raced the event: the thread may have gone to sleep after it. */
        STAT_ADD(c, ioctls, 1);
        STAT_ADD(c, wake_ioctls, 1);
        int rc = gch_uffd_wake(c->cfg.uffd, addr, GCH_PAGE_SIZE);
        if (rc != 0) {
            fail_with(c, rc, GCH_OP_WAKE, addr);
            return -1;
        }
        record_stall(c, gch_now_ns() - t_ns);
        return 0;
    }
    /* A sweeper owns it (CLAIMED or BUILT; or, in a huge block, is about to claim it): ask it to
     * install its run now (a huge block's owner finishes the block first); its ioctl wakes the
     * thread. The stall is recorded when the page shows up as INSTALLED. */
    STAT_ADD(c, faults_on_claimed, 1);
    if (!huge)
        __atomic_fetch_add(&c->urgent_epoch, 1, __ATOMIC_RELEASE);
    if (c->nwaiters < MAX_WAITERS) {
        c->waiters[c->nwaiters].page = t;
        c->waiters[c->nwaiters].t_ns = t_ns;
        c->nwaiters++;
    }
    return 0;
}

static inline int plan_ready(const gch_compactor *c) { return __atomic_load_n(&c->began, __ATOMIC_ACQUIRE); }

static inline int ranges_overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) { return a0 < b1 && b0 < a1; }

/* [to_base, to_base + to_pages pages): the planned part of registered to-space. */
static inline int hits_plan(const gch_compactor *c, uint64_t start, uint64_t end)
{
    const gch_plan *pl = &c->plan;
    return ranges_overlap(start, end, pl->to_base, pl->to_base + ((uint64_t)pl->to_pages << GCH_PAGE_SHIFT));
}

/* A child forked during the compaction lacks every to-page not installed before its fork: those
 * get a poison marker in the child (it dies with SIGBUS if it touches one, rather than hanging on
 * a uffd nobody serves or reading zeros once it is closed). Pages the child has answer EEXIST. */
static void poison_child(gch_compactor *c, int child_fd)
{
    const gch_plan *pl = &c->plan;
    const uint64_t P = GCH_PAGE_SIZE;
    uint32_t t = 0;
    while (t < pl->to_pages) {
        if (page_state(c, t) == GCH_PAGE_INSTALLED) {
            t++;
            continue;
        }
        uint32_t end = t + 1;
        while (end < pl->to_pages && page_state(c, end) != GCH_PAGE_INSTALLED)
            end++;
        uint64_t done = 0;
        int rc = gch_uffd_fill_bounded(child_fd, GCH_FILL_POISON, pl->to_base + (uint64_t)t * P, 0,
                                       (uint64_t)(end - t) * P, 0, &done, NULL, 1000);
        uint32_t k = (uint32_t)(done / P);
        STAT_ADD(c, child_pages_poisoned, k);
        t += k;
        if (rc == 0)
            continue;
        if (rc == -EEXIST || rc == -EAGAIN) {
            /* EEXIST: installed in the child before the fork though not yet marked INSTALLED
             * here. EAGAIN: the child's own mapping is changing (it forks or unmaps): that page
             * is left unpoisoned (it reads as zero once the uffd is closed) rather than waiting
             * for a child this thread does not serve. */
            t++;
            continue;
        }
        if (rc != -ESRCH) /* ESRCH: the child is gone already: nothing to protect */
            fail_with(c, rc, GCH_OP_POISON, pl->to_base + (uint64_t)t * P);
        break;
    }
}

/* UFFD_EVENT_FORK: a child's copy of our registered to-space is registered to child_fd. */
static void child_forked(gch_compactor *c, int child_fd)
{
    STAT_ADD(c, events_fork, 1);
    if (!plan_ready(c)) {
        /* Forked before the plan was handed over: whether the child got forwarded roots (only a
         * fork that bypassed the gate, inside the flip pause) is decided once the plan is here. */
        if (c->npending_children < MAX_PENDING_CHILDREN) {
            c->pending_children[c->npending_children++] = child_fd;
            return;
        }
    } else if (__atomic_load_n(&c->installed, __ATOMIC_ACQUIRE) < c->plan.to_pages) {
        poison_child(c, child_fd);
    }
    /* Closing the child's uffd unregisters its VMAs: registered slack reads as zero there, as the
     * zero page this compactor would have served. */
    close(child_fd);
    STAT_ADD(c, fork_children, 1);
}

static void record_pre_plan_removal(gch_compactor *c, uint64_t start, uint64_t end)
{
    pthread_mutex_lock(&c->mu);
    if (c->began) {
        pthread_mutex_unlock(&c->mu);
        if (hits_plan(c, start, end))
            fail_with(c, -EFAULT, GCH_OP_REMOVED, start);
        else
            STAT_ADD(c, events_harmless, 1);
        return;
    }
    if (c->removed_hi == 0 || start < c->removed_lo)
        c->removed_lo = start;
    if (end > c->removed_hi)
        c->removed_hi = end;
    c->removed_count++;
    pthread_mutex_unlock(&c->mu);
}

/* One non-cooperative event (fault thread only). */
static void handle_event(gch_compactor *c, const struct uffd_msg *m)
{
    switch (m->event) {
    case UFFD_EVENT_FORK:
        child_forked(c, (int)m->arg.fork.ufd);
        break;
    case UFFD_EVENT_REMOVE:
        STAT_ADD(c, events_remove, 1);
        if (!plan_ready(c))
            record_pre_plan_removal(c, m->arg.remove.start, m->arg.remove.end);
        else if (hits_plan(c, m->arg.remove.start, m->arg.remove.end))
            fail_with(c, -EFAULT, GCH_OP_REMOVED, m->arg.remove.start);
        else
            STAT_ADD(c, events_harmless, 1);
        break;
    case UFFD_EVENT_UNMAP:
        STAT_ADD(c, events_unmap, 1);
        fail_with(c, -EFAULT, GCH_OP_UNMAPPED, m->arg.remove.start);
        break;
    case UFFD_EVENT_REMAP:
        STAT_ADD(c, events_remap, 1);
        (void)gch_uffd_unregister(c->cfg.uffd, m->arg.remap.to, m->arg.remap.len);
        fail_with(c, -EFAULT, GCH_OP_REMAPPED, m->arg.remap.from);
        break;
    default:
        break;
    }
}

/* Keeps a fault for later: before the plan, or read while consuming events inside an ioctl. A
 * fault that does not fit is dropped: its thread is woken when a sweeper installs the page. */
static void stash_fault(gch_compactor *c, uint64_t addr, uint64_t flags, uint64_t t_ns)
{
    if (c->nstash < MAX_STASH) {
        c->stash[c->nstash].addr = addr;
        c->stash[c->nstash].flags = flags;
        c->stash[c->nstash].t_ns = t_ns;
        c->nstash++;
    }
}

/* Reads every message pending on the uffd without blocking: events are handled, faults stashed. */
static void pump_events(gch_compactor *c)
{
    struct uffd_msg msgs[16];
    for (;;) {
        ssize_t n = read(c->cfg.uffd, msgs, sizeof msgs);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        uint64_t now = gch_now_ns();
        for (ssize_t i = 0; i < n / (ssize_t)sizeof msgs[0]; i++) {
            if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
                stash_fault(c, msgs[i].arg.pagefault.address & ~(uint64_t)(GCH_PAGE_SIZE - 1), msgs[i].arg.pagefault.flags, now);
            else
                handle_event(c, &msgs[i]);
        }
    }
}

/* The plan is here: children forked before it and removals read before it are settled now. */
static void settle_pre_plan(gch_compactor *c)
{
    for (uint32_t i = 0; i < c->npending_children; i++) {
        if (__atomic_load_n(&c->installed, __ATOMIC_ACQUIRE) < c->plan.to_pages)
            poison_child(c, c->pending_children[i]);
        close(c->pending_children[i]);
        STAT_ADD(c, fork_children, 1);
    }
    c->npending_children = 0;
}

static void serve_stash(gch_compactor *c)
{
    /* Serving may stash more (events consumed inside an ioctl): take the stash as it is now. */
    while (c->nstash && !has_failed(c)) {
        stashed_fault f = c->stash[--c->nstash];
        (void)serve_fault(c, f.addr, f.flags, f.t_ns);
    }
    if (has_failed(c))
        c->nstash = 0; /* to-space is being unregistered, which wakes every waiter */
}

/* A thread of this compaction has started and is about to wait for its work (under c->mu). */
static void started_locked(gch_compactor *c)
{
    c->threads_ready++;
    pthread_cond_broadcast(&c->cv);
}

/* c->cv runs on CLOCK_MONOTONIC (gch_now_ns). */
static struct timespec monotonic_at(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
    return ts;
}

/* How long a sweeper stays off the CPU after the plan, waiting for the mutators' release. */
#define SWEEPER_GRACE_NS 1000000u

/*
 * A sweeper waits for the plan and then for the end of the flip pause: its CPU time belongs to
 * the collector finishing the pause, and a nice -5 thread woken then preempts it. Nobody wakes
 * the sweepers when the plan is handed over (inside the pause); gch_compactor_resumed() does,
 * after it. They never wait for the managed side for long, though (a .NET GC may hold it): until
 * the plan they look every millisecond, and after the plan at most SWEEPER_GRACE_NS. Faults are
 * served by the fault thread meanwhile. Returns 0 if the compaction was called off.
 */
static int wait_for_plan(gch_compactor *c)
{
    pthread_mutex_lock(&c->mu);
    started_locked(c);
    while (!c->abandon) {
        uint64_t now = gch_now_ns();
        struct timespec until;
        if (c->began) {
            if (__atomic_load_n(&c->resumed, __ATOMIC_ACQUIRE) || now >= c->t_start + SWEEPER_GRACE_NS)
                break;
            until = monotonic_at(c->t_start + SWEEPER_GRACE_NS);
        } else {
            until = monotonic_at(now + 1000000u);
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &until);
    }
    int began = c->began;
    pthread_mutex_unlock(&c->mu);
    return began;
}

static void *fault_main(void *arg)
{
    gch_compactor *c = arg;
    block_all_signals();
    apply_nice(c);
    pthread_setname_np(pthread_self(), "gch-faults");
    pthread_mutex_lock(&c->mu);
    started_locked(c);
    pthread_mutex_unlock(&c->mu);
    struct uffd_msg msgs[64];
    int settled = 0;
    for (;;) {
        if (!settled && plan_ready(c)) {
            settle_pre_plan(c);
            settled = 1;
        }
        if (settled && c->nstash)
            serve_stash(c);
        struct pollfd pf[2] = {{.fd = c->cfg.uffd, .events = POLLIN}, {.fd = c->stop_fd, .events = POLLIN}};
        /* While a fault waits on a sweeper's page, look again every 50 us to time its stall; while
         * something waits for the plan, every millisecond. Events are never left waiting. */
        struct timespec tick = {0, 50000}, slow = {0, 1000000};
        int waiting_plan = !settled && (c->nstash || c->npending_children);
        int r = ppoll(pf, 2, c->nwaiters ? &tick : waiting_plan ? &slow : NULL, NULL);
        if (c->nwaiters)
            check_waiters(c);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ENOMEM)
                continue; /* transient: poll again rather than abandon blocked threads */
            fail_with(c, -errno, GCH_OP_READ, 0);
            break;
        }
        if (pf[1].revents) {
            pump_events(c); /* what is left: counters final, children's uffds closed */
            if (!settled && plan_ready(c))
                settle_pre_plan(c);
            break;
        }
        if (r == 0 || !(pf[0].revents & POLLIN))
            continue;
        for (;;) {
            ssize_t n = read(c->cfg.uffd, msgs, sizeof msgs);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            uint64_t now = gch_now_ns();
            for (ssize_t i = 0; i < n / (ssize_t)sizeof msgs[0]; i++) {
                if (msgs[i].event != UFFD_EVENT_PAGEFAULT) {
                    handle_event(c, &msgs[i]);
                    continue;
                }
                uint64_t addr = msgs[i].arg.pagefault.address & ~(uint64_t)(GCH_PAGE_SIZE - 1);
                if (!settled) {
                    stash_fault(c, addr, msgs[i].arg.pagefault.flags, now); /* faults read before the plan wait for it */
                    continue;
                }
                if (has_failed(c)) {
                    /* To-space is being unregistered, which wakes every waiter; nothing to do. */
                    continue;
                }
                (void)serve_fault(c, addr, msgs[i].arg.pagefault.flags, now);
            }
        }
    }
    for (uint32_t i = 0; i < c->npending_children; i++) {
        close(c->pending_children[i]); /* the plan never came: the child never saw forwarded roots */
        STAT_ADD(c, fork_children, 1);
    }
    c->npending_children = 0;
    return NULL;
}

/* ------------------------------------------------------------------ sweepers */

/* Experiments/tests only: wait sweep_delay_us after a background page, but never delay a fault
 * (the pending run is installed first, so a page waiting in it is never the one held back). */
static int throttle(gch_worker *w)
{
    gch_compactor *c = w->c;
    if (flush_run(w) != 0)
        return -1;
    uint64_t until = gch_now_ns() + (uint64_t)c->cfg.sweep_delay_us * 1000u;
    while (gch_now_ns() < until && !has_failed(c)) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* A fault waits on a page this sweeper owns: install the pending run now. */
static inline int urgent(gch_worker *w)
{
    uint64_t e = __atomic_load_n(&w->c->urgent_epoch, __ATOMIC_ACQUIRE);
    if (e == w->seen_epoch)
        return 0;
    w->seen_epoch = e;
    return 1;
}

static int sweep_chunk(gch_worker *w, uint32_t first, uint32_t end)
{
    gch_compactor *c = w->c;
    if (continue_mode(c) && populate_view(c, first, end) != 0)
        return -1;
    for (uint32_t t = first; t < end; t++) {
        if (has_failed(c))
            return -1;
        if (t % GCH_PMD_PAGES == 0 && block_is_huge(c, t / GCH_PMD_PAGES)) {
            /* Whole or not at all: the fault thread may own it already. */
            if (claim(c, t) && take_block(w, t) != 0)
                return -1;
            t += GCH_PMD_PAGES - 1;
            continue;
        }
        if (urgent(w) && flush_run(w) != 0)
            return -1;
        if (take_page(w, t, t - first, 0) != 0) /* a page a fault took ends the run */
            return -1;
        if (c->cfg.sweep_delay_us && throttle(w) != 0)
            return -1;
    }
    return flush_run(w);
}

static void finish(gch_compactor *c)
{
    int32_t result = has_failed(c) ? (c->fail.error ? c->fail.error : -EIO) : 0;
    if (result) {
        /* A page that cannot be built or installed would leave any thread faulting on it blocked
         * forever. Unregistering wakes them all; from then on missing pages fill with zeros.
         * The managed side marks the heap failed, so every later heap call throws. */
        gch_uffd_unregister(c->cfg.uffd, c->plan.to_base, (uint64_t)c->plan.to_pages << GCH_PAGE_SHIFT);
    }
    uint64_t refs = c->faulter.bc.refs_fixed, bytes = c->faulter.bc.bytes_copied;
    for (uint32_t i = 0; i < c->nworkers; i++) {
        refs += c->sweepers[i].bc.refs_fixed;
        bytes += c->sweepers[i].bc.bytes_copied;
    }
    __atomic_store_n(&c->st.refs_fixed, refs, __ATOMIC_RELAXED);
    __atomic_store_n(&c->st.bytes_copied, bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&c->st.wall_ns, gch_now_ns() - c->t_start, __ATOMIC_RELAXED);
    /* CPU of every native thread: the sweepers measured their own; the fault thread's clock is
     * read from here (it spent its time before the plan blocked in ppoll). */
    uint64_t cpu = __atomic_load_n(&c->cpu_ns, __ATOMIC_RELAXED);
    clockid_t fault_clock;
    struct timespec ts;
    if (pthread_getcpuclockid(c->fault_thread, &fault_clock) == 0 && clock_gettime(fault_clock, &ts) == 0)
        cpu += (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    __atomic_store_n(&c->st.cpu_ns, cpu, __ATOMIC_RELAXED);
    pthread_mutex_lock(&c->fail_mu);
    c->st.error = result;
    c->st.error_op = c->fail.op;
    c->st.error_addr = c->fail.addr;
    pthread_mutex_unlock(&c->fail_mu);
    pthread_mutex_lock(&c->mu);
    c->done = 1;
    c->result = result;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    disarm(c);
}

static void *sweeper_main(void *arg)
{
    gch_worker *w = arg;
    gch_compactor *c = w->c;
    block_all_signals();
    apply_nice(c);
    pthread_setname_np(pthread_self(), "gch-sweeper");

    if (!wait_for_plan(c))
        return NULL;

    uint64_t cpu0 = gch_thread_cpu_ns();
    const gch_plan *pl = &c->plan;
    const uint32_t B = c->cfg.batch_pages;
    if (w->id == 0 && c->cfg.release_chunk_pages) {
        int rc = compute_floors(c);
        if (rc != 0)
            fail_with(c, rc, GCH_OP_ALLOC, 0);
    }
    int did_work = 0;
    while (!has_failed(c)) {
        uint32_t chunk = __atomic_fetch_add(&c->next_chunk, 1, __ATOMIC_RELAXED);
        uint64_t first = c->first_page + (uint64_t)chunk * B;
        if (first >= pl->to_pages)
            break;
        uint32_t end = first + B < pl->to_pages ? (uint32_t)(first + B) : pl->to_pages;
        did_work = 1;
        if (sweep_chunk(w, (uint32_t)first, end) != 0 || release_prefix(c, 0) != 0)
            break;
    }
    if (did_work)
        STAT_ADD(c, workers, 1);
    __atomic_fetch_add(&c->cpu_ns, gch_thread_cpu_ns() - cpu0, __ATOMIC_RELAXED);

    if (__atomic_sub_fetch(&c->active, 1, __ATOMIC_ACQ_REL) != 0)
        return NULL;
    /* Last sweeper out: wait for pages the fault thread still builds, release the rest of
     * from-space and report. */
    while (!has_failed(c) && __atomic_load_n(&c->installed, __ATOMIC_ACQUIRE) < pl->to_pages) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    if (!has_failed(c))
        (void)release_prefix(c, 1);
    if (!has_failed(c) && continue_mode(c))
        (void)drop_collector_view(c);
    finish(c);
    return NULL;
}

/* ------------------------------------------------------------------ public API */

static int worker_init(gch_compactor *c, gch_worker *w, uint32_t id, uint32_t ring_pages)
{
    w->c = c;
    w->id = id;
    w->ring_pages = ring_pages;
    w->run_kind = calloc(ring_pages, 1);
    w->ring_resident = calloc(ring_pages, 1);
    if (!w->run_kind || !w->ring_resident)
        return -ENOMEM;
    uint64_t addr = 0;
    int rc = gch_mem_reserve((uint64_t)ring_pages << GCH_PAGE_SHIFT,
                             GCH_MEM_NOHUGEPAGE | (c->cfg.dont_fork ? GCH_MEM_DONTFORK : 0), &addr);
    if (rc != 0)
        return rc;
    w->ring = (char *)addr;
    return 0;
}

static void worker_free(gch_worker *w)
{
    if (w->ring)
        gch_mem_release((uint64_t)w->ring, (uint64_t)w->ring_pages << GCH_PAGE_SHIFT);
    free(w->run_kind);
    free(w->ring_resident);
}

int32_t gch_compactor_create(const gch_compactor_config *config, gch_compactor **out)
{
    if (config->batch_pages == 0 || config->workers == 0 || config->workers > MAX_WORKERS ||
        (config->install_mode != GCH_INSTALL_MOVE && config->install_mode != GCH_INSTALL_COPY &&
         config->install_mode != GCH_INSTALL_CONTINUE) ||
        ((config->install_mode == GCH_INSTALL_CONTINUE) != (config->collector_view != 0)))
        return -EINVAL;
    uint32_t unit = config->unit_pages > 1 ? config->unit_pages : 1;
    if (unit > 1 && (config->install_mode != GCH_INSTALL_CONTINUE || unit > 512 || (unit & (unit - 1)) != 0 ||
                     config->batch_pages % unit != 0 || config->release_chunk_pages != 0))
        return -EINVAL;
    if (config->huge_blocks && (config->install_mode != GCH_INSTALL_MOVE || config->batch_pages % GCH_PMD_PAGES != 0 ||
                                config->fault_around_pages > GCH_PMD_PAGES))
        return -EINVAL;
    gch_compactor *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cfg = *config;
    c->unit = unit;
    c->stop_fd = -1;
    c->pagemap_fd = -1;
    if (config->huge_blocks) {
        /* Without it (no procfs), blocks are judged by the plan alone and PMD moves go uncounted. */
        c->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        c->pagemap_usable = c->pagemap_fd >= 0;
    }
    gch_fork_gate_init();
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t cva;
    pthread_condattr_init(&cva);
    pthread_condattr_setclock(&cva, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &cva);
    pthread_condattr_destroy(&cva);
    pthread_mutex_init(&c->release_mu, NULL);
    pthread_mutex_init(&c->fail_mu, NULL);

    int32_t rc = -ENOMEM;
    c->stall_cap = config->stall_sample_capacity;
    c->stalls = c->stall_cap ? calloc(c->stall_cap, sizeof(uint64_t)) : NULL;
    if (c->stall_cap && !c->stalls)
        goto fail;
    uint32_t fault_ring = config->fault_around_pages > 1 ? config->fault_around_pages : 1;
    if (config->huge_blocks)
        fault_ring = GCH_PMD_PAGES; /* a huge block is the fault's run */
    if ((rc = worker_init(c, &c->faulter, MAX_WORKERS, fault_ring)) != 0)
        goto fail;
    for (uint32_t i = 0; i < config->workers; i++)
        if ((rc = worker_init(c, &c->sweepers[i], i, config->batch_pages)) != 0)
            goto fail;
    c->nworkers = config->workers;
    c->active = config->workers;
    c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->stop_fd < 0) {
        rc = -errno;
        goto fail;
    }

    if ((rc = -pthread_create(&c->fault_thread, NULL, fault_main, c)) != 0)
        goto fail;
    c->fault_started = 1;
    for (uint32_t i = 0; i < config->workers; i++) {
        if ((rc = -pthread_create(&c->sweepers[i].thread, NULL, sweeper_main, &c->sweepers[i])) != 0) {
            /* Threads already started still count on the rest; they are called off below. */
            __atomic_sub_fetch(&c->active, config->workers - i, __ATOMIC_ACQ_REL);
            goto fail;
        }
        c->sweepers[i].started = 1;
    }
    /* Return only once every thread runs and waits: a thread's first run (stack, TLS, name,
     * priority) must not land in the flip pause, where a new nice -5 thread preempted the very
     * mutator the stop was waiting for (docs/design.md section 7, "Time to safepoint"). */
    pthread_mutex_lock(&c->mu);
    while (c->threads_ready < 1 + config->workers)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    *out = c;
    return 0;

fail:
    gch_compactor_destroy(c);
    return rc;
}

int32_t gch_compactor_begin(gch_compactor *c, const gch_plan *plan)
{
    pthread_mutex_lock(&c->mu);
    if (c->began || c->abandon) {
        pthread_mutex_unlock(&c->mu);
        return -EINVAL;
    }
    if (c->unit > 1) {
        c->unit_built = calloc((plan->to_pages + c->unit - 1) / c->unit + 1, sizeof *c->unit_built);
        if (!c->unit_built) {
            pthread_mutex_unlock(&c->mu);
            return -ENOMEM;
        }
    }
    if (c->cfg.huge_blocks) {
        c->block_state = calloc(plan->to_pages / GCH_PMD_PAGES + 1, 1);
        if (!c->block_state) {
            pthread_mutex_unlock(&c->mu);
            return -ENOMEM;
        }
    }
    c->plan = *plan;
    c->released_upto = plan->nursery_pages < plan->from_pages ? plan->nursery_pages : plan->from_pages; /* the nursery stays */
    /* The to-space nursery's holes are done before anyone looks: sweepers start above them. */
    c->first_page = plan->nursery_pages < plan->to_pages ? plan->nursery_pages : plan->to_pages;
    for (uint32_t t = 0; t < c->first_page; t++)
        __atomic_store_n(&c->plan.to_state[t], GCH_PAGE_INSTALLED, __ATOMIC_RELAXED);
    __atomic_store_n(&c->installed, (uint64_t)c->first_page, __ATOMIC_RELEASE);
    c->t_start = gch_now_ns();
    if (c->removed_hi && hits_plan(c, c->removed_lo, c->removed_hi)) {
        /* Other code discarded to-space after it was registered: the pages just planned there
         * may be zapped after they are installed. */
        fail_with(c, -EFAULT, GCH_OP_REMOVED, c->removed_lo);
    } else if (c->removed_hi) {
        STAT_ADD(c, events_harmless, c->removed_count);
    }
    __atomic_store_n(&c->began, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&c->mu); /* no wake-up inside the pause: see wait_for_plan */
    return 0;
}

void gch_compactor_arm(gch_compactor *c)
{
    if (__atomic_load_n(&c->gate_held, __ATOMIC_ACQUIRE))
        return;
    gch_fork_gate_enter();
    __atomic_store_n(&c->gate_held, 1, __ATOMIC_RELEASE);
}

/* Forks waiting for this compaction may go on: every page is installed (or it failed). */
static void disarm(gch_compactor *c)
{
    if (__atomic_exchange_n(&c->gate_held, 0, __ATOMIC_ACQ_REL))
        gch_fork_gate_leave();
}

static void stop_fault_thread(gch_compactor *c)
{
    if (c->fault_started && !c->fault_joined) {
        uint64_t one = 1;
        ssize_t w = write(c->stop_fd, &one, sizeof one);
        (void)w;
        pthread_join(c->fault_thread, NULL);
        c->fault_joined = 1;
    }
}

void gch_compactor_quiesce(gch_compactor *c)
{
    pthread_mutex_lock(&c->mu);
    int began = c->began;
    pthread_mutex_unlock(&c->mu);
    if (began)
        gch_compactor_wait(c, -1);
    stop_fault_thread(c);
}

void gch_compactor_resumed(gch_compactor *c)
{
    pthread_mutex_lock(&c->mu);
    __atomic_store_n(&c->resumed, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int32_t gch_compactor_wait(gch_compactor *c, int32_t timeout_ms)
{
    pthread_mutex_lock(&c->mu);
    if (timeout_ms < 0) {
        while (!c->done)
            pthread_cond_wait(&c->cv, &c->mu);
    } else {
        struct timespec deadline = monotonic_at(gch_now_ns() + (uint64_t)timeout_ms * 1000000u);
        while (!c->done)
            if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT)
                break;
    }
    int32_t r = c->done ? c->result : -ETIMEDOUT;
    pthread_mutex_unlock(&c->mu);
    return r;
}

int32_t gch_compactor_stats(gch_compactor *c, gch_compaction_stats *out)
{
    const uint64_t *src = (const uint64_t *)&c->st;
    uint64_t *dst = (uint64_t *)out;
    size_t words = offsetof(gch_compaction_stats, error) / sizeof(uint64_t);
    for (size_t i = 0; i < words; i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    pthread_mutex_lock(&c->mu);
    int done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (!done) {
        out->refs_fixed = 0;
        out->bytes_copied = 0;
        out->error = 0;
        out->error_op = 0;
        out->error_addr = 0;
    } else {
        out->error = c->st.error;
        out->error_op = c->st.error_op;
        out->error_addr = c->st.error_addr;
    }
    return 0;
}

int32_t gch_compactor_stall_samples(gch_compactor *c, uint64_t *ns, uint32_t capacity, uint32_t *count_out)
{
    pthread_mutex_lock(&c->mu);
    int done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (!done)
        return -EBUSY; /* samples are written by the fault thread until the compaction ends */
    uint32_t n = c->stall_n < capacity ? c->stall_n : capacity;
    if (n)
        memcpy(ns, c->stalls, (size_t)n * sizeof(uint64_t));
    *count_out = c->stall_n;
    return 0;
}

void gch_compactor_destroy(gch_compactor *c)
{
    if (!c)
        return;
    /* Mutators may be blocked on pages only the compactor can install: never abandon a
     * compaction that began. One that never began is simply called off. */
    pthread_mutex_lock(&c->mu);
    int began = c->began;
    if (!began) {
        c->abandon = 1;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    if (began)
        gch_compactor_wait(c, -1);
    for (uint32_t i = 0; i < MAX_WORKERS; i++)
        if (c->sweepers[i].started)
            pthread_join(c->sweepers[i].thread, NULL);
    stop_fault_thread(c);
    disarm(c); /* armed in a flip that never handed the plan over */
    if (c->stop_fd >= 0)
        close(c->stop_fd);
    for (uint32_t i = 0; i < MAX_WORKERS; i++)
        worker_free(&c->sweepers[i]);
    worker_free(&c->faulter);
    free(c->floor_from);
    free(c->unit_built);
    free(c->block_state);
    if (c->pagemap_fd >= 0)
        close(c->pagemap_fd);
    free(c->stalls);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->release_mu);
    pthread_mutex_destroy(&c->fail_mu);
    free(c);
}
