/*
 * populate_touch.c - what a fresh allocation page costs the thread that first writes it, with
 * and without MADV_POPULATE_WRITE beforehand (what GcHeap's allocation prefault thread does).
 *
 *   cc -O2 experiments/kernel-costs/populate_touch.c -o /tmp/populate_touch && /tmp/populate_touch
 *
 * 16,384 pages (64 MiB) of private anonymous memory, MADV_NOHUGEPAGE as GcHeap's spaces, three
 * rounds: first touch (fault, zero, map), a second touch (already mapped), MADV_POPULATE_WRITE of
 * the whole range after MADV_DONTNEED, then the first touch of the populated pages. On a guest
 * with shadow paging the last is not free: the hypervisor fills its shadow entry on the first
 * access from the guest, populated or not.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <stdint.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
int main(){
  size_t n=16384, len=n*4096;
  for(int r=0;r<3;r++){
  char*p=mmap(0,len,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE,-1,0);
  madvise(p,len,MADV_NOHUGEPAGE);
  double t0=now(); for(size_t i=0;i<n;i++) p[i*4096]=1; double t1=now();
  printf("first touch: %.2f us/page\n",(t1-t0)/n/1000);
  t0=now(); for(size_t i=0;i<n;i++) p[i*4096+64]=2; t1=now();
  printf("second touch: %.3f us/page\n",(t1-t0)/n/1000);
  madvise(p,len,MADV_DONTNEED);
  t0=now(); madvise(p,len,MADV_POPULATE_WRITE); t1=now();
  printf("populate: %.2f us/page\n",(t1-t0)/n/1000);
  t0=now(); for(size_t i=0;i<n;i++) p[i*4096]=1; t1=now();
  printf("touch after populate: %.2f us/page\n",(t1-t0)/n/1000);
  t0=now(); for(size_t i=0;i<n;i++) p[i*4096+128]=1; t1=now();
  printf("touch again: %.3f us/page\n",(t1-t0)/n/1000);
  munmap(p,len);}
}
