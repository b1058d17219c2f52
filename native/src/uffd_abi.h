/*
 * uffd_abi.h - kernel userfaultfd ABI pieces newer than the installed headers.
 *
 * Debian 12 ships linux/userfaultfd.h from Linux 6.1, which predates UFFDIO_MOVE (6.8),
 * UFFD_FEATURE_WP_UNPOPULATED (6.4), UFFD_FEATURE_POISON (6.6) and UFFD_FEATURE_WP_ASYNC
 * (6.7). The values below are the kernel's uapi values; static asserts pin the layout.
 */
#ifndef GCH_UFFD_ABI_H
#define GCH_UFFD_ABI_H

#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC 0xAA
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1ULL << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1ULL << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1ULL << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1ULL << 16)
#endif

#define GCH_UFFDIO_MOVE_NR 0x05
#define GCH_UFFDIO_POISON_NR 0x08

/* struct uffdio_poison from Linux 6.6 uapi: fill missing pages with poison markers (SIGBUS). */
struct gch_uffdio_poison {
    struct uffdio_range range;
    uint64_t mode;
    int64_t updated; /* out: bytes poisoned, or -errno */
};

#define GCH_UFFDIO_POISON _IOWR(UFFDIO, GCH_UFFDIO_POISON_NR, struct gch_uffdio_poison)

/* struct uffdio_move from Linux 6.8 uapi. */
struct gch_uffdio_move {
    uint64_t dst;
    uint64_t src;
    uint64_t len;
    uint64_t mode;
    int64_t move; /* out: bytes moved, or -errno */
};

#define GCH_UFFDIO_MOVE _IOWR(UFFDIO, GCH_UFFDIO_MOVE_NR, struct gch_uffdio_move)
#define GCH_UFFDIO_MOVE_MODE_DONTWAKE (1ULL << 0)
#define GCH_UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES (1ULL << 1)

/* PAGEMAP_SCAN (Linux 6.7 uapi, linux/fs.h): walks a range of /proc/self/pagemap's page tables
 * and returns regions of pages sharing the asked categories. Used to tell whether a 2 MiB block is
 * mapped by one PMD (PAGE_IS_HUGE). */
struct gch_page_region {
    uint64_t start;
    uint64_t end;
    uint64_t categories;
};

struct gch_pm_scan_arg {
    uint64_t size;
    uint64_t flags;
    uint64_t start;
    uint64_t end;
    uint64_t walk_end;
    uint64_t vec;
    uint64_t vec_len;
    uint64_t max_pages;
    uint64_t category_inverted;
    uint64_t category_mask;
    uint64_t category_anyof_mask;
    uint64_t return_mask;
};

#define GCH_PAGEMAP_SCAN _IOWR('f', 16, struct gch_pm_scan_arg)
#define GCH_PAGE_IS_HUGE (1ULL << 6)

_Static_assert(sizeof(struct gch_pm_scan_arg) == 96, "pm_scan_arg is 96 bytes");
_Static_assert(sizeof(struct gch_uffdio_move) == 40, "uffdio_move is 40 bytes");
_Static_assert(GCH_UFFDIO_MOVE == 0xC028AA05u, "UFFDIO_MOVE ioctl number");
_Static_assert(sizeof(struct gch_uffdio_poison) == 32, "uffdio_poison is 32 bytes");
_Static_assert(GCH_UFFDIO_POISON == 0xC020AA08u, "UFFDIO_POISON ioctl number");
_Static_assert(UFFDIO_COPY == 0xC028AA03u, "UFFDIO_COPY ioctl number");
_Static_assert(UFFDIO_API == 0xC018AA3Fu, "UFFDIO_API ioctl number");
_Static_assert(UFFDIO_REGISTER == 0xC020AA00u, "UFFDIO_REGISTER ioctl number");
_Static_assert(sizeof(struct uffd_msg) == 32, "uffd_msg is 32 bytes");

#endif
