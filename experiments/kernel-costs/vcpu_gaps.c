/*
 * vcpu_gaps.c - how long a busy thread can lose its CPU without the guest scheduler knowing.
 *
 * A stop waits for a running mutator to reach its next poll. If the vCPU that mutator runs on is
 * descheduled by the host, the guest sees nothing (the task stays "running", no sched_switch) and
 * the stop just waits. This program runs `threads` threads, each pinned to one CPU, that read
 * CLOCK_MONOTONIC in a tight loop for `seconds` and record every gap between two consecutive
 * reads over 200 us. For each gap it also reads the task's context-switch counts
 * (getrusage(RUSAGE_THREAD): voluntary + involuntary) before and after: a gap with no context switch was
 * not the guest scheduler running something else (an interrupt, or the host taking the vCPU);
 * one with a switch was. /proc/stat's steal column is printed before and after (the hypervisor's
 * own count of time the vCPUs wanted to run and did not).
 *
 *   cc -O2 -pthread -o /tmp/vcpu_gaps vcpu_gaps.c && /tmp/vcpu_gaps 2 60
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_GAPS 100000
#define GAP_NS 200000ull

typedef struct {
    int cpu;
    double seconds;
    uint64_t n, switched;
    uint64_t start_ns;
    uint64_t gap_ns[MAX_GAPS];
    uint64_t gap_at[MAX_GAPS];
    uint8_t gap_switched[MAX_GAPS];
} worker;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static long switches(void)
{
    struct rusage u;
    getrusage(RUSAGE_THREAD, &u);
    return u.ru_nvcsw + u.ru_nivcsw;
}

static void *run(void *arg)
{
    worker *w = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    uint64_t end = w->start_ns + (uint64_t)(w->seconds * 1e9);
    uint64_t prev = now_ns();
    long sw = switches();
    uint64_t reads = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (t - prev > GAP_NS) {
            long s2 = switches();
            if (w->n < MAX_GAPS) {
                w->gap_ns[w->n] = t - prev;
                w->gap_at[w->n] = prev;
                w->gap_switched[w->n] = s2 != sw;
                w->n++;
            }
            sw = s2;
            t = now_ns();
        } else if ((++reads & 0xffff) == 0) {
            if (t > end)
                break;
            sw = switches(); /* keep the baseline fresh (no gap: nothing to attribute) */
            t = now_ns();
        }
        prev = t;
    }
    return NULL;
}

static unsigned long long steal_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
            v[7] = 0;
        fclose(f);
    }
    return v[7];
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double seconds = argc > 2 ? atof(argv[2]) : 30;
    worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    unsigned long long steal0 = steal_ticks();
    uint64_t start = now_ns();
    for (int i = 0; i < threads; i++) {
        w[i].start_ns = start;
        w[i].cpu = i;
        w[i].seconds = seconds;
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    unsigned long long steal1 = steal_ticks();
    printf("%d threads x %.0f s; /proc/stat steal %llu ticks (%.1f ms at USER_HZ 100)\n", threads, seconds, steal1 - steal0,
           (double)(steal1 - steal0) * 10.0);
    for (int i = 0; i < threads; i++) {
        uint64_t n = w[i].n, over[4] = {0}, quiet[4] = {0};
        static const uint64_t lim[4] = {1000000, 2000000, 5000000, 9000000};
        uint64_t *sorted = malloc(n * sizeof *sorted + 1);
        uint64_t quiet_total = 0, switched_total = 0;
        for (uint64_t k = 0; k < n; k++) {
            sorted[k] = w[i].gap_ns[k];
            if (w[i].gap_switched[k])
                switched_total += w[i].gap_ns[k];
            else
                quiet_total += w[i].gap_ns[k];
            for (int j = 0; j < 4; j++)
                if (w[i].gap_ns[k] > lim[j]) {
                    over[j]++;
                    if (!w[i].gap_switched[k])
                        quiet[j]++;
                }
        }
        qsort(sorted, n, sizeof *sorted, cmp);
        printf("cpu %d: %llu gaps > 0.2 ms (%.1f ms in total without a context switch, %.1f ms with one); max %.3f ms; "
               "> 1 ms %llu (%llu without a switch), > 2 ms %llu (%llu), > 5 ms %llu (%llu), > 9 ms %llu (%llu)\n",
               w[i].cpu, (unsigned long long)n, quiet_total / 1e6, switched_total / 1e6, n ? sorted[n - 1] / 1e6 : 0.0,
               (unsigned long long)over[0], (unsigned long long)quiet[0], (unsigned long long)over[1], (unsigned long long)quiet[1],
               (unsigned long long)over[2], (unsigned long long)quiet[2], (unsigned long long)over[3], (unsigned long long)quiet[3]);
        printf("  longest 8:");
        for (uint64_t k = n > 8 ? n - 8 : 0; k < n; k++)
            printf(" %.3f", sorted[k] / 1e6);
        printf(" ms\n");
        free(sorted);
    }
    /* Every gap over 5 ms in time order, both CPUs: do the CPUs lose their vCPUs together, and
     * how far apart are the gaps (a host's CFS bandwidth period is 100 ms)? */
    printf("gaps over 5 ms in time order (cpu: start s + length ms, s = switched):\n");
    uint64_t *next = calloc((size_t)threads, sizeof *next);
    for (;;) {
        int best = -1;
        for (int i = 0; i < threads; i++) {
            while (next[i] < w[i].n && w[i].gap_ns[next[i]] <= 5000000)
                next[i]++;
            if (next[i] < w[i].n && (best < 0 || w[i].gap_at[next[i]] < w[best].gap_at[next[best]]))
                best = i;
        }
        if (best < 0)
            break;
        uint64_t k = next[best]++;
        printf("  cpu %d: %9.4f s + %7.3f ms%s\n", w[best].cpu, (w[best].gap_at[k] - start) / 1e9, w[best].gap_ns[k] / 1e6,
               w[best].gap_switched[k] ? " s" : "");
    }
    return 0;
}
