/*
 * fork_gate.c - fork() never sees a compaction in progress.
 *
 * A child forked while to-space is partly installed would inherit forwarded roots and a
 * to-space with holes: without UFFD_FEATURE_EVENT_FORK its to-space VMAs are unregistered in
 * the child and the holes read as zeros (wrong values, silently); with it they are registered
 * to a new uffd that nobody serves (a hang). Serving the child from the parent is not possible
 * in general: once the parent installed a page its mutators may write it, and its sources are
 * released, so the page the child lacks no longer exists anywhere.
 *
 * So the gate makes fork() and a running compaction mutually exclusive, process-wide:
 *
 *     state                  fork() (prepare handler)            compaction
 *     ---------------------  ----------------------------------  --------------------------------
 *     idle (running == 0)    proceeds, holding gate_mu until     arm waits for gate_mu, i.e. for
 *                            its parent/child handler            the fork to finish
 *     armed (running > 0)    waits until running == 0            runs; leave (all pages installed,
 *                            (fork_waiters > 0 blocks new arms)  or failed) wakes waiting forks
 *
 *   arm   gch_compactor_arm, inside the flip pause before any root is forwarded;
 *   leave when the compaction finishes (every page installed or the compaction failed), or when
 *         a compactor that was armed is destroyed without having begun.
 *
 * The prepare handler only waits for native threads (the compactor never needs the forking
 * thread or the .NET runtime), so the wait always ends. A fork that waits holds no lock the
 * compactor takes; a new compaction that finds a fork waiting waits for it (no starvation of
 * forks by back-to-back collections). Only fork() through glibc runs the handlers: vfork and
 * posix_spawn share the address space (no copy, nothing to protect); a raw clone() or _Fork()
 * bypasses the gate, and the compactor's FORK event handling poisons what that child lacks
 * (compactor.c, child_forked).
 */
#define _GNU_SOURCE
#include "gcheap_native.h"
#include "clock.h"
#include "fork_gate.h"

#include <pthread.h>

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;
static uint32_t running;      /* armed compactions (gate_mu)                   */
static uint32_t fork_waiters; /* forks waiting in their prepare handler (gate_mu) */
static gch_fork_gate_stats stats;

static void prepare(void)
{
    pthread_mutex_lock(&gate_mu);
    stats.forks++;
    if (running) {
        uint64_t t0 = gch_now_ns();
        stats.forks_waited++;
        fork_waiters++;
        while (running)
            pthread_cond_wait(&gate_cv, &gate_mu);
        fork_waiters--;
        stats.wait_ns += gch_now_ns() - t0;
    }
    /* gate_mu stays held across the fork: no compaction arms until the address space is copied. */
}

static void parent(void) { pthread_mutex_unlock(&gate_mu); }

static void child(void)
{
    /* The child has one thread and no compaction: start from a fresh gate. */
    pthread_mutex_init(&gate_mu, NULL);
    pthread_cond_init(&gate_cv, NULL);
    running = 0;
    fork_waiters = 0;
}

static void install(void) { (void)pthread_atfork(prepare, parent, child); }

void gch_fork_gate_init(void) { pthread_once(&gate_once, install); }

void gch_fork_gate_enter(void)
{
    gch_fork_gate_init();
    pthread_mutex_lock(&gate_mu);
    while (fork_waiters)
        pthread_cond_wait(&gate_cv, &gate_mu);
    running++;
    pthread_mutex_unlock(&gate_mu);
}

void gch_fork_gate_leave(void)
{
    pthread_mutex_lock(&gate_mu);
    running--;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

int32_t gch_fork_gate_stats_get(gch_fork_gate_stats *out)
{
    pthread_mutex_lock(&gate_mu);
    *out = stats;
    out->running = running;
    pthread_mutex_unlock(&gate_mu);
    return 0;
}
