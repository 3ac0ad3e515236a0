/* Linux baselines for bin/osvj bench mmu (same work as the osvj side). Prints one number.
 *   faults PAGES ROUNDS : mmap PAGES 4 KiB pages (MADV_NOHUGEPAGE), write one byte per page, munmap; faults/s
 *   mmap ITER [ROUNDS]  : mmap 4 KiB, write one byte, munmap; ns per iteration, best round
 *   malloc OPS SEED [ROUNDS] : random small-object malloc/free (8..1024 B) over 1024 slots, one byte
 *                         written into each new block; ops/s, best round
 * Every mode reports the best of its rounds, as the Java side does, so that both sides are measured
 * the same way on a shared machine. */
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
        long iter = atol(argv[2]), rounds = argc > 3 ? atol(argv[3]) : 1;
        double best = 1e30;
        for (long r = 0; r < rounds; r++) {
            double t0 = now();
            for (long i = 0; i < iter; i++) {
                volatile char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) return 1;
                p[0] = 1;
                munmap((void *)p, 4096);
            }
            double ns = (now() - t0) * 1e9 / iter;
            if (ns < best) best = ns;
        }
        printf("%.1f\n", best);
    } else if (!strcmp(argv[1], "malloc")) {
        long ops = atol(argv[2]), rounds = argc > 4 ? atol(argv[4]) : 1;
        double best = 0;
        for (long r = 0; r < rounds; r++) {
            unsigned long x = argc > 3 ? atol(argv[3]) : 42;
            void *slot[1024] = {0};
            double t0 = now();
            for (long i = 0; i < ops; i++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                int s = x & 1023;
                if (slot[s]) { free(slot[s]); slot[s] = 0; }
                else { slot[s] = malloc(8 + ((x >> 10) & 1015)); *(volatile char *)slot[s] = 1; }
            }
            double rate = ops / (now() - t0);
            for (int s = 0; s < 1024; s++) free(slot[s]);
            if (rate > best) best = rate;
        }
        printf("%.1f\n", best);
    } else {
        return 2;
    }
    return 0;
}
