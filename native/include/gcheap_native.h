/*
 * gcheap_native.h - the C ABI between GcHeap (C#) and its native userfaultfd layer.
 *
 * Rules of this ABI:
 *   - only fixed-size integer types and pointers cross it; every struct has a mirror in
 *     src/GcHeap/Interop/NativeStructs.cs with the same field order and sizes;
 *   - functions return int32_t: 0 on success, a negative errno on failure;
 *   - nothing here calls back into managed code, and no function blocks on anything the
 *     .NET runtime owns (see docs/design.md, "The .NET deadlock hazard").
 *
 * The object layout contract (header, type table, page classes) is documented in
 * docs/design.md and mirrored in src/GcHeap/ObjectModel/ObjectLayout.cs.
 */
#ifndef GCHEAP_NATIVE_H
#define GCHEAP_NATIVE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GCH_EXPORT __attribute__((visibility("default")))

/* Bumped whenever a struct or signature below changes; checked by the managed side. */
#define GCH_ABI_VERSION 27

/* ---------------------------------------------------------------------------------------
 * Heap geometry and object layout
 * ------------------------------------------------------------------------------------- */
enum {
    GCH_PAGE_SIZE = 4096,
    GCH_PAGE_SHIFT = 12,
    GCH_GRANULE = 8,              /* object alignment and mark-bitmap resolution */
    GCH_GRANULE_SHIFT = 3,
    GCH_GRANULES_PER_PAGE = 512,
    GCH_BITMAP_WORDS_PER_PAGE = 8 /* 512 bits */
};

/* Type kinds of the run-time type table. */
enum {
    GCH_KIND_INVALID = 0,
    GCH_KIND_FILLER = 1,     /* dead space: header.length is the filler's byte size      */
    GCH_KIND_OBJECT = 2,     /* fixed layout: ref_count reference slots, then data bytes  */
    GCH_KIND_REF_ARRAY = 3,  /* header.length reference slots                             */
    GCH_KIND_DATA_ARRAY = 4  /* header.length elements of elem_size bytes, no references  */
};

/* Reserved type ids. A header whose type id is GCH_TYPE_END marks the end of a page's objects. */
enum { GCH_TYPE_END = 0, GCH_TYPE_FILLER = 1 };

/* One entry of the type table, indexed by type id. Immutable once published. */
typedef struct gch_type_info {
    uint32_t kind;
    uint32_t ref_count; /* OBJECT: reference slots right after the 8-byte header          */
    uint32_t base_size; /* OBJECT: full instance size; arrays: header size (8)              */
    uint32_t elem_size; /* arrays: bytes per element (8 for reference arrays)               */
} gch_type_info;

/* ---------------------------------------------------------------------------------------
 * Compaction plan: computed by C# after marking, executed by the native page builder.
 * ------------------------------------------------------------------------------------- */

/* Class of a from-space page. */
enum {
    GCH_FROM_EMPTY = 0,        /* nothing live: the page is dropped                          */
    GCH_FROM_WHOLE_MARKED = 1, /* dense small-object page: moves whole; liveness from bitmap  */
    GCH_FROM_WHOLE_BLACK = 2,  /* allocated during the cycle: moves whole, every object live  */
    GCH_FROM_SPARSE = 3,       /* live objects are packed into compacted to-space pages       */
    GCH_FROM_LARGE = 4         /* a page of a live large object: moves whole                  */
};

/* from_aux of a LARGE page: the part of the object's reference block that lies on this page,
 * as byte offsets [begin, end) within the page, and whether the page holds the header. Building
 * a page never reads another page, so pages can be built and installed in any order. */
#define GCH_LARGE_AUX(begin, end, head) ((uint32_t)(begin) | ((uint32_t)(end) << 13) | ((uint32_t)(head) << 31))
#define GCH_LARGE_REFS_BEGIN(aux) ((aux) & 0x1FFFu)
#define GCH_LARGE_REFS_END(aux) (((aux) >> 13) & 0x1FFFu)
#define GCH_LARGE_IS_HEAD(aux) (((aux) >> 31) & 1u)

/* How a to-space page is built. */
enum {
    GCH_TO_WHOLE = 1,     /* fix references in place in from-space page to_src[t], then install it */
    GCH_TO_COMPACTED = 2, /* pack live objects starting at granule to_src[t] into a buffer page     */
    GCH_TO_HOLE = 3       /* alignment hole (huge blocks): nothing lives here, nothing is installed;
                             a stray fault gets a zero page                                      */
};

/* Pages per 2 MiB PMD: a huge block of to-space is 512 to-pages starting at a multiple of it. */
enum { GCH_PMD_PAGES = 512 };

/* State of a to-space page during concurrent compaction (the state machine is documented in
 * native/src/compactor.c and docs/design.md section 6). */
enum {
    GCH_PAGE_PENDING = 0,   /* nobody has claimed it                                        */
    GCH_PAGE_BUILT = 1,     /* contents complete in their source page, waiting in a run      */
    GCH_PAGE_INSTALLED = 2, /* present in to-space                                          */
    GCH_PAGE_CLAIMED = 3    /* one worker owns it and is building it                        */
};

typedef struct gch_plan {
    uint64_t from_base;            /* address of from-space page 0                           */
    uint64_t to_base;              /* address of to-space page 0                             */
    uint32_t from_pages;           /* from-space pages covered                               */
    uint32_t to_pages;             /* to-space pages to build                                */
    uint32_t type_count;
    uint32_t nursery_pages;        /* pages [0, n) of both spaces are the heap's nursery: from-space's are
                                      never given back (the heap zeroes them in place), never moved by
                                      frame (the plan packs them); to-space's are holes (GCH_TO_HOLE),
                                      not registered, not counted in pages_holes                      */
    const gch_type_info *types;
    const uint64_t *live_bitmap;   /* 1 bit per granule of from-space: every granule of a live small object */
    const uint8_t *from_class;     /* [from_pages] GCH_FROM_*                                 */
    const uint32_t *from_dest;     /* WHOLE/LARGE: to-page index; SPARSE: to-space granule index of its first live object */
    const uint32_t *from_aux;      /* LARGE: GCH_LARGE_AUX (reference window of this page, head flag);
                                      SPARSE: split_off, the page offset of the first live object that goes
                                      to to-page from_split[p] (GCH_PAGE_SIZE when all fit after from_dest) */
    const uint32_t *from_split;    /* SPARSE with a split: to-page index receiving objects from split_off on */
    const uint32_t *to_src;        /* WHOLE: from-page index; COMPACTED: from-space granule index of the first object */
    const uint8_t *to_kind;        /* [to_pages] GCH_TO_*                                     */
    uint8_t *to_state;             /* [to_pages] GCH_PAGE_*, zeroed by the caller             */
} gch_plan;

/* Counters of one compaction. All figures are measured by the native code that did the work. */
typedef struct gch_compaction_stats {
    uint64_t pages_installed;   /* to-space pages made present                                 */
    uint64_t pages_whole;       /* of those, whole from-space pages (references fixed in place) */
    uint64_t pages_compacted;   /* of those, pages packed from sparse pages in a buffer          */
    uint64_t pages_zero_copy;   /* whole pages installed by UFFDIO_MOVE: not a byte copied        */
    uint64_t pages_copied;      /* installed by UFFDIO_COPY (Copy backend, or after EBUSY)        */
    uint64_t pages_zero_filled; /* never-touched source pages installed with UFFDIO_ZEROPAGE      */
    uint64_t ebusy_fallbacks;   /* pages MOVE refused with EBUSY, then COPY + MADV_DONTNEED      */
    uint64_t eexist;            /* destination already present: counted as installed             */
    uint64_t eagain_retries;    /* partial moves/copies resumed                                   */
    uint64_t ioctls;            /* MOVE + COPY + ZEROPAGE + WAKE ioctls                           */
    uint64_t move_ioctls;
    uint64_t copy_ioctls;
    uint64_t wake_ioctls;
    uint64_t madvise_calls;
    uint64_t pages_released;    /* from-space pages given back to the kernel during the compaction */
    uint64_t faults_served;     /* missing faults read from the uffd and resolved                */
    uint64_t faults_on_pending; /* ... of which the page had not been built yet                  */
    uint64_t pages_fault_copied;/* pages installed by COPY because a mutator was waiting for them */
    uint64_t pages_moved;       /* installed by UFFDIO_MOVE of the page frame (whole or packed)   */
    uint64_t buffers_fresh;     /* compacted pages built in a worker's buffer ring               */
    uint64_t bytes_copied;      /* object bytes memcpy'd into compacted pages                    */
    uint64_t refs_fixed;        /* reference slots rewritten                                     */
    uint64_t wall_ns;           /* compaction start to last page installed                       */
    uint64_t cpu_ns;            /* CPU time of the native threads (sweepers and fault thread)     */
    uint64_t stall_count;
    uint64_t stall_max_ns;
    uint64_t build_ns;          /* time spent building pages (fixing references, packing), all workers */
    uint64_t move_ns;           /* time in UFFDIO_MOVE ioctls (with their EBUSY/ENOENT fallbacks)    */
    uint64_t copy_ns;           /* time in UFFDIO_COPY ioctls                                         */
    uint64_t fault_ns;          /* fault server: event read to page installed, summed over faults     */
    uint64_t release_ns;        /* time in MADV_DONTNEED giving from-space back                       */
    uint64_t populate_ns;       /* time refilling buffer rings (MADV_POPULATE_WRITE)                  */
    uint64_t runs_moved;        /* MOVE runs issued (pages_moved / runs_moved = mean run length)      */
    uint64_t faults_on_claimed; /* faults on a page another worker was building: it flushed early     */
    uint64_t workers;           /* sweeper threads that built pages                                   */
    uint64_t pages_continued;   /* installed by UFFDIO_CONTINUE: the page was built in place in the
                                   collector view of the to-space memfd; the install copied nothing */
    uint64_t continue_ioctls;
    uint64_t continue_ns;       /* time in UFFDIO_CONTINUE ioctls                                      */
    uint64_t pages_whole_copied;/* CONTINUE mode: whole pages memcpy'd from from-space into the
                                   collector view (4 KiB each), references fixed in the copy         */
    uint64_t faults_minor;      /* of faults_served, minor faults (page in the page cache, no PTE)   */
    /* Non-cooperative events read from the uffd (docs/design.md section 6, "Events"). */
    uint64_t events_fork;       /* UFFD_EVENT_FORK: a child was forked with to-space registered       */
    uint64_t events_remove;     /* UFFD_EVENT_REMOVE: MADV_DONTNEED/MADV_REMOVE of registered to-space */
    uint64_t events_unmap;      /* UFFD_EVENT_UNMAP: munmap (or mremap's unmap) of registered to-space */
    uint64_t events_remap;      /* UFFD_EVENT_REMAP: mremap of registered to-space                     */
    uint64_t events_harmless;   /* REMOVE events that hit only registered slack beyond the plan        */
    uint64_t fork_children;     /* forked children's uffds taken over and closed                       */
    uint64_t child_pages_poisoned; /* to-pages a child forked mid-compaction lacked: UFFDIO_POISON     */
    uint64_t eagain_event_waits;/* MOVE/COPY/ZEROPAGE answered EAGAIN without progress (an event
                                   pending or its thread not yet resumed): waited, then retried    */
    uint64_t pages_pmd_moved;   /* pages of huge blocks that arrived mapped by one PMD (2 MiB moved
                                   by one UFFDIO_MOVE of a transparent huge page; PAGEMAP_SCAN of
                                   the destination says so after the move)                        */
    uint64_t huge_blocks;       /* huge blocks installed as one run (aligned, whole, source mapped by a PMD) */
    uint64_t pages_holes;       /* alignment holes of the plan (GCH_TO_HOLE): counted, never installed */
    uint64_t moves_misreported; /* pages UFFDIO_MOVE moved although it answered EEXIST (a concurrent
                                   MOVE split the same transparent huge page source; Linux 6.18):
                                   found moved (source gone, destination present) and counted     */
    uint64_t pages_nursery_copied; /* whole pages from the from-space nursery (taken while marking:
                                   black), installed by UFFDIO_COPY so their frames stay there   */
    int32_t error;              /* 0, or the negative errno that failed the compaction          */
    int32_t error_op;           /* GCH_OP_* of the failing operation                            */
    uint64_t error_addr;        /* address involved in the failure                               */
} gch_compaction_stats;

/* Operation codes for gch_compaction_stats.error_op. */
enum {
    GCH_OP_NONE = 0,
    GCH_OP_MOVE = 1,
    GCH_OP_COPY = 2,
    GCH_OP_ZEROPAGE = 3,
    GCH_OP_WAKE = 4,
    GCH_OP_MADVISE = 5,
    GCH_OP_READ = 6,
    GCH_OP_FORWARD = 7,   /* a reference pointed at something that is not a live object */
    GCH_OP_HEADER = 8,    /* a corrupt object header                                     */
    GCH_OP_THREAD = 9,
    GCH_OP_ALLOC = 10,
    GCH_OP_PLAN = 11,     /* a live object's forwarding disagrees with the packed stream: plan bug */
    GCH_OP_CONTINUE = 12,
    GCH_OP_REMOVED = 13,  /* other code discarded planned to-space (UFFD_EVENT_REMOVE)          */
    GCH_OP_UNMAPPED = 14, /* other code unmapped registered to-space (UFFD_EVENT_UNMAP)          */
    GCH_OP_REMAPPED = 15, /* other code moved registered to-space away (UFFD_EVENT_REMAP)        */
    GCH_OP_POISON = 16    /* UFFDIO_POISON of a forked child's missing pages failed              */
};

/* UFFD_FEATURE_* bits the collector asks for when the kernel offers them. */
#define GCH_UFFD_FEATURE_EVENT_FORK (1ull << 1)
#define GCH_UFFD_FEATURE_EVENT_REMAP (1ull << 2)
#define GCH_UFFD_FEATURE_EVENT_REMOVE (1ull << 3)
#define GCH_UFFD_FEATURE_EVENT_UNMAP (1ull << 6)
#define GCH_UFFD_FEATURE_POISON (1ull << 14)
#define GCH_UFFD_FEATURE_MOVE (1ull << 16)

/* Install modes of the concurrent compactor.
 *   MOVE      pages are built in from-space (whole) or a buffer ring (packed) and moved in;
 *   COPY      the same builds, installed with UFFDIO_COPY;
 *   CONTINUE  to-space is a memfd mapped twice: pages are built in place in the unregistered
 *             collector view (whole pages copied there and fixed, packed pages packed there) and
 *             installed in the registered mutator view with UFFDIO_CONTINUE (MINOR mode). */
enum { GCH_INSTALL_MOVE = 1, GCH_INSTALL_COPY = 2, GCH_INSTALL_CONTINUE = 3 };

typedef struct gch_compactor_config {
    int32_t uffd;                   /* registered (MISSING mode) on [to_base, to_base + to_pages pages) */
    int32_t install_mode;           /* GCH_INSTALL_*                                                  */
    uint32_t batch_pages;           /* most pages per ioctl (>= 1)                                    */
    uint32_t workers;               /* sweeper threads building and installing pages (1..16); faults are
                                       served by the fault thread, which builds the page itself     */
    uint32_t fault_around_pages;    /* a fault on a pending page claims and builds the
                                       aligned window of this many pages around it and installs it
                                       as one run (<= 1: the faulted page alone)                   */
    uint32_t stall_sample_capacity; /* fault stall samples kept (percentiles are computed by C#)      */
    uint32_t dont_fork;             /* 1: MADV_DONTFORK the buffer ring                               */
    uint32_t sweep_delay_us;        /* experiments/tests: pause after each background page (faults are
                                       still served at once), to widen the window in which mutators
                                       touch pages that are not built yet                            */
    uint32_t check_forwarding;      /* 1: cross-check every packed object's position with the plan  */
    int32_t thread_nice;            /* nice value for the native threads (0: inherit); needs
                                       CAP_SYS_NICE to go below 0, silently kept otherwise       */
    uint32_t copy_faulted_pages;    /* MOVE mode: install a page a mutator is waiting for with COPY,
                                       which needs no TLB shootdown (a single-page MOVE does)       */
    uint32_t min_move_pages;        /* MOVE mode: runs shorter than this go in by COPY: the kernel
                                       flushes a range of at most 33 pages (x86
                                       tlb_single_page_flush_ceiling) one page at a time, which costs
                                       several microseconds per page under virtualization */
    uint32_t release_chunk_pages;   /* > 0: sources installed by COPY are not released per run; the
                                       sweep releases the finished prefix of from-space with one
                                       MADV_DONTNEED every this many to-space pages. 0: per run.    */
    uint32_t unit_pages;            /* CONTINUE: pages per install unit: 0 or 1 for 4 KiB pages; 512 for a
                                       hugetlbfs to-space (2 MiB pages: a unit is continued whole, by
                                       whichever worker builds its last page; needs batch_pages a
                                       multiple of it and release_chunk_pages 0)                    */
    uint64_t collector_view;        /* CONTINUE: address of to-space page 0 in the collector view (the
                                       same memfd pages as [to_base, ...), never registered); else 0 */
    uint32_t huge_blocks;           /* MOVE mode, spaces of transparent huge pages: an aligned block of
                                       512 to-pages whose sources are one aligned from-space block mapped
                                       by a PMD is claimed, built and moved as one run (one PMD move);
                                       a fault in it waits for the block. Needs batch_pages a multiple
                                       of 512 and fault_around_pages <= 512                            */
    uint32_t reserved1;
    uint32_t packed_pages_by_copy;  /* MOVE mode, 1: runs of packed pages (built in the worker's buffer
                                       ring) go in by COPY; whole pages still MOVE. Keeps the ring's
                                       frames: refilling a slot whose frame MOVE took costs a fresh
                                       page, ~7 us on a VM with shadow paging (section 6)          */
    uint32_t reserved2;
} gch_compactor_config;

typedef struct gch_compactor gch_compactor;

/* ---------------------------------------------------------------------------------------
 * userfaultfd
 * ------------------------------------------------------------------------------------- */

/* Ways to open a userfaultfd, also used as a bit mask of allowed ways. */
enum {
    GCH_UFFD_SYSCALL = 1,        /* userfaultfd(2), full mode (needs privilege when vm.unprivileged_userfaultfd=0) */
    GCH_UFFD_DEV = 2,            /* /dev/userfaultfd + USERFAULTFD_IOC_NEW                                          */
    GCH_UFFD_USER_MODE_ONLY = 4  /* userfaultfd(UFFD_USER_MODE_ONLY): kernel-mode faults get EFAULT                */
};

typedef struct gch_uffd_caps {
    int32_t open_method;      /* GCH_UFFD_* that worked, 0 if none                               */
    int32_t syscall_errno;    /* errno of each attempt, 0 when it worked or was not tried      */
    int32_t dev_errno;
    int32_t user_mode_errno;
    int32_t api_errno;        /* UFFDIO_API handshake                                          */
    int32_t register_errno;   /* UFFDIO_REGISTER of a scratch anonymous range                  */
    int32_t move_errno;       /* a real one-page UFFDIO_MOVE: 0 if it worked                   */
    int32_t page_size;
    uint64_t features;        /* features the kernel offers (UFFDIO_API with features = 0)     */
    uint64_t api_ioctls;      /* ioctls valid on the uffd itself                              */
    uint64_t range_ioctls;    /* ioctls valid on a MISSING-registered anonymous range          */
    uint64_t wp_range_ioctls; /* ioctls valid on a WP-registered anonymous range (0 if refused) */
    int32_t memfd_errno;      /* memfd_create + ftruncate + two MAP_SHARED views: 0 if it worked */
    int32_t continue_errno;   /* MISSING|MINOR registration of one view and a real one-page
                                 UFFDIO_CONTINUE of a page written through the other: 0 if it worked */
    uint64_t minor_range_ioctls; /* ioctls valid on that MINOR-registered shmem range         */
} gch_uffd_caps;

GCH_EXPORT int32_t gch_abi_version(void);

/* Probes what this kernel and process may do. Never fails: every result lands in caps. */
GCH_EXPORT int32_t gch_uffd_probe(int32_t allowed_methods, gch_uffd_caps *caps);

/* Opens a non-blocking, close-on-exec uffd with the first allowed method that works, then
 * performs the UFFDIO_API handshake asking for `features`. */
GCH_EXPORT int32_t gch_uffd_open(int32_t allowed_methods, uint64_t features, int32_t *fd_out,
                                 int32_t *method_out, uint64_t *features_out);
GCH_EXPORT int32_t gch_close(int32_t fd);
GCH_EXPORT int32_t gch_uffd_register(int32_t fd, uint64_t addr, uint64_t len, uint64_t mode,
                                     uint64_t *ioctls_out);
GCH_EXPORT int32_t gch_uffd_unregister(int32_t fd, uint64_t addr, uint64_t len);
/* MOVE/COPY resume after EAGAIN until done or a real error; *done is the byte count completed. */
GCH_EXPORT int32_t gch_uffd_move(int32_t fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode,
                                 uint64_t *done);
GCH_EXPORT int32_t gch_uffd_copy(int32_t fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode,
                                 uint64_t *done);
GCH_EXPORT int32_t gch_uffd_zeropage(int32_t fd, uint64_t dst, uint64_t len, uint64_t mode,
                                     uint64_t *done);
GCH_EXPORT int32_t gch_uffd_wake(int32_t fd, uint64_t addr, uint64_t len);
/* Reads pending page-fault events without blocking; returns how many addresses were stored. */
GCH_EXPORT int32_t gch_uffd_read_faults(int32_t fd, uint64_t *addresses, int32_t capacity);

/* ---------------------------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------------------------- */
enum { GCH_MEM_DONTFORK = 1, GCH_MEM_NOHUGEPAGE = 2, GCH_MEM_HUGETLB = 4, GCH_MEM_HUGEPAGE = 8 };

/* gch_mem_reserve flags: GCH_MEM_NOHUGEPAGE keeps the range in 4 KiB pages (MADV_NOHUGEPAGE);
 * GCH_MEM_HUGEPAGE aligns the range to 2 MiB and allows transparent huge pages (MADV_HUGEPAGE;
 * len should be a multiple of 2 MiB). A kernel without THP answers EINVAL to both: not an error. */

/* A memfd (MFD_CLOEXEC, ftruncate'd to len: holes until written) mapped twice MAP_SHARED: the
 * mutator view (what the heap hands out) and the collector view (where the Continue backend builds
 * pages). flags apply to both views. GCH_MEM_HUGETLB: a hugetlbfs memfd of 2 MiB pages (len a
 * multiple of 2 MiB), mapped without MAP_NORESERVE so that mmap reserves every huge page of the file
 * up front (-ENOMEM when the pool is too small) and no later first touch can die with SIGBUS. */

GCH_EXPORT int32_t gch_mem_reserve(uint64_t len, int32_t flags, uint64_t *addr_out);
GCH_EXPORT int32_t gch_mem_release(uint64_t addr, uint64_t len);
GCH_EXPORT int32_t gch_mem_reserve_shared(uint64_t len, int32_t flags, int32_t *fd_out, uint64_t *mutator_out,
                                          uint64_t *collector_out);
/* Unmaps both views and closes the memfd. */
GCH_EXPORT int32_t gch_mem_release_shared(int32_t fd, uint64_t mutator, uint64_t collector, uint64_t len);
GCH_EXPORT int32_t gch_mem_discard(uint64_t addr, uint64_t len);  /* MADV_DONTNEED */
/* MADV_REMOVE: punches [addr, addr+len) out of the shared file behind the mapping, so the pages
 * leave the page cache (and every view of them); MADV_DONTNEED would only drop this view's PTEs. */
GCH_EXPORT int32_t gch_mem_remove(uint64_t addr, uint64_t len);
GCH_EXPORT int32_t gch_mem_populate(uint64_t addr, uint64_t len); /* MADV_POPULATE_WRITE, or touch */
GCH_EXPORT int32_t gch_mem_set_dontfork(uint64_t addr, uint64_t len, int32_t dont_fork);
GCH_EXPORT int32_t gch_mem_resident_pages(uint64_t addr, uint64_t len, uint64_t *pages_out);
GCH_EXPORT int32_t gch_process_memory(uint64_t *rss_bytes, uint64_t *peak_rss_bytes);

/* Threads (threads.c): handing the CPU to a woken stopper. tid: a kernel thread id of this
 * process (gettid); 0 is the caller. Masks are GCH_CPU_MASK_BYTES (sizeof(cpu_set_t)). */
#define GCH_CPU_MASK_BYTES 128
GCH_EXPORT int32_t gch_thread_self_id(int32_t *tid_out);
/* Saves tid's affinity mask, then restricts it to the caller's current CPU. */
GCH_EXPORT int32_t gch_thread_pin_here(int32_t tid, uint8_t *saved_mask);
GCH_EXPORT int32_t gch_thread_set_affinity(int32_t tid, const uint8_t *mask);

/* ---------------------------------------------------------------------------------------
 * Allocation prefault: a native thread populates allocation pages ahead of the mutators
 * (native/src/prefault.c has its state machine and errno actions).
 * ------------------------------------------------------------------------------------- */
typedef struct gch_prefaulter gch_prefaulter;

enum { GCH_PREFAULT_POPULATE = 1, GCH_PREFAULT_TOUCH = 2 };

typedef struct gch_prefault_stats {
    uint64_t requests;  /* ranges queued                                             */
    uint64_t pages;     /* pages populated                                           */
    uint64_t busy_ns;   /* time the thread spent populating                          */
    uint64_t dropped;   /* requests refused because the queue was full               */
    int32_t last_error; /* errno that stopped prefaulting for good (0: none)         */
    int32_t method;     /* GCH_PREFAULT_POPULATE (MADV_POPULATE_WRITE) or _TOUCH     */
} gch_prefault_stats;

GCH_EXPORT int32_t gch_prefaulter_create(gch_prefaulter **out);
/* Queues [addr, addr+len) (page aligned); never blocks on the thread's work. -EAGAIN: queue full
 * (counted in dropped); -ECANCELED: prefaulting stopped after an error or destroy. */
GCH_EXPORT int32_t gch_prefaulter_request(gch_prefaulter *p, uint64_t addr, uint64_t len);
/* Waits until every queued range is populated and the thread is idle. */
GCH_EXPORT int32_t gch_prefaulter_drain(gch_prefaulter *p);
GCH_EXPORT int32_t gch_prefaulter_stats(gch_prefaulter *p, gch_prefault_stats *out);
/* Stops the thread (dropping queued ranges, finishing the one in progress) and frees it. */
GCH_EXPORT void gch_prefaulter_destroy(gch_prefaulter *p);

/* ---------------------------------------------------------------------------------------
 * Compaction
 * ------------------------------------------------------------------------------------- */

/* Rewrites each non-zero from-space address in slots[0..count) to its to-space address. */
GCH_EXPORT int32_t gch_forward_slots(const gch_plan *plan, uint64_t *slots, uint64_t count,
                                     uint64_t *bad_index);

/* Stop-the-world execution of a plan: builds every to-space page with plain memory copies.
 * The to-space range must not be registered with a uffd. */
GCH_EXPORT int32_t gch_compact_stw(const gch_plan *plan, int32_t check_forwarding, gch_compaction_stats *stats);

/* Creates the concurrent compactor: `workers` native sweeper threads that build and install
 * to-space in chunks, plus a native fault thread that reads the uffd and serves each missing
 * fault itself (builds the page and installs it). Creating threads is kept out of the flip pause: create before
 * it, then gch_compactor_begin. */
GCH_EXPORT int32_t gch_compactor_create(const gch_compactor_config *config, gch_compactor **out);
/* Hands the plan to the native threads and lets them go. The plan and everything it points to
 * must stay alive until gch_compactor_destroy. Faults read before this simply wait. */
GCH_EXPORT int32_t gch_compactor_begin(gch_compactor *c, const gch_plan *plan);
/* Tells the sweepers the world has resumed. Until then (or until 1 ms passes) they stay off the
 * CPU, so that the end of the flip pause is not preempted by them. Fault service never waits for
 * this call. */
GCH_EXPORT void gch_compactor_resumed(gch_compactor *c);
/* Waits until every page is installed (0), the timeout passes (-ETIMEDOUT), or the compaction
 * failed (its negative errno; details in the stats). timeout_ms < 0 waits forever. */
GCH_EXPORT int32_t gch_compactor_wait(gch_compactor *c, int32_t timeout_ms);
/* Snapshot of the counters; safe to call while the compactor runs. */
GCH_EXPORT int32_t gch_compactor_stats(gch_compactor *c, gch_compaction_stats *stats);
/* Copies up to capacity fault stall samples (nanoseconds, fault read to page installed). */
GCH_EXPORT int32_t gch_compactor_stall_samples(gch_compactor *c, uint64_t *ns, uint32_t capacity,
                                               uint32_t *count_out);
/* Called inside the flip pause before any root is forwarded: from here until every page is
 * installed, fork() (through glibc, which runs pthread_atfork handlers) waits in its prepare
 * handler for this compaction to finish, so a child never sees forwarded roots with missing
 * to-space pages. Waits (natively) while a fork is between its prepare and parent handlers. */
GCH_EXPORT void gch_compactor_arm(gch_compactor *c);
/* After to-space is unregistered: reads what is left on the uffd, stops the fault thread and
 * joins it, so the event counters are final. Waits for a compaction that began to finish. */
GCH_EXPORT void gch_compactor_quiesce(gch_compactor *c);
/* Stops the threads (waiting for a compaction that began to finish first) and frees the compactor. */
GCH_EXPORT void gch_compactor_destroy(gch_compactor *c);

/* The process-wide fork gate (native/src/fork_gate.c). */
typedef struct gch_fork_gate_stats {
    uint64_t forks;        /* fork() calls that went through the prepare handler            */
    uint64_t forks_waited; /* ... of which waited for a running compaction to finish        */
    uint64_t wait_ns;      /* total time those forks waited                                  */
    uint64_t running;      /* compactions armed right now                                    */
} gch_fork_gate_stats;

GCH_EXPORT int32_t gch_fork_gate_stats_get(gch_fork_gate_stats *out);

/* ---------------------------------------------------------------------------------------
 * Live snapshots (native/src/snapshot.c has the phases, the page state machine and the errno
 * actions): a native thread saves a space's pages into a staging area while mutators run;
 * a write to a page not saved yet is held (synchronous uffd-wp fault) until that page is saved.
 * ------------------------------------------------------------------------------------- */
typedef struct gch_snapshot gch_snapshot;

typedef struct gch_snapshot_config {
    uint64_t base;            /* address of page 0 of the space                                  */
    uint32_t capacity_pages;  /* pages of the space: the range registered in WP mode            */
    uint32_t window_pages;    /* the background save runs at most this many pages ahead of the
                                 writer (faulted pages are always saved at once)               */
    int32_t allowed_methods;  /* GCH_UFFD_* to open the uffd; 0: no uffd, freeze copies every
                                 page inside the pause                                           */
    uint32_t track;           /* 1: saved pages stay protected and later writes are recorded,
                                 for gch_snapshot_begin_increment (see snapshot.c)              */
    int32_t thread_nice;      /* nice value of the saver thread (0: inherit; below 0 needs
                                 CAP_SYS_NICE, silently kept otherwise): it serves faults       */
    uint32_t pause_copy_pages; /* the freeze copies up to this many pages written since the last
                                 round into a pool of slots touched at creation, and re-protects
                                 only the rest                                                  */
} gch_snapshot_config;

typedef struct gch_snapshot_stats {
    uint64_t pages_protected;          /* pre-copy slices                                         */
    uint64_t protect_ioctls;           /* UFFDIO_WRITEPROTECT (protect) calls, all phases           */
    uint64_t protect_ns;               /* time in them                                              */
    uint64_t unprotect_ioctls;
    uint64_t unprotect_ns;
    uint64_t precopy_faults;           /* writes during pre-copy: page unprotected, re-protected later */
    uint64_t reprotect_rounds;
    uint64_t pages_reprotected;        /* by pre-copy rounds, before the pause                      */
    uint64_t pause_pages_reprotected;  /* dirty pages re-protected inside the pause                 */
    uint64_t pause_pages_protected;    /* pages allocated since the last slice, protected in the pause */
    uint64_t freeze_ns;                /* gch_snapshot_freeze (inside the pause)                   */
    uint64_t pages_saved_background;
    uint64_t pages_saved_by_fault;     /* a writer was waiting for them                             */
    uint64_t pages_copied_in_pause;    /* without write-protect: every page                          */
    uint64_t write_faults;             /* uffd-wp faults read, all phases                           */
    uint64_t stale_faults;             /* faults on pages already unprotected (woken again)         */
    uint64_t eagain_retries;           /* UFFDIO_WRITEPROTECT answered EAGAIN (mapping changing)    */
    uint64_t copy_ns;                  /* copying pages into staging                                */
    uint64_t tracked_writes;           /* tracking: first writes to saved or kept pages since the pause */
    uint64_t pages_written_since;      /* increments: pages written since the previous image's pause  */
    uint32_t frozen_pages;             /* pages below the high-water mark at the pause              */
    uint32_t member_pages;             /* of those, pages in the image (all, or the increment's)   */
    int32_t error;                     /* 0, or the negative errno that failed the snapshot          */
    int32_t error_op;                  /* GCH_SNAP_OP_*                                             */
    uint64_t error_addr;
    uint64_t pause_pages_copied;       /* written since the last round, copied inside the pause      */
    uint64_t pause_copy_ns;            /* time in those copies                                       */
    uint64_t refaults;                 /* pre-copy: writes to a listed page that a round protected
                                          again across a gap (unprotected again, listed once)      */
    uint64_t pause_new_pages_copied;   /* allocated since the last round, copied inside the pause
                                          (pause_copy_ns includes them)                             */
} gch_snapshot_stats;

enum { GCH_SNAP_OP_NONE = 0, GCH_SNAP_OP_PROTECT = 1, GCH_SNAP_OP_UNPROTECT = 2, GCH_SNAP_OP_READ = 3 };

/* Opens the WP uffd, registers [base, base + capacity) and starts the thread (with methods). */
GCH_EXPORT int32_t gch_snapshot_create(const gch_snapshot_config *config, gch_snapshot **out);
/* Pre-copy, mutators running: protects [first, first + count); slices must follow each other. */
GCH_EXPORT int32_t gch_snapshot_protect(gch_snapshot *s, uint32_t first, uint32_t count);
/* Pre-copy round, mutators running, in two steps: take the list of pages written since they were
 * protected (count_out: how many), then re-protect them. Faults are served between and during
 * the two (the list is taken under the saver's lock; the ioctls run without it). */
GCH_EXPORT int32_t gch_snapshot_round_take(gch_snapshot *s, uint32_t *count_out);
/* left_out: the pages written since the list was taken, i.e. what the pause would face if it
 * began now (the managed side's convergence test). */
GCH_EXPORT int32_t gch_snapshot_round_protect(gch_snapshot *s, uint32_t *left_out);
/* Inside the pause: the snapshot is [0, pages) as it is now (see snapshot.c). */
GCH_EXPORT int32_t gch_snapshot_freeze(gch_snapshot *s, uint32_t pages);
/* Tracking (config.track): once every page of the image is written out, later writes keep being
 * recorded (each first write per page is one fault) until the next increment or destroy. */
GCH_EXPORT int32_t gch_snapshot_track(gch_snapshot *s);
/* Starts the next image as an increment: its members are the pages written since the previous
 * pause (and, at the freeze, the pages allocated since); the rest stays out of it. */
GCH_EXPORT int32_t gch_snapshot_begin_increment(gch_snapshot *s);
/* After the pause: lets the background save run (faults are served before this too). */
GCH_EXPORT void gch_snapshot_resumed(gch_snapshot *s);
/* Waits until page is staged (0, *addr_out = its saved copy, valid until gch_snapshot_consumed
 * passes it), 1 when the page is not in the image (an increment), -ETIMEDOUT after timeout_ms,
 * or the snapshot's errno. */
GCH_EXPORT int32_t gch_snapshot_wait(gch_snapshot *s, uint32_t page, int32_t timeout_ms, uint64_t *addr_out);
/* The writer has taken pages [0, upto): their staging is released and the background goes on. */
GCH_EXPORT int32_t gch_snapshot_consumed(gch_snapshot *s, uint32_t upto);
GCH_EXPORT int32_t gch_snapshot_get_stats(gch_snapshot *s, gch_snapshot_stats *out);
/* Stops the thread and closes the uffd (clearing every uffd-wp bit left, waking every waiter). */
GCH_EXPORT void gch_snapshot_destroy(gch_snapshot *s);

/* ---------------------------------------------------------------------------------------
 * Support for tests and experiments that force rare kernel paths for real
 * ------------------------------------------------------------------------------------- */

/* Forks a child that only waits: it shares every private page of the parent copy-on-write,
 * which makes UFFDIO_MOVE of those pages answer EBUSY. */
GCH_EXPORT int32_t gch_fork_holder_start(int32_t *pid_out, int32_t *release_fd_out);
GCH_EXPORT int32_t gch_fork_holder_stop(int32_t pid, int32_t release_fd);

/* Runs gch_uffd_probe in a forked child that first drops to uid/gid (e.g. 65534), so the
 * unprivileged paths are exercised by the real kernel. */
GCH_EXPORT int32_t gch_uffd_probe_as_user(uint32_t uid, uint32_t gid, int32_t allowed_methods,
                                          gch_uffd_caps *caps);

/* What the kernel answers to UFFDIO_CONTINUE in each case the compactor's errno table names, found
 * on a scratch two-page memfd mapped twice (one view registered MISSING|MINOR). Negative errnos. */
typedef struct gch_continue_answers {
    int32_t hole;        /* CONTINUE of a page never written in the collector view (expected -EFAULT) */
    int32_t written;     /* CONTINUE of a page written in the collector view (0)                      */
    int32_t again;       /* the same page once more: already mapped (-EEXIST)                        */
    int32_t run_first;   /* one raw ioctl over [a written page, a hole]: partial progress (-EAGAIN)  */
    int64_t run_mapped;  /* its `mapped` field (bytes done, or -errno)                               */
    int32_t run_rest;    /* gch_uffd_fill over that run: the errno that stopped it                 */
    int32_t value_ok;    /* 1: the mutator view read what the collector view wrote                  */
    uint64_t run_done;   /* bytes gch_uffd_fill reported done                                        */
} gch_continue_answers;

GCH_EXPORT int32_t gch_continue_answers_probe(gch_continue_answers *out);

/* Result of walking the object graph natively (tests: a forked child reads every object). */
typedef struct gch_walk_result {
    int32_t status;      /* 0 walked; -errno of the walk (bad header: -EILSEQ, too many objects: -E2BIG) */
    int32_t exit_code;   /* child: exit status, or -1 when killed by a signal                   */
    int32_t signal;      /* child: the signal that killed it (e.g. SIGBUS on a poisoned page)   */
    int32_t reserved;
    uint64_t objects;    /* objects reached                                                     */
    uint64_t checksum;   /* breadth-first numbering; hashes type ids, lengths, data, referenced numbers */
} gch_walk_result;

/* Walks the graph reachable from the addresses stored in *root_slots[i] (handle slots) and
 * checksums it, in this process. The root addresses are read once, before any fork: the handle
 * table is MADV_DONTFORK, a child does not inherit it. */
GCH_EXPORT int32_t gch_test_walk(const gch_type_info *types, uint32_t type_count, const uint64_t *const *root_slots,
                                 uint32_t root_count, uint64_t max_objects, gch_walk_result *out);
/* Forks (fork(), or _Fork() when bypass_atfork: no pthread_atfork handlers, as a raw clone), and
 * walks in the child, which reports through a pipe and _exits: the .NET runtime never runs there.
 * Waits at most timeout_ms for the child (then kills it and returns -ETIMEDOUT). */
GCH_EXPORT int32_t gch_test_fork_walk(const gch_type_info *types, uint32_t type_count,
                                      const uint64_t *const *root_slots, uint32_t root_count, uint64_t max_objects,
                                      int32_t bypass_atfork, int32_t timeout_ms, gch_walk_result *out);

#ifdef __cplusplus
}
#endif

#endif /* GCHEAP_NATIVE_H */
