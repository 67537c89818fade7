# cython: language_level=3, boundscheck=False, wraparound=False
"""The fan-out's inner loop in C: one buffer to many sockets, with the GIL released.

From Python, each stream's `socket.send` releases and takes back the GIL: with a request thread
busy at the same moment, the two threads hand the GIL back and forth once per stream, and the
last stream of a thousand waits on all of it. Here the whole walk is one release.
"""

from libc.errno cimport EAGAIN, EINTR, errno

cdef extern from "<errno.h>" nogil:
    int EWOULDBLOCK


cdef extern from "<sys/socket.h>" nogil:
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    int MSG_DONTWAIT
    int MSG_NOSIGNAL


def send_to_all(const int[::1] fds not None, const unsigned char[::1] data not None,
                long long[::1] sent not None):
    """Sends `data` once to each socket without blocking; returns how many took less than all.

    `sent[i]` is what socket `fds[i]` took: all of it, a part (its buffer filled up), 0 (full),
    or -1 (an error such as a reset: the caller's ordinary path reports and closes it).
    """
    cdef Py_ssize_t count = fds.shape[0]
    cdef size_t length = data.shape[0]
    cdef Py_ssize_t i, incomplete = 0
    cdef ssize_t result
    cdef const unsigned char *buffer = &data[0] if length else NULL
    if sent.shape[0] < count:
        raise ValueError("sent is shorter than fds")
    with nogil:
        for i in range(count):
            while True:
                result = send(fds[i], buffer, length, MSG_DONTWAIT | MSG_NOSIGNAL)
                if result >= 0 or errno != EINTR:
                    break
            if result < 0:
                result = 0 if errno == EAGAIN or errno == EWOULDBLOCK else -1
            sent[i] = result
            if <size_t>result != length:
                incomplete += 1
    return incomplete
