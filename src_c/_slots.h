/* Helpers for _slots_c.pyx that Cython cannot express portably: a monotonic clock read
 * without calling into Python, and a fork generation bumped in the child by pthread_atfork
 * (so a checkout notices a fork by comparing two integers, with no getpid() syscall). */
#ifndef REDISPOOL_SLOTS_H
#define REDISPOOL_SLOTS_H

#ifdef _WIN32
#include <windows.h>
static double rp_monotonic(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (double)now.QuadPart / (double)freq.QuadPart;
}
static volatile unsigned long rp_fork_generation = 0; /* no fork on Windows */
static int rp_install_fork_hook(void) { return 0; }
#else
#include <pthread.h>
#include <time.h>
static double rp_monotonic(void)
{
    struct timespec ts;
#ifdef __APPLE__
    clock_gettime(CLOCK_UPTIME_RAW, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
/* Written only in the child right after fork(), while it has a single thread. */
static volatile unsigned long rp_fork_generation = 0;
static void rp_after_fork_child(void) { rp_fork_generation++; }
static int rp_install_fork_hook(void)
{
    return pthread_atfork(NULL, NULL, rp_after_fork_child);
}
#endif

#endif
