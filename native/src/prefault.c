/*
 * prefault.c - populates allocation pages ahead of the mutators, off their threads.
 *
 * A fresh anonymous page costs its first toucher a page fault (the kernel zeroes a page and maps
 * it: ~1.7 us bare metal, ~11 us in this project's PVM guest). Mutators take allocation pages in
 * address order, so one native thread ("gch-prefault") populates the next window of pages with
 * MADV_POPULATE_WRITE (5.14+; one syscall per run, about 1 us per page here) before they get
 * there. The managed side (Memory/AllocationPrefaulter.cs) decides which ranges: only pages of
 * the allocation space above every page registered with the uffd, so a populated page can never
 * sit where the compactor will install one (that would be EEXIST), and it drains this thread
 * before a space is discarded.
 *
 * Thread states (`state`, under `lock`):
 *
 *   IDLE --request--> BUSY --queue empty--> IDLE
 *     \                 \
 *      `---destroy---> STOPPING (the thread exits; requests are refused)
 *
 * Errors: populating is only an optimisation, so no errno here fails the heap.
 *   EINVAL from MADV_POPULATE_WRITE   the kernel lacks it (< 5.14): touch each page instead, with
 *                                     an atomic add of 0, which cannot lose a mutator's
 *                                     concurrent store to the same word.
 *   EINTR / EAGAIN                    retried.
 *   ENOMEM / EFAULT / anything else   prefaulting stops for good (last_error says why); the
 *                                     mutators then take their own page faults, as without it.
 */
#define _GNU_SOURCE
#include "gcheap_native.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum { PF_QUEUE = 64 };

typedef enum { PF_IDLE, PF_BUSY, PF_STOPPING } pf_state;

struct gch_prefaulter {
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* the thread: a request arrived or stop */
    pthread_cond_t drained;  /* drainers: queue empty and the thread idle */
    pthread_t thread;
    pf_state state;
    uint32_t head, count;
    struct { uint64_t addr, len; } queue[PF_QUEUE];
    int32_t method;          /* GCH_PREFAULT_POPULATE or GCH_PREFAULT_TOUCH */
    int32_t last_error;
    uint64_t requests, pages, busy_ns, dropped;
};

static void touch_range(uint64_t addr, uint64_t len)
{
    for (uint64_t off = 0; off < len; off += GCH_PAGE_SIZE)
        __atomic_fetch_add((uint64_t *)(addr + off), 0, __ATOMIC_RELAXED);
}

/* Populates one range; returns 0, or the errno that ends prefaulting. */
static int populate(gch_prefaulter *p, uint64_t addr, uint64_t len)
{
    if (p->method == GCH_PREFAULT_TOUCH) {
        touch_range(addr, len);
        return 0;
    }
    for (;;) {
        if (madvise((void *)addr, (size_t)len, MADV_POPULATE_WRITE) == 0)
            return 0;
        switch (errno) {
        case EINTR:
        case EAGAIN:
            continue;
        case EINVAL:
            p->method = GCH_PREFAULT_TOUCH;
            touch_range(addr, len);
            return 0;
        default:
            return errno;
        }
    }
}

static void *prefault_main(void *arg)
{
    gch_prefaulter *p = arg;
    pthread_setname_np(pthread_self(), "gch-prefault");
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->count == 0 && p->state != PF_STOPPING) {
            p->state = PF_IDLE;
            pthread_cond_broadcast(&p->drained);
            pthread_cond_wait(&p->wake, &p->lock);
        }
        if (p->state == PF_STOPPING)
            break;
        p->state = PF_BUSY;
        uint64_t addr = p->queue[p->head].addr, len = p->queue[p->head].len;
        p->head = (p->head + 1) % PF_QUEUE;
        p->count--;
        pthread_mutex_unlock(&p->lock);

        uint64_t t0 = gch_now_ns();
        int err = p->last_error ? p->last_error : populate(p, addr, len);

        pthread_mutex_lock(&p->lock);
        p->busy_ns += gch_now_ns() - t0;
        if (err == 0)
            p->pages += len / GCH_PAGE_SIZE;
        else if (p->last_error == 0)
            p->last_error = err;
    }
    pthread_cond_broadcast(&p->drained);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int32_t gch_prefaulter_create(gch_prefaulter **out)
{
    gch_prefaulter *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->drained, NULL);
    p->state = PF_IDLE;
    p->method = GCH_PREFAULT_POPULATE;
    int rc = pthread_create(&p->thread, NULL, prefault_main, p);
    if (rc != 0) {
        pthread_cond_destroy(&p->drained);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return -rc;
    }
    *out = p;
    return 0;
}

int32_t gch_prefaulter_request(gch_prefaulter *p, uint64_t addr, uint64_t len)
{
    if (len == 0)
        return 0;
    if ((addr | len) & (GCH_PAGE_SIZE - 1))
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (p->state == PF_STOPPING || p->last_error) {
        rc = -ECANCELED;
    } else if (p->count == PF_QUEUE) {
        p->dropped++;
        rc = -EAGAIN;
    } else {
        uint32_t tail = (p->head + p->count) % PF_QUEUE;
        p->queue[tail].addr = addr;
        p->queue[tail].len = len;
        p->count++;
        p->requests++;
        if (p->state == PF_IDLE) {
            p->state = PF_BUSY; /* a drain right after this call waits for the request */
            pthread_cond_signal(&p->wake);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int32_t gch_prefaulter_drain(gch_prefaulter *p)
{
    pthread_mutex_lock(&p->lock);
    while ((p->count != 0 || p->state == PF_BUSY) && p->state != PF_STOPPING)
        pthread_cond_wait(&p->drained, &p->lock);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int32_t gch_prefaulter_stats(gch_prefaulter *p, gch_prefault_stats *out)
{
    pthread_mutex_lock(&p->lock);
    out->requests = p->requests;
    out->pages = p->pages;
    out->busy_ns = p->busy_ns;
    out->dropped = p->dropped;
    out->last_error = p->last_error;
    out->method = p->method;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void gch_prefaulter_destroy(gch_prefaulter *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->state = PF_STOPPING;
    p->count = 0;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->drained);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
