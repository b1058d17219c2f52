/*
 * stop_model.c - the time to safepoint this machine gives a stop that has nothing to wait for.
 *
 * A model of GcHeap's global stop with none of GcHeap, .NET or its JIT in it: `mutators` threads
 * do ~0.3 us of work between two polls of a shared flag (GcHeap's allocation fast path polls about
 * that often); a stopper thread sets the flag, spins 100 us (as `SafepointCoordinator` does), then
 * sleeps on a futex that the last thread to park wakes; inside the "pause" it works 50 us, then
 * releases the mutators, which also wait on a futex. Between two stops the stopper either works
 * (`busy`: a concurrent collector marking or compacting, so both vCPUs are busy, the common case
 * with one mutator) or sleeps (`idle`), for a uniformly random 2-18 ms.
 *
 * Every stop's time to safepoint (flag set -> every mutator parked), the 50 us of work, the
 * release (the futex wake of the parked mutators) and pause (flag set -> released) are recorded; the program prints their distribution and, from it, the chance that a
 * run of K stops keeps every pause at or under 1 ms. No thread is pinned: the scheduler places
 * them, as it places a .NET process's threads.
 *
 *   cc -O2 -pthread -o /tmp/stop_model stop_model.c && /tmp/stop_model 1 busy 60
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_MUTATORS 8
#define MAX_STOPS 200000

static _Atomic uint32_t stop_requested;  /* 1 while a stop is pending or held */
static _Atomic uint32_t parked;          /* mutators parked in this stop */
static _Atomic uint32_t release_gen;     /* futex word the mutators wait on */
static _Atomic uint32_t stopper_wake;    /* futex word the stopper waits on */
static _Atomic uint32_t done;
static int n_mutators;
static volatile uint64_t sink;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* About 0.3 us of dependent arithmetic and stores into a small private array. */
static void work_slice(uint64_t *state, uint64_t *buf)
{
    uint64_t x = *state;
    for (int i = 0; i < 64; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[x >> 58] += x;
    }
    *state = x;
}

static void *mutator(void *arg)
{
    uint64_t state = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    uint64_t buf[64] = {0};
    while (!atomic_load_explicit(&done, memory_order_relaxed)) {
        work_slice(&state, buf);
        if (atomic_load_explicit(&stop_requested, memory_order_acquire)) {
            uint32_t gen = atomic_load(&release_gen);
            if (atomic_fetch_add(&parked, 1) + 1 == (uint32_t)n_mutators) {
                atomic_store(&stopper_wake, 1);
                futex_wake(&stopper_wake);
            }
            while (atomic_load(&release_gen) == gen)
                futex_wait(&release_gen, gen);
        }
    }
    sink += buf[state & 63];
    return NULL;
}

static void busy_for(uint64_t ns, uint64_t *state, uint64_t *buf)
{
    uint64_t end = now_ns() + ns;
    while (now_ns() < end)
        work_slice(state, buf);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1));
    return sorted[i] / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MUTATORS busy|idle SECONDS\n", argv[0]);
        return 2;
    }
    n_mutators = atoi(argv[1]);
    int busy = strcmp(argv[2], "busy") == 0;
    double seconds = atof(argv[3]);
    if (n_mutators < 1 || n_mutators > MAX_MUTATORS)
        return 2;

    static uint64_t tts[MAX_STOPS], pause[MAX_STOPS], work[MAX_STOPS], release[MAX_STOPS];
    pthread_t th[MAX_MUTATORS];
    for (int i = 0; i < n_mutators; i++)
        pthread_create(&th[i], NULL, mutator, (void *)(uintptr_t)(i + 1));

    uint64_t state = 12345, buf[64] = {0};
    srand48(7);
    size_t n = 0;
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    while (now_ns() < end && n < MAX_STOPS) {
        uint64_t gap = 2000000ull + (uint64_t)(drand48() * 16e6);
        if (busy) {
            busy_for(gap, &state, buf);
        } else {
            struct timespec ts = { 0, (long)gap };
            nanosleep(&ts, NULL);
        }

        atomic_store(&parked, 0);
        atomic_store(&stopper_wake, 0);
        uint64_t t0 = now_ns();
        atomic_store_explicit(&stop_requested, 1, memory_order_release);
        while (atomic_load(&parked) < (uint32_t)n_mutators && now_ns() - t0 < 100000)
            __builtin_ia32_pause();
        while (atomic_load(&parked) < (uint32_t)n_mutators)
            futex_wait(&stopper_wake, 0);
        uint64_t t1 = now_ns();
        busy_for(50000, &state, buf);
        uint64_t t1b = now_ns();
        atomic_store(&stop_requested, 0);
        atomic_fetch_add(&release_gen, 1);
        futex_wake(&release_gen);
        uint64_t t2 = now_ns();
        tts[n] = t1 - t0;
        work[n] = t1b - t1;
        release[n] = t2 - t1b;
        pause[n] = t2 - t0;
        n++;
    }
    atomic_store(&done, 1);
    for (int i = 0; i < n_mutators; i++)
        pthread_join(th[i], NULL);

    size_t over_tts[3] = {0}, over_pause[3] = {0};
    const uint64_t lim[3] = { 500000, 1000000, 2000000 };
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            over_tts[k] += tts[i] > lim[k];
            over_pause[k] += pause[i] > lim[k];
        }
    size_t work_over = 0, release_over = 0;
    for (size_t i = 0; i < n; i++) {
        work_over += work[i] > 1000000;
        release_over += release[i] > 1000000;
    }
    qsort(tts, n, sizeof tts[0], cmp_u64);
    qsort(pause, n, sizeof pause[0], cmp_u64);
    qsort(work, n, sizeof work[0], cmp_u64);
    qsort(release, n, sizeof release[0], cmp_u64);

    printf("stop_model: %d mutator(s), stopper %s between stops, %.0f s, %zu stops\n",
           n_mutators, busy ? "busy" : "idle", seconds, n);
    printf("time to safepoint ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
           pct(tts, n, 0.5), pct(tts, n, 0.99), pct(tts, n, 0.999), pct(tts, n, 1.0));
    printf("pause ms:             p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
           pct(pause, n, 0.5), pct(pause, n, 0.99), pct(pause, n, 0.999), pct(pause, n, 1.0));
    printf("50 us of work ms:     p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (over 1 ms: %zu)\n",
           pct(work, n, 0.5), pct(work, n, 0.99), pct(work, n, 0.999), pct(work, n, 1.0), work_over);
    printf("release (wake) ms:    p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (over 1 ms: %zu)\n",
           pct(release, n, 0.5), pct(release, n, 0.99), pct(release, n, 0.999), pct(release, n, 1.0), release_over);
    printf("pauses over 0.5 / 1 / 2 ms: %zu / %zu / %zu  (time to safepoint over them: %zu / %zu / %zu)\n",
           over_pause[0], over_pause[1], over_pause[2], over_tts[0], over_tts[1], over_tts[2]);
    double p1 = (double)over_pause[1] / (double)n;
    printf("share of pauses over 1 ms: %.4f%%\n", 100.0 * p1);
    const int ks[4] = { 20, 50, 100, 200 };
    for (int i = 0; i < 4; i++)
        printf("chance a run of %d stops keeps every pause <= 1 ms: %.1f%%\n", ks[i],
               100.0 * pow(1.0 - p1, ks[i]));
    return (int)(sink & 0);
}
