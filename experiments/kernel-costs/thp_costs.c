#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include "../../native/src/uffd_abi.h"
#define PMD (2UL<<20)
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
static long anon_huge_kb(void){FILE*f=fopen("/proc/self/smaps_rollup","r");char l[256];long v=-1;while(fgets(l,sizeof l,f)){if(!strncmp(l,"AnonHugePages:",14)){v=atol(l+14);}}fclose(f);return v;}
static char* amap(size_t len){char*p=mmap(0,len+PMD,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE,-1,0);if(p==MAP_FAILED){perror("mmap");exit(1);}uintptr_t a=((uintptr_t)p+PMD-1)&~(PMD-1);return (char*)a;}
static volatile int stop;
static void* spin(void*x){(void)x;volatile unsigned long n=0;while(!stop)n++;return 0;}
int main(int argc,char**argv){
  size_t mb=argc>1?atol(argv[1]):256; size_t len=mb<<20; int second=argc>2?atoi(argv[2]):1;
  pthread_t th; if(second) pthread_create(&th,0,spin,0);
  for(int huge=0;huge<2;huge++){
    char*s=amap(len); madvise(s,len,huge?MADV_HUGEPAGE:MADV_NOHUGEPAGE);
    double t0=now(); for(size_t o=0;o<len;o+=4096) s[o]=1; double t1=now();
    printf("%s first touch: %.1f ns per 4 KiB page, AnonHugePages %ld kB\n",huge?"THP":"4K ",(t1-t0)/(len/4096),anon_huge_kb());
    t0=now(); for(size_t o=0;o<len;o+=64) s[o]++; t1=now();
    printf("%s touch every line (warm): %.1f ns per 4 KiB page\n",huge?"THP":"4K ",(t1-t0)/(len/4096));
    /* uffd move */
    int uffd=syscall(SYS_userfaultfd,O_CLOEXEC|O_NONBLOCK); struct uffdio_api api={.api=UFFD_API,.features=UFFD_FEATURE_MOVE};
    if(ioctl(uffd,UFFDIO_API,&api)){perror("api");return 1;}
    char*d=amap(len); madvise(d,len,huge?MADV_HUGEPAGE:MADV_NOHUGEPAGE);
    struct uffdio_register r={.range={(uintptr_t)d,len},.mode=UFFDIO_REGISTER_MODE_MISSING};
    if(ioctl(uffd,UFFDIO_REGISTER,&r)){perror("reg");return 1;}
    size_t chunk = huge? PMD : 256*4096;
    t0=now(); long moved=0;
    for(size_t o=0;o<len;o+=chunk){struct gch_uffdio_move m={.dst=(uintptr_t)d+o,.src=(uintptr_t)s+o,.len=chunk,.mode=0};
      if(ioctl(uffd,GCH_UFFDIO_MOVE,&m)){printf("move err %s at %zu moved %lld\n",strerror(errno),o,(long long)m.move);break;} moved+=m.move;}
    t1=now();
    printf("%s MOVE by %zu KiB: %.1f ns per 4 KiB page (moved %ld MiB), dst AnonHugePages %ld kB\n",huge?"THP":"4K ",chunk>>10,(t1-t0)/(len/4096),moved>>20,anon_huge_kb());
    /* fix-up-like pass over moved dst */
    t0=now(); for(size_t o=0;o<len;o+=64) d[o]++; t1=now();
    printf("%s dst touch every line: %.1f ns per page\n",huge?"THP":"4K ",(t1-t0)/(len/4096));
    /* partial DONTNEED cost: one 4K page in each PMD */
    t0=now(); for(size_t o=0;o<len;o+=PMD) madvise(d+o,4096,MADV_DONTNEED); t1=now();
    printf("%s DONTNEED of one 4K page per 2 MiB: %.1f us per call, AnonHugePages after %ld kB\n",huge?"THP":"4K ",(t1-t0)/1000/(len/PMD),anon_huge_kb());
    t0=now(); madvise(d,len,MADV_DONTNEED); t1=now(); printf("%s DONTNEED all: %.1f ns/page\n",huge?"THP":"4K ",(t1-t0)/(len/4096));
    close(uffd);
  }
  /* MADV_COLLAPSE of 4K-populated memory */
  char*c=amap(len); madvise(c,len,MADV_NOHUGEPAGE); for(size_t o=0;o<len;o+=4096) c[o]=1; madvise(c,len,MADV_HUGEPAGE);
  double t0=now(); int rc=madvise(c,len,25/*MADV_COLLAPSE*/); double t1=now();
  printf("MADV_COLLAPSE rc %d (%s): %.1f ns per 4 KiB page, AnonHugePages %ld kB\n",rc,rc?strerror(errno):"ok",(t1-t0)/(len/4096),anon_huge_kb());
  t0=now(); madvise(c,len,MADV_DONTNEED); t1=now(); printf("THP DONTNEED all: %.1f ns/page\n",(t1-t0)/(len/4096));
  char*p=amap(len); madvise(p,len,MADV_HUGEPAGE); t0=now(); rc=madvise(p,len,23/*POPULATE_WRITE*/); t1=now();
  printf("THP MADV_POPULATE_WRITE: %.1f ns/page, AnonHugePages %ld kB\n",(t1-t0)/(len/4096),anon_huge_kb());
  t0=now(); for(size_t o=0;o<len;o+=4096) p[o]=2; t1=now(); printf("THP touch after populate: %.1f ns/page\n",(t1-t0)/(len/4096));
  stop=1; if(second) pthread_join(th,0); return 0;}
