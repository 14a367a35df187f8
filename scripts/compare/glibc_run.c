/* glibc's exit-time run of 1,000,000 no-op atexit handlers, per handler:
 * the first registered handler runs last and reports the time since exit
 * began. Run several times by scripts/compare.sh; it takes the median. */
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

int main(void) {
    atexit(last_handler);
    for (int i = 0; i < HANDLERS; i++) atexit(noop);
    exit_started = now_ns();
    exit(0);
}
