/* Linux baselines for bin/osvj bench mmu (same work as the osvj side). Prints one number.
 *   faults PAGES ROUNDS : mmap PAGES 4 KiB pages (MADV_NOHUGEPAGE), write one byte per page, munmap; faults/s
 *   mmap ITER           : mmap 4 KiB, write one byte, munmap; ns per iteration
 *   malloc OPS SEED     : random small-object malloc/free (8..1024 B) over 1024 slots; ops/s */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (!strcmp(argv[1], "faults")) {
        long pages = atol(argv[2]), rounds = argc > 3 ? atol(argv[3]) : 1;
        double best = 0;
        for (long r = 0; r < rounds; r++) {
            char *p = mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return 1;
            madvise(p, pages * 4096, MADV_NOHUGEPAGE);
            double t0 = now();
            for (long i = 0; i < pages; i++) p[i * 4096] = (char)i;
            double rate = pages / (now() - t0);
            if (rate > best) best = rate;
            munmap(p, pages * 4096);
        }
        printf("%.1f\n", best);
    } else if (!strcmp(argv[1], "mmap")) {
        long iter = atol(argv[2]);
        double t0 = now();
        for (long i = 0; i < iter; i++) {
            volatile char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return 1;
            p[0] = 1;
            munmap((void *)p, 4096);
        }
        printf("%.1f\n", (now() - t0) * 1e9 / iter);
    } else if (!strcmp(argv[1], "malloc")) {
        long ops = atol(argv[2]);
        unsigned long x = argc > 3 ? atol(argv[3]) : 42;
        void *slot[1024] = {0};
        double t0 = now();
        for (long i = 0; i < ops; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            int s = x & 1023;
            if (slot[s]) { free(slot[s]); slot[s] = 0; }
            else { slot[s] = malloc(8 + ((x >> 10) & 1015)); *(char *)slot[s] = 1; }
        }
        double t = now() - t0;
        for (int s = 0; s < 1024; s++) free(slot[s]);
        printf("%.1f\n", ops / t);
    } else {
        return 2;
    }
    return 0;
}
