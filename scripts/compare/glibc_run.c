/* glibc's exit-time run of 1,000,000 no-op atexit handlers, per handler:
 * the first registered handler runs last and reports the time since exit
 * began. Run several times by scripts/compare.sh; it takes the median.
 *
 * With the argument "warm", stdout is used once after the registrations, so
 * its buffer is allocated above glibc's blocks of handlers; then freeing
 * those blocks at exit does not trim the heap (give memory back to the
 * kernel) each time, and glibc runs at its best. compare.sh compares
 * against the faster of the two. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define HANDLERS 1000000
static double exit_started;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void noop(void) {}

static void last_handler(void) {
    printf("%f\n", (now_ns() - exit_started) / HANDLERS);
    fflush(stdout);
}

int main(int argc, char **argv) {
    atexit(last_handler);
    for (int i = 0; i < HANDLERS; i++) atexit(noop);
    if (argc > 1) printf("# stdout used after the registrations\n");
    exit_started = now_ns();
    exit(0);
}
