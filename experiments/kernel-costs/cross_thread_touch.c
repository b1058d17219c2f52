#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
/* Does a page another thread touched, or zeroed in place, cost this thread a fault on its first
 * access? (The nursery depends on it: docs/design.md section 9, "The nursery".)
 *   gcc -O2 -pthread -o cross_thread_touch cross_thread_touch.c && ./cross_thread_touch
 * Main thread on CPU 0, the other on CPU 1; 16,384 pages (64 MiB), three rounds. */
#define PAGES 16384
static char *buf;
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static void pin(int c){cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);pthread_setaffinity_np(pthread_self(),sizeof s,&s);}
static double touch(){double t=now();for(long i=0;i<PAGES;i++)buf[i*4096]+=1;return (now()-t)/PAGES;}
static double zero(){double t=now();memset(buf,0,(size_t)PAGES*4096);return (now()-t)/PAGES;}
struct job{int op;double r;};
static void* th(void*a){struct job*j=a;pin(1);j->r=j->op?zero():touch();return 0;}
static double other(int op){pthread_t t;struct job j={op,0};pthread_create(&t,0,th,&j);pthread_join(t,0);return j.r;}
int main(){pin(0);
 for(int round=0;round<3;round++){
 buf=mmap(0,(size_t)PAGES*4096,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
 madvise(buf,(size_t)PAGES*4096,MADV_NOHUGEPAGE);
 printf("other thread first touch: %.2f us/page\n",other(0));
 printf("main touch after other's touch: %.3f us/page\n",touch());
 printf("other thread memset zero: %.3f us/page\n",other(1));
 printf("main touch after other's memset: %.3f us/page\n",touch());
 madvise(buf,(size_t)PAGES*4096,MADV_DONTNEED);
 printf("main touch after DONTNEED: %.2f us/page\n",touch());
 munmap(buf,(size_t)PAGES*4096);}
}
