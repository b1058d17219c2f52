/*
 * threads.c - handing a CPU over to the thread that ends a safepoint stop.
 *
 * The stopper spins 100 us, then sleeps until the last mutator parks and wakes it. On few CPUs
 * that wakeup can go wrong: the kernel queues the woken stopper on its previous CPU, behind
 * whatever runs there (the runtime's JIT worker, a kernel thread), even though the CPU of the
 * mutator that woke it goes idle a microsecond later (the mutator parks right after). Idle
 * balancing does not pull the cache-hot stopper over, and every mutator stays stopped until the
 * thread ahead of it ends its time slice: up to 2.4 ms measured (docs/design.md section 7,
 * "Time to safepoint"). So the parking mutator, just before it wakes the stopper and sleeps,
 * restricts the stopper to its own CPU; the stopper runs there as soon as the mutator sleeps and
 * gives its mask back itself. Changing the affinity of a thread of the same process needs no
 * privilege.
 *
 * Nothing here allocates or takes a lock; every call returns 0 or -errno:
 *   ESRCH   the thread has exited                 nothing to do
 *   EINVAL  the CPU is not in the thread's mask   nothing changed (cpusets)
 */
#define _GNU_SOURCE
#include "gcheap_native.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(cpu_set_t) == GCH_CPU_MASK_BYTES, "cpu_set_t size");

int32_t gch_thread_self_id(int32_t *tid_out)
{
    *tid_out = (int32_t)syscall(SYS_gettid);
    return 0;
}

int32_t gch_thread_pin_here(int32_t tid, uint8_t *saved_mask)
{
    cpu_set_t old, here;
    int cpu = sched_getcpu();
    if (cpu < 0)
        return -errno;
    if (sched_getaffinity((pid_t)tid, sizeof old, &old) != 0)
        return -errno;
    if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &old))
        return -EINVAL;
    CPU_ZERO(&here);
    CPU_SET(cpu, &here);
    memcpy(saved_mask, &old, sizeof old);
    if (sched_setaffinity((pid_t)tid, sizeof here, &here) != 0)
        return -errno;
    return 0;
}

int32_t gch_thread_set_affinity(int32_t tid, const uint8_t *mask)
{
    cpu_set_t set;
    memcpy(&set, mask, sizeof set);
    if (sched_setaffinity((pid_t)tid, sizeof set, &set) != 0)
        return -errno;
    return 0;
}
