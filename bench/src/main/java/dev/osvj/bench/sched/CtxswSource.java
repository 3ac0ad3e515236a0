package dev.osvj.bench.sched;

/** The C source of the Linux baseline, compiled with gcc into the bench work dir at run time. */
final class CtxswSource {
    static final String C = """
/*
 * Linux baseline of the sched suite (after OSv's tests/misc-ctxsw.cc): two threads ping-pong through
 * a pthread mutex + condvar. "colocated" pins both to the first allowed CPU, "apart" pins them to the
 * first two. Prints the best of REPEATS runs in nanoseconds per switch (a round trip is two switches).
 * Usage: ctxsw colocated|apart ROUNDS REPEATS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;
static long rounds;
static int cpus[2];

static void *run(void *arg)
{
    int me = (int)(long)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[me], &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    for (long i = 0; i < rounds; i++) {
        pthread_mutex_lock(&m);
        while (turn != me)
            pthread_cond_wait(&cv, &m);
        turn = 1 - me;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ctxsw colocated|apart ROUNDS REPEATS\\n");
        return 2;
    }
    int apart = strcmp(argv[1], "apart") == 0;
    rounds = atol(argv[2]);
    int repeats = atoi(argv[3]);
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof allowed, &allowed);
    int found = 0;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
        if (CPU_ISSET(c, &allowed))
            cpus[found++] = c;
    if (!apart || found < 2)
        cpus[1] = cpus[0];
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        struct timespec a, b;
        pthread_t t0, t1;
        turn = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pthread_create(&t0, NULL, run, (void *)0L);
        pthread_create(&t1, NULL, run, (void *)1L);
        pthread_join(t0, NULL);
        pthread_join(t1, NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (2.0 * rounds);
        if (ns < best)
            best = ns;
    }
    printf("%.1f\\n", best);
    return 0;
}
""";

    private CtxswSource() {
    }
}
