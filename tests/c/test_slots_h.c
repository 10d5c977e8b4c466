/* src_c/_slots.h under ThreadSanitizer: many threads read the fork generation while
 * others bump it (as atfork hooks would), and read the monotonic clock. TSan reports any
 * data race; the counts and the orderings are checked here. Built and run by
 * tests/test_slots_h.py. */
#include "_slots.h"

#include <pthread.h>
#include <stdio.h>

#define READERS 16
#define BUMPERS 4
#define ROUNDS 100000

static int failures = 0;

static void *reader(void *unused)
{
    unsigned long last = 0;
    double then = rp_monotonic();
    (void)unused;
    for (int i = 0; i < ROUNDS; i++) {
        unsigned long now = rp_fork_generation();
        double clock = rp_monotonic();
        if (now < last || clock < then)
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
        last = now;
        then = clock;
    }
    return NULL;
}

static void *bumper(void *unused)
{
    (void)unused;
    for (int i = 0; i < ROUNDS; i++)
        rp_bump_fork_generation();
    return NULL;
}

int main(void)
{
    pthread_t threads[READERS + BUMPERS];
    for (int i = 0; i < READERS + BUMPERS; i++)
        pthread_create(&threads[i], NULL, i < READERS ? reader : bumper, NULL);
    for (int i = 0; i < READERS + BUMPERS; i++)
        pthread_join(threads[i], NULL);
    if (rp_fork_generation() != (unsigned long)BUMPERS * ROUNDS || failures) {
        printf("FAIL generation=%lu failures=%d\n", rp_fork_generation(), failures);
        return 1;
    }
    printf("ok generation=%lu\n", rp_fork_generation());
    return 0;
}
