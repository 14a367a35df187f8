/* The same operations as benches/runtime.rs, through glibc's atexit, for
 * scripts/compare.sh. Prints "RESULT key value" lines. glibc has no
 * unregister; `on_exit` (a GNU extension) is its registration with an
 * argument, the counterpart of a capturing closure. The 3,000,000
 * handlers registered here run at exit, after the figures are printed. */
#define _GNU_SOURCE
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
    fflush(stdout);
    /* The run is measured by glibc_run.c, with exactly 1,000,000 pending. */
    return 0;
}
