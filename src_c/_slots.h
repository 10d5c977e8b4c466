/* Helpers for _slots_c.pyx that Cython cannot express portably: a monotonic clock read
 * without calling into Python, and a fork generation bumped in the child by pthread_atfork
 * (so a checkout notices a fork by comparing two integers, with no getpid() syscall).
 * tests/c/test_slots_h.c exercises the counter from many threads under ThreadSanitizer. */
#ifndef REDISPOOL_SLOTS_H
#define REDISPOOL_SLOTS_H

#ifdef _WIN32
#include <winsock2.h> /* before windows.h */
#else
#include <errno.h>
#include <sys/socket.h>
#endif

/* The fork generation: bumped in the child by an atfork hook, read by every checkout
 * from any thread (free-threaded builds included), so it is an atomic counter with
 * relaxed ordering: a reader needs the value, not ordering with other memory. */
#if defined(_MSC_VER)
#include <windows.h>
static volatile LONG rp_fork_generation_value = 0;
static unsigned long rp_fork_generation(void)
{
    return (unsigned long)InterlockedCompareExchange(&rp_fork_generation_value, 0, 0);
}
static void rp_bump_fork_generation(void) { InterlockedIncrement(&rp_fork_generation_value); }
#elif defined(__GNUC__) || defined(__clang__)
static unsigned long rp_fork_generation_value = 0;
static unsigned long rp_fork_generation(void)
{
    return __atomic_load_n(&rp_fork_generation_value, __ATOMIC_RELAXED);
}
static void rp_bump_fork_generation(void)
{
    __atomic_add_fetch(&rp_fork_generation_value, 1, __ATOMIC_RELAXED);
}
#else
#include <stdatomic.h>
static atomic_ulong rp_fork_generation_value = 0;
static unsigned long rp_fork_generation(void)
{
    return atomic_load_explicit(&rp_fork_generation_value, memory_order_relaxed);
}
static void rp_bump_fork_generation(void)
{
    atomic_fetch_add_explicit(&rp_fork_generation_value, 1, memory_order_relaxed);
}
#endif

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
static int rp_install_fork_hook(void) { return 0; } /* no fork on Windows */
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
static int rp_install_fork_hook(void)
{
    return pthread_atfork(NULL, NULL, rp_bump_fork_generation);
}
#endif

/* Whether a socket an idle connection holds has anything to report: bytes, EOF (the
 * server closed it), an error, or a descriptor that is no longer a socket. One
 * non-blocking system call, no Python call; any answer but "nothing" sends the connection
 * to a closer look. On POSIX a peeking recv() is that call: it answers EAGAIN for
 * "nothing" and is ~25% cheaper than poll() on Linux (119 vs 160 ns here). */
static int rp_socket_pending(int fd)
{
#ifdef _WIN32
    WSAPOLLFD p;
    p.fd = (SOCKET)fd;
    p.events = POLLRDNORM;
    p.revents = 0;
    return WSAPoll(&p, 1, 0) != 0;
#else
    char byte;
    return !(recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
             (errno == EAGAIN || errno == EWOULDBLOCK));
#endif
}

#endif
