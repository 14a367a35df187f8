/* The same operations as benches/runtime.rs, through glibc's atexit, for
 * scripts/compare.sh. Prints "RESULT key value" lines. glibc has no
 * unregister; `on_exit` (a GNU extension) is its registration with an
 * argument, the counterpart of a capturing closure. The 4,500,000
 * handlers registered here run at exit, after the figures are printed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void noop(void) {}
static void noop_arg(int status, void *arg) { (void)status; (void)arg; }

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { PER_THREAD = 100000 };
static pthread_barrier_t start;

static void *register_many(void *unused) {
    (void)unused;
    pthread_barrier_wait(&start);
    for (int i = 0; i < PER_THREAD; i++) atexit(noop);
    return NULL;
}

/* Registrations per second from `threads` threads at once (median of 5). */
static double throughput(int threads) {
    double rates[5];
    for (int r = 0; r < 5; r++) {
        pthread_t workers[8];
        pthread_barrier_init(&start, NULL, threads + 1);
        for (int i = 0; i < threads; i++) pthread_create(&workers[i], NULL, register_many, NULL);
        pthread_barrier_wait(&start);
        double t0 = now_ns();
        for (int i = 0; i < threads; i++) pthread_join(workers[i], NULL);
        rates[r] = threads * (double)PER_THREAD / (now_ns() - t0) * 1e3;
        pthread_barrier_destroy(&start);
    }
    qsort(rates, 5, sizeof rates[0], cmp);
    return rates[2];
}

int main(void) {
    enum { N = 100000, ROUNDS = 15 };
    double times[ROUNDS];
    /* Registration: handlers cannot be removed, so each round adds N more;
     * they all run at exit, which is the run measurement below. */
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (int i = 0; i < N; i++) atexit(noop);
        times[r] = (now_ns() - t0) / N;
    }
    qsort(times, ROUNDS, sizeof times[0], cmp);
    printf("RESULT register_fn %f\n", times[ROUNDS / 2]);
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < N; i++) on_exit(noop_arg, (void *)i);
        times[r] = (now_ns() - t0) / N;
    }
    qsort(times, ROUNDS, sizeof times[0], cmp);
    printf("RESULT register_closure %f\n", times[ROUNDS / 2]);
    printf("RESULT threads_1 %f\n", throughput(1));
    printf("RESULT threads_2 %f\n", throughput(2));
    fflush(stdout);
    /* The run is measured by glibc_run.c, with exactly 1,000,000 pending. */
    return 0;
}
