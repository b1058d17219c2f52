/*
 * compactor.c - the concurrent compactor.
 *
 * Two native threads, neither of which ever runs managed code or waits for the .NET
 * runtime (a mutator blocked in a fault can never reach a .NET safepoint, so anything the
 * fault path waited on in the runtime would deadlock the process):
 *
 *   fault reader  - blocks in poll() on the uffd, reads missing-fault events, stamps them
 *                   and hands them to the collector through a single-producer ring;
 *   collector     - serves faults first (builds the faulted page out of order and installs
 *                   it at once), otherwise walks to-space in order, building pages and
 *                   installing contiguous runs with one ioctl each.
 *
 * Per-page state machine (to_state): PENDING -> BUILT -> INSTALLED. A page is BUILT only
 * while it sits in the collector's pending run; a fault on it flushes the run. A fault on an
 * INSTALLED page (the install raced the event) is answered with UFFDIO_WAKE. EEXIST from the
 * kernel means the page is already present and counts as installed.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"
#include "clock.h"
#include "page_builder.h"
#include "uffd_abi.h"
#include "uffd_fill.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_CAPACITY 4096u /* a blocked thread has one outstanding fault; this is plenty */

enum { SRC_WHOLE = 0, SRC_RING = 1, SRC_RECYCLED = 2 };

typedef struct fault_event {
    uint64_t addr;
    uint64_t t_ns;
} fault_event;

struct gch_compactor {
    gch_plan plan;
    gch_compactor_config cfg;

    /* fault ring: written by the reader, consumed by the collector */
    fault_event ring[RING_CAPACITY];
    uint64_t ring_head; /* next slot the reader writes (atomic) */
    uint64_t ring_tail; /* next slot the collector reads (atomic) */

    /* pending run: to-pages [run_dst, run_dst + run_n) built in [run_src, ...) */
    uint32_t run_dst;
    uint32_t run_n;
    uint64_t run_src;
    uint8_t *run_kind; /* SRC_* per page of the run */

    /* build buffers */
    char *ring_area;
    uint32_t ring_pages;
    uint32_t ring_next;
    uint32_t recycle_cursor;

    /* batched release of from-space: [0, released_upto) pages have been given back */
    uint32_t released_upto;
    uint32_t release_at;

    gch_compaction_stats st; /* counters: written by collector, read with relaxed atomics */
    gch_build_counters bc;
    gch_failure fail;

    uint64_t *stalls;
    uint32_t stall_cap;
    uint32_t stall_n;

    int stop_fd;
    pthread_t collector;
    pthread_t reader;
    int reader_started;
    int collector_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int began;   /* the plan was handed over */
    int resumed; /* the managed side released the mutators (atomic) */
    int abandon; /* destroyed without a plan */
    int done;
    int32_t result;
    uint64_t t_start;
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

/* ------------------------------------------------------------------ fault reader thread */

static void ring_push(gch_compactor *c, uint64_t addr, uint64_t t_ns)
{
    uint64_t head = __atomic_load_n(&c->ring_head, __ATOMIC_RELAXED);
    while (head - __atomic_load_n(&c->ring_tail, __ATOMIC_ACQUIRE) >= RING_CAPACITY)
        sched_yield();
    c->ring[head % RING_CAPACITY].addr = addr;
    c->ring[head % RING_CAPACITY].t_ns = t_ns;
    __atomic_store_n(&c->ring_head, head + 1, __ATOMIC_RELEASE);
}

static int ring_pop(gch_compactor *c, fault_event *ev)
{
    uint64_t tail = __atomic_load_n(&c->ring_tail, __ATOMIC_RELAXED);
    if (tail == __atomic_load_n(&c->ring_head, __ATOMIC_ACQUIRE))
        return 0;
    *ev = c->ring[tail % RING_CAPACITY];
    __atomic_store_n(&c->ring_tail, tail + 1, __ATOMIC_RELEASE);
    return 1;
}

static inline int ring_nonempty(gch_compactor *c)
{
    return __atomic_load_n(&c->ring_tail, __ATOMIC_RELAXED) != __atomic_load_n(&c->ring_head, __ATOMIC_ACQUIRE);
}

static void *reader_main(void *arg)
{
    gch_compactor *c = arg;
    block_all_signals();
    apply_nice(c);
    pthread_setname_np(pthread_self(), "gch-faults");
    struct uffd_msg msgs[64];
    for (;;) {
        struct pollfd pf[2] = {{.fd = c->cfg.uffd, .events = POLLIN}, {.fd = c->stop_fd, .events = POLLIN}};
        int r = poll(pf, 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        for (;;) {
            ssize_t n = read(c->cfg.uffd, msgs, sizeof msgs);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            uint64_t now = gch_now_ns();
            for (ssize_t i = 0; i < n / (ssize_t)sizeof msgs[0]; i++)
                if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
                    ring_push(c, msgs[i].arg.pagefault.address & ~(uint64_t)(GCH_PAGE_SIZE - 1), now);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ ioctls with counting */

/* MOVE or COPY with the compactor's counters (the loop itself is gch_uffd_fill). */
static int do_fill(gch_compactor *c, enum gch_fill_op op, uint64_t dst, uint64_t src, uint64_t len, uint64_t *done)
{
    gch_fill_counters k = {0, 0};
    int rc = gch_uffd_fill(c->cfg.uffd, op, dst, src, len, 0, done, &k);
    STAT_ADD(c, ioctls, k.ioctls);
    STAT_ADD(c, eagain_retries, k.eagain_retries);
    if (op == GCH_FILL_MOVE)
        STAT_ADD(c, move_ioctls, k.ioctls);
    else if (op == GCH_FILL_COPY)
        STAT_ADD(c, copy_ioctls, k.ioctls);
    return rc;
}

static int do_discard(gch_compactor *c, uint64_t addr, uint64_t len)
{
    STAT_ADD(c, madvise_calls, 1);
    if (madvise((void *)addr, (size_t)len, MADV_DONTNEED) != 0) {
        gch_fail(&c->fail, -errno, GCH_OP_MADVISE, addr);
        return -1;
    }
    return 0;
}

static inline int src_in_from_space(const gch_compactor *c, uint64_t src)
{
    return src >= c->plan.from_base && src < c->plan.from_base + ((uint64_t)c->plan.from_pages << GCH_PAGE_SHIFT);
}

static void account(gch_compactor *c, uint32_t to_page, const uint8_t *kinds, uint32_t n, int moved)
{
    for (uint32_t i = 0; i < n; i++) {
        if (c->plan.to_kind[to_page + i] == GCH_TO_WHOLE) {
            STAT_ADD(c, pages_whole, 1);
            if (moved && kinds[i] == SRC_WHOLE)
                STAT_ADD(c, pages_zero_copy, 1);
        } else {
            STAT_ADD(c, pages_compacted, 1);
        }
        if (!moved)
            STAT_ADD(c, pages_copied, 1);
    }
}

/* Installs to-pages [dst_page, dst_page + n) from the contiguous source [src, src + n pages). */
static int install(gch_compactor *c, uint32_t dst_page, uint64_t src, uint32_t n, const uint8_t *kinds)
{
    const uint64_t P = GCH_PAGE_SIZE;
    uint64_t dst = c->plan.to_base + ((uint64_t)dst_page << GCH_PAGE_SHIFT);
    int move_mode = c->cfg.install_mode == GCH_INSTALL_MOVE;
    uint32_t i = 0;
    while (i < n) {
        uint64_t done = 0;
        int rc = do_fill(c, move_mode ? GCH_FILL_MOVE : GCH_FILL_COPY, dst + i * P, src + i * P, (n - i) * P, &done);
        uint32_t k = (uint32_t)(done / P);
        account(c, dst_page + i, kinds + i, k, move_mode);
        if (!move_mode && k && !c->cfg.release_chunk_pages && src_in_from_space(c, src + i * P) &&
            do_discard(c, src + i * P, k * P) != 0)
            return -1;
        i += k;
        if (rc == 0)
            break;
        if (n - i > 1 && (rc == -EINVAL || (!move_mode && rc == -ENOENT))) {
            /* The range crosses a VMA boundary (MOVE: EINVAL; COPY: ENOENT, "not inside one
             * registered VMA"), e.g. two pieces of a space that did not merge again: install
             * the rest one page at a time; a single page never spans two VMAs. */
            for (uint32_t j = 0; j < i; j++)
                set_page_state(c, dst_page + j, GCH_PAGE_INSTALLED);
            STAT_ADD(c, pages_installed, i);
            for (uint32_t j = i; j < n; j++)
                if (install(c, dst_page + j, src + (uint64_t)j * P, 1, kinds + j) != 0)
                    return -1;
            return 0;
        }
        if (rc == -EEXIST) {
            STAT_ADD(c, eexist, 1); /* already present: another install won */
            i++;
        } else if (move_mode && rc == -EBUSY) {
            /* Source frame not exclusively ours (fork, KSM, pin, swap cache): copy it in,
             * then drop the source so nothing is left behind. */
            STAT_ADD(c, ebusy_fallbacks, 1);
            uint64_t d2 = 0;
            int rc2 = do_fill(c, GCH_FILL_COPY, dst + i * P, src + i * P, P, &d2);
            if (rc2 == -EEXIST) {
                STAT_ADD(c, eexist, 1);
            } else if (rc2 != 0) {
                gch_fail(&c->fail, rc2, GCH_OP_COPY, dst + i * P);
                return -1;
            } else {
                account(c, dst_page + i, kinds + i, 1, 0);
            }
            if (kinds[i] != SRC_RING && !c->cfg.release_chunk_pages && do_discard(c, src + i * P, P) != 0)
                return -1;
            i++;
        } else if (move_mode && rc == -ENOENT) {
            /* Source page never touched (e.g. the unwritten tail of a large array). */
            uint64_t d2 = 0;
            int rc2 = do_fill(c, GCH_FILL_ZEROPAGE, dst + i * P, 0, P, &d2);
            if (rc2 != 0 && rc2 != -EEXIST) {
                gch_fail(&c->fail, rc2, GCH_OP_ZEROPAGE, dst + i * P);
                return -1;
            }
            STAT_ADD(c, pages_zero_filled, 1);
            account(c, dst_page + i, kinds + i, 1, 1);
            i++;
        } else {
            gch_fail(&c->fail, rc, move_mode ? GCH_OP_MOVE : GCH_OP_COPY, dst + i * P);
            return -1;
        }
    }
    for (uint32_t j = 0; j < n; j++)
        set_page_state(c, dst_page + j, GCH_PAGE_INSTALLED);
    STAT_ADD(c, pages_installed, n);
    return 0;
}

static int flush_run(gch_compactor *c)
{
    if (c->run_n == 0)
        return 0;
    uint32_t n = c->run_n;
    c->run_n = 0;
    if (c->cfg.install_mode == GCH_INSTALL_MOVE && n < c->cfg.min_move_pages) {
        /* Too short to pay for the TLB shootdown a MOVE ioctl costs while other threads run. */
        c->cfg.install_mode = GCH_INSTALL_COPY;
        int r = install(c, c->run_dst, c->run_src, n, c->run_kind);
        c->cfg.install_mode = GCH_INSTALL_MOVE;
        return r;
    }
    return install(c, c->run_dst, c->run_src, n, c->run_kind);
}

/* First from-space page to-page t reads: its whole page, or the page of its first packed object.
 * Non-decreasing in t (the planner hands out to-pages in from-space order). */
static inline uint32_t first_source(const gch_plan *pl, uint32_t t)
{
    return pl->to_kind[t] == GCH_TO_WHOLE ? pl->to_src[t] : pl->to_src[t] / GCH_GRANULES_PER_PAGE;
}

/* Gives back every from-space page below the first source of to-page `next` (all to-pages before
 * it are built, and whatever built out of order needs nothing below that either): one
 * MADV_DONTNEED for the whole prefix, instead of one per installed run. Pages already moved out
 * are holes; discarding them is free. */
static int release_prefix(gch_compactor *c, uint32_t next)
{
    const gch_plan *pl = &c->plan;
    if (flush_run(c) != 0) /* recycled buffers in the pending run live below the floor */
        return -1;
    uint32_t floor = next < pl->to_pages ? first_source(pl, next) : pl->from_pages;
    if (floor > c->released_upto) {
        if (do_discard(c, pl->from_base + ((uint64_t)c->released_upto << GCH_PAGE_SHIFT),
                       (uint64_t)(floor - c->released_upto) << GCH_PAGE_SHIFT) != 0)
            return -1;
        STAT_ADD(c, pages_released, floor - c->released_upto);
        c->released_upto = floor;
    }
    return 0;
}

/* ------------------------------------------------------------------ building */

static int sparse_consumed(const gch_compactor *c, uint32_t p)
{
    uint32_t first, last;
    gch_sparse_dest_pages(&c->plan, p, &first, &last);
    for (uint32_t t = first; t <= last; t++)
        if (page_state(c, t) == GCH_PAGE_PENDING)
            return 0;
    return 1;
}

/* A page to build a compacted page in: a consumed from-space page when recycling, else the next
 * slot of the private ring. NULL if making the slot free failed (the failure is recorded). */
static char *acquire_buffer(gch_compactor *c, uint8_t *kind)
{
    const gch_plan *pl = &c->plan;
    if (c->cfg.recycle_from_pages && c->cfg.install_mode == GCH_INSTALL_MOVE) {
        while (c->recycle_cursor < pl->from_pages) {
            uint32_t p = c->recycle_cursor;
            uint8_t cls = pl->from_class[p];
            if (cls == GCH_FROM_SPARSE && !sparse_consumed(c, p))
                break; /* wait for this page to be consumed rather than skip it */
            c->recycle_cursor++;
            if (cls == GCH_FROM_EMPTY || cls == GCH_FROM_SPARSE) {
                *kind = SRC_RECYCLED;
                STAT_ADD(c, buffers_recycled, 1);
                return (char *)(pl->from_base + ((uint64_t)p << GCH_PAGE_SHIFT));
            }
        }
    }
    /* Pages built to serve faults take ring slots too, so after enough faults the ring can wrap
     * into the pending run: install the run before reusing one of its slots. */
    uint32_t slot = c->ring_next++ % c->ring_pages;
    char *buf = c->ring_area + ((uint64_t)slot << GCH_PAGE_SHIFT);
    if (c->run_n && (uint64_t)buf >= c->run_src && (uint64_t)buf < c->run_src + ((uint64_t)c->run_n << GCH_PAGE_SHIFT) &&
        flush_run(c) != 0)
        return NULL;
    *kind = SRC_RING;
    STAT_ADD(c, buffers_fresh, 1);
    return buf;
}

static int build(gch_compactor *c, uint32_t t, uint64_t *src, uint8_t *kind)
{
    const gch_plan *pl = &c->plan;
    int rc;
    if (pl->to_kind[t] == GCH_TO_WHOLE) {
        uint32_t p = pl->to_src[t];
        rc = gch_build_whole(pl, p, (int)c->cfg.check_forwarding, &c->bc, &c->fail);
        *src = pl->from_base + ((uint64_t)p << GCH_PAGE_SHIFT);
        *kind = SRC_WHOLE;
    } else {
        char *buf = acquire_buffer(c, kind);
        if (!buf)
            return -1;
        rc = gch_build_compacted(pl, t, buf, (int)c->cfg.check_forwarding, &c->bc, &c->fail);
        *src = (uint64_t)buf;
    }
    if (rc == 0)
        set_page_state(c, t, GCH_PAGE_BUILT);
    return rc;
}

/* One ioctl may only span one VMA on each side. From-space and the buffer ring are separate
 * mappings that can sit next to each other in the address space, so a run never mixes them
 * even when the addresses happen to be contiguous. */
static inline int extends_run(const gch_compactor *c, uint32_t t, uint64_t src)
{
    return c->run_n > 0 && c->run_n < c->cfg.batch_pages && t == c->run_dst + c->run_n &&
           src == c->run_src + ((uint64_t)c->run_n << GCH_PAGE_SHIFT) &&
           src_in_from_space(c, src) == src_in_from_space(c, c->run_src);
}

static void append_run(gch_compactor *c, uint32_t t, uint64_t src, uint8_t kind)
{
    if (c->run_n == 0) {
        c->run_dst = t;
        c->run_src = src;
    }
    c->run_kind[c->run_n++] = kind;
}

/* ------------------------------------------------------------------ fault service */

static void record_stall(gch_compactor *c, uint64_t ns)
{
    if (c->stall_n < c->stall_cap)
        c->stalls[c->stall_n++] = ns;
    STAT_ADD(c, stall_count, 1);
    uint64_t prev = __atomic_load_n(&c->st.stall_max_ns, __ATOMIC_RELAXED);
    if (ns > prev)
        __atomic_store_n(&c->st.stall_max_ns, ns, __ATOMIC_RELAXED);
}

static int serve_faults(gch_compactor *c)
{
    const gch_plan *pl = &c->plan;
    fault_event ev;
    while (ring_pop(c, &ev)) {
        STAT_ADD(c, faults_served, 1);
        uint64_t off = ev.addr - pl->to_base;
        if (ev.addr < pl->to_base || off >= ((uint64_t)pl->to_pages << GCH_PAGE_SHIFT)) {
            /* Not ours to build (cannot happen with a correct registration): wake the thread. */
            STAT_ADD(c, ioctls, 1);
            STAT_ADD(c, wake_ioctls, 1);
            gch_uffd_wake(c->cfg.uffd, ev.addr, GCH_PAGE_SIZE);
            continue;
        }
        uint32_t t = (uint32_t)(off >> GCH_PAGE_SHIFT);
        uint8_t s = page_state(c, t);
        if (s == GCH_PAGE_PENDING) {
            STAT_ADD(c, faults_on_pending, 1);
            uint64_t src;
            uint8_t kind;
            if (build(c, t, &src, &kind) != 0)
                return -1;
            if (extends_run(c, t, src)) {
                append_run(c, t, src, kind);
                if (flush_run(c) != 0)
                    return -1;
            } else if (c->cfg.copy_faulted_pages && c->cfg.install_mode == GCH_INSTALL_MOVE) {
                /* A mutator is waiting: COPY fills the empty PTE without a TLB shootdown IPI,
                 * which a single-page MOVE needs (measured: ~10 us off the median stall). */
                c->cfg.install_mode = GCH_INSTALL_COPY;
                int r = install(c, t, src, 1, &kind);
                c->cfg.install_mode = GCH_INSTALL_MOVE;
                if (r != 0)
                    return -1;
                STAT_ADD(c, pages_fault_copied, 1);
            } else if (install(c, t, src, 1, &kind) != 0) {
                return -1;
            }
        } else if (s == GCH_PAGE_BUILT) {
            if (flush_run(c) != 0) /* the faulted page waits in the pending run */
                return -1;
        } else {
            STAT_ADD(c, ioctls, 1);
            STAT_ADD(c, wake_ioctls, 1);
            int rc = gch_uffd_wake(c->cfg.uffd, ev.addr, GCH_PAGE_SIZE);
            if (rc != 0) {
                gch_fail(&c->fail, rc, GCH_OP_WAKE, ev.addr);
                return -1;
            }
        }
        record_stall(c, gch_now_ns() - ev.t_ns);
    }
    return 0;
}

/* ------------------------------------------------------------------ collector thread */

/* Experiments/tests only: wait sweep_delay_us after a background page, but never delay a fault
 * (the pending run is flushed first, so a page waiting in it is never the one held back). */
static void throttle(gch_compactor *c)
{
    if (flush_run(c) != 0)
        return;
    uint64_t until = gch_now_ns() + (uint64_t)c->cfg.sweep_delay_us * 1000u;
    while (!ring_nonempty(c) && gch_now_ns() < until) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

static void finish(gch_compactor *c, int32_t result)
{
    if (c->fail.error || result) {
        /* A page that cannot be built or installed would leave any thread faulting on it blocked
         * forever. Unregistering wakes them all; from then on missing pages fill with zeros.
         * The managed side marks the heap failed, so every later heap call throws. */
        gch_uffd_unregister(c->cfg.uffd, c->plan.to_base, (uint64_t)c->plan.to_pages << GCH_PAGE_SHIFT);
    }
    __atomic_store_n(&c->st.refs_fixed, c->bc.refs_fixed, __ATOMIC_RELAXED);
    __atomic_store_n(&c->st.bytes_copied, c->bc.bytes_copied, __ATOMIC_RELAXED);
    c->st.error = c->fail.error ? c->fail.error : result;
    c->st.error_op = c->fail.op;
    c->st.error_addr = c->fail.addr;
    pthread_mutex_lock(&c->mu);
    c->done = 1;
    c->result = c->st.error;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void *collector_main(void *arg)
{
    gch_compactor *c = arg;
    block_all_signals();
    apply_nice(c);
    pthread_setname_np(pthread_self(), "gch-collector");

    pthread_mutex_lock(&c->mu);
    while (!c->began && !c->abandon)
        pthread_cond_wait(&c->cv, &c->mu);
    int abandon = c->abandon && !c->began;
    pthread_mutex_unlock(&c->mu);
    if (abandon)
        return NULL;

    /* Stay off the CPU while the flip pause finishes, unless a fault needs serving; never wait
     * for the managed side for long (it may be held by a .NET GC). */
    uint64_t grace_end = gch_now_ns() + 1000000u;
    while (!__atomic_load_n(&c->resumed, __ATOMIC_ACQUIRE) && !ring_nonempty(c) && gch_now_ns() < grace_end) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }

    uint64_t cpu0 = gch_thread_cpu_ns();
    const gch_plan *pl = &c->plan;
    int failed = 0;

    for (uint32_t t = 0; t < pl->to_pages && !failed; t++) {
        if (ring_nonempty(c) && serve_faults(c) != 0) {
            failed = 1;
            break;
        }
        if (page_state(c, t) != GCH_PAGE_PENDING)
            continue;
        uint64_t src;
        uint8_t kind;
        if (build(c, t, &src, &kind) != 0) {
            failed = 1;
            break;
        }
        if (!extends_run(c, t, src) && flush_run(c) != 0) {
            failed = 1;
            break;
        }
        append_run(c, t, src, kind);
        if (c->run_n == c->cfg.batch_pages && flush_run(c) != 0)
            failed = 1;
        if (c->cfg.sweep_delay_us && !failed)
            throttle(c);
        if (c->cfg.release_chunk_pages && !failed && t + 1 - c->release_at >= c->cfg.release_chunk_pages) {
            c->release_at = t + 1;
            if (release_prefix(c, t + 1) != 0)
                failed = 1;
        }
    }
    if (!failed && (flush_run(c) != 0 || serve_faults(c) != 0))
        failed = 1;
    if (!failed && c->cfg.release_chunk_pages && release_prefix(c, pl->to_pages) != 0)
        failed = 1;

    __atomic_store_n(&c->st.wall_ns, gch_now_ns() - c->t_start, __ATOMIC_RELAXED);
    __atomic_store_n(&c->st.cpu_ns, gch_thread_cpu_ns() - cpu0, __ATOMIC_RELAXED);
    finish(c, failed ? (c->fail.error ? c->fail.error : -EIO) : 0);
    return NULL;
}

/* ------------------------------------------------------------------ public API */

int32_t gch_compactor_create(const gch_compactor_config *config, gch_compactor **out)
{
    if (config->batch_pages == 0 ||
        (config->install_mode != GCH_INSTALL_MOVE && config->install_mode != GCH_INSTALL_COPY))
        return -EINVAL;
    gch_compactor *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cfg = *config;
    c->stop_fd = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);

    int32_t rc = -ENOMEM;
    c->run_kind = calloc(config->batch_pages, 1);
    c->ring_pages = config->buffer_pages > 2 * config->batch_pages ? config->buffer_pages : 2 * config->batch_pages;
    c->stall_cap = config->stall_sample_capacity;
    c->stalls = c->stall_cap ? calloc(c->stall_cap, sizeof(uint64_t)) : NULL;
    if (!c->run_kind || (c->stall_cap && !c->stalls))
        goto fail;
    uint64_t ring_addr = 0;
    rc = gch_mem_reserve((uint64_t)c->ring_pages << GCH_PAGE_SHIFT,
                         GCH_MEM_NOHUGEPAGE | (config->dont_fork ? GCH_MEM_DONTFORK : 0), &ring_addr);
    if (rc != 0)
        goto fail;
    c->ring_area = (char *)ring_addr;
    c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->stop_fd < 0) {
        rc = -errno;
        goto fail;
    }

    if ((rc = -pthread_create(&c->reader, NULL, reader_main, c)) != 0)
        goto fail;
    c->reader_started = 1;
    if ((rc = -pthread_create(&c->collector, NULL, collector_main, c)) != 0)
        goto fail;
    c->collector_started = 1;
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
    c->plan = *plan;
    c->t_start = gch_now_ns();
    c->began = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void gch_compactor_resumed(gch_compactor *c)
{
    __atomic_store_n(&c->resumed, 1, __ATOMIC_RELEASE);
}

int32_t gch_compactor_wait(gch_compactor *c, int32_t timeout_ms)
{
    pthread_mutex_lock(&c->mu);
    if (timeout_ms < 0) {
        while (!c->done)
            pthread_cond_wait(&c->cv, &c->mu);
    } else {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
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
        return -EBUSY; /* samples are written by the collector thread until it finishes */
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
    if (c->collector_started) {
        /* Mutators may be blocked on pages only the collector can install: never abandon a
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
        pthread_join(c->collector, NULL);
    }
    if (c->reader_started) {
        uint64_t one = 1;
        ssize_t w = write(c->stop_fd, &one, sizeof one);
        (void)w;
        pthread_join(c->reader, NULL);
    }
    if (c->stop_fd >= 0)
        close(c->stop_fd);
    if (c->ring_area)
        gch_mem_release((uint64_t)c->ring_area, (uint64_t)c->ring_pages << GCH_PAGE_SHIFT);
    free(c->stalls);
    free(c->run_kind);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
