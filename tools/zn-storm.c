/*
 * zn-storm.c - an LD_PRELOAD shim for the cluster tests' retry storm: every datagram a client
 * sends with sendmmsg(2) (libzinc's only send call) or sendto(2) goes out ZN_STORM_COPIES times
 * (default 20), so the node sees each request, ack and CONNECT many times at the datagram level.
 * The caller sees one send. Test use only (tests/cluster/storm.sh).
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static atomic_ulong originals, copies_sent;

/* What the storm did, on stderr at exit (the test prints it). */
__attribute__((destructor)) static void storm_report(void)
{
    fprintf(stderr, "zn-storm: %lu datagrams sent by the program went out %lu times\n",
            (unsigned long)originals, (unsigned long)(originals + copies_sent));
}

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags);
ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen);

static long copies(void)
{
    const char *s = getenv("ZN_STORM_COPIES");
    long c = s ? strtol(s, NULL, 10) : 20;
    return c < 1 ? 1 : c > 1000 ? 1000 : c;
}

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    int (*real)(int, struct mmsghdr *, unsigned int, int) =
        (int (*)(int, struct mmsghdr *, unsigned int, int))dlsym(RTLD_NEXT, "sendmmsg");
    int n = real(fd, vec, vlen, flags);
    if (n > 0)
        originals += (unsigned long)n;
    for (long c = 1; n > 0 && c < copies(); c++)
        for (int i = 0; i < n; i++)
            if (sendmsg(fd, &vec[i].msg_hdr, flags | MSG_DONTWAIT) >= 0)
                copies_sent++;
    return n;
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) =
        (ssize_t(*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))dlsym(
            RTLD_NEXT, "sendto");
    ssize_t n = real(fd, buf, len, flags, to, tolen);
    if (n >= 0)
        originals++;
    for (long c = 1; n >= 0 && c < copies(); c++)
        if (real(fd, buf, len, flags | MSG_DONTWAIT, to, tolen) >= 0)
            copies_sent++;
    return n;
}
