#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
#include <sys/mman.h>
#define PMD (2UL<<20)
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
int main(int c,char**v){size_t len=(size_t)atol(v[1])<<20; int huge=atoi(v[2]);
 char*p=mmap(0,len+PMD,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0); p=(char*)(((uintptr_t)p+PMD-1)&~(PMD-1));
 madvise(p,len,huge?MADV_HUGEPAGE:MADV_NOHUGEPAGE);
 for(int r=0;r<4;r++){double t0=now(); if(r&1) madvise(p,len,23); double t1=now(); for(size_t o=0;o<len;o+=4096)p[o]=1; double t2=now();
  printf("%s round %d: %s %.0f ns/page, touch %.0f ns/page\n",huge?"THP":"4K",r,(r&1)?"populate":"-",(t1-t0)/(len/4096),(t2-t1)/(len/4096)); madvise(p,len,MADV_DONTNEED);}
}
