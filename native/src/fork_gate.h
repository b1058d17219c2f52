/*
 * fork_gate.h - fork() and a running compaction exclude each other (fork_gate.c).
 */
#ifndef GCH_FORK_GATE_H
#define GCH_FORK_GATE_H

/* Installs the pthread_atfork handlers (once per process). */
void gch_fork_gate_init(void);
/* A compaction is about to forward roots: waits for a fork in progress, then counts it running. */
void gch_fork_gate_enter(void);
/* The compaction finished (or was called off): forks waiting for it proceed. */
void gch_fork_gate_leave(void);

#endif
