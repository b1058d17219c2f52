/*
 * uffd_fill.h - the one loop behind MOVE, COPY, ZEROPAGE and CONTINUE: issue the ioctl, resume after
 * partial progress (EAGAIN), report bytes done and the errno that stopped it.
 */
#ifndef GCH_UFFD_FILL_H
#define GCH_UFFD_FILL_H

#include <stdint.h>

enum gch_fill_op { GCH_FILL_MOVE, GCH_FILL_COPY, GCH_FILL_ZEROPAGE, GCH_FILL_CONTINUE, GCH_FILL_POISON };

typedef struct gch_fill_counters {
    uint64_t ioctls;
    uint64_t eagain_retries;
} gch_fill_counters;

/* Returns 0 when all of [dst, dst + len) is done, else the -errno that stopped it; *done is the
 * byte count completed either way. counters may be NULL. */
int gch_uffd_fill(int fd, enum gch_fill_op op, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, uint64_t *done,
                  gch_fill_counters *counters);

/* The same, but gives up with -EAGAIN after `stall_limit` consecutive EAGAIN answers that made no
 * progress. With non-cooperative events enabled the kernel answers EAGAIN without progress for as
 * long as an event (FORK, REMOVE, UNMAP, REMAP) is unread or its thread has not resumed: the caller
 * must let the event be consumed (it may be the thread that reads the uffd) before retrying. */
int gch_uffd_fill_bounded(int fd, enum gch_fill_op op, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode,
                          uint64_t *done, gch_fill_counters *counters, int stall_limit);

#endif
