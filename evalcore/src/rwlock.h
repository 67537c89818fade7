/*
 * rwlock.h — a writer-preferring reader/writer spin lock on C11 atomics.
 *
 * Private to the core, and included by store.c only. Readers hold it for one evaluation (well under
 * a microsecond) and a writer only for a pointer swap, so spinning beats parking a thread. One word
 * holds everything: bit 0 says a writer holds or wants the lock, the rest counts readers in steps
 * of 2. A reader only adds to the counter; when it finds the writer bit set it takes its increment
 * back and waits, so a steady stream of readers cannot starve the writer. A thread that has spun
 * for a while yields its time slice, so a holder that was preempted (more threads than cores) gets
 * to run.
 *
 * Where sched_yield exists, the including file must make it visible (e.g. by defining
 * _POSIX_C_SOURCE before any system header).
 */
#ifndef SK_RWLOCK_H
#define SK_RWLOCK_H

#include <stdatomic.h>

/* Not on wasm: there a yield would be a host import the browser would have to provide, and a
 * browser's wasm instance runs on one thread anyway. */
#if (defined(__unix__) || defined(__APPLE__)) && !defined(__wasm__)
#include <sched.h>
#define SK_HAVE_SCHED_YIELD 1
#endif

#define SK_RWLOCK_WRITER 1u
#define SK_RWLOCK_READER 2u

typedef struct sk_rwlock {
  atomic_uint word;
} sk_rwlock;

static inline void sk_rwlock_init(sk_rwlock *lock) {
  atomic_init(&lock->word, 0u);
}

/* Spins this many times before starting to yield: long enough for any evaluation to finish. */
#define SK_RWLOCK_SPINS_BEFORE_YIELD 128u

/* One wait step: a CPU hint while the wait is short (saves power, frees the sibling
 * hyper-thread), then the time slice once it is not. */
static inline void sk_rwlock_pause(unsigned *spins) {
  if (*spins < SK_RWLOCK_SPINS_BEFORE_YIELD) {
    (*spins)++;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __asm__ __volatile__("pause");
#elif defined(__GNUC__) && (defined(__aarch64__) || defined(__arm__))
    __asm__ __volatile__("yield");
#endif
    return;
  }
#if defined(SK_HAVE_SCHED_YIELD)
  sched_yield();
#endif
}

#if defined(__GNUC__)
#define SK_RWLOCK_COLD __attribute__((noinline, cold))
#else
#define SK_RWLOCK_COLD
#endif

/* The contended path, kept out of line so the uncontended one stays a single atomic add. */
SK_RWLOCK_COLD static void sk_rwlock_read_lock_slow(sk_rwlock *lock) {
  unsigned spins = 0;
  for (;;) {
    atomic_fetch_sub_explicit(&lock->word, SK_RWLOCK_READER, memory_order_relaxed);
    while (atomic_load_explicit(&lock->word, memory_order_relaxed) & SK_RWLOCK_WRITER) {
      sk_rwlock_pause(&spins);
    }
    const unsigned seen =
        atomic_fetch_add_explicit(&lock->word, SK_RWLOCK_READER, memory_order_acquire);
    if ((seen & SK_RWLOCK_WRITER) == 0) {
      return;
    }
  }
}

static inline void sk_rwlock_read_lock(sk_rwlock *lock) {
  const unsigned seen =
      atomic_fetch_add_explicit(&lock->word, SK_RWLOCK_READER, memory_order_acquire);
  if ((seen & SK_RWLOCK_WRITER) != 0) {
    sk_rwlock_read_lock_slow(lock);
  }
}

static inline void sk_rwlock_read_unlock(sk_rwlock *lock) {
  atomic_fetch_sub_explicit(&lock->word, SK_RWLOCK_READER, memory_order_release);
}

static inline void sk_rwlock_write_lock(sk_rwlock *lock) {
  /* Writers are serialized by the caller; the loop only makes a second writer wait rather than
   * corrupt the lock if that promise is broken. */
  unsigned spins = 0;
  unsigned seen = atomic_load_explicit(&lock->word, memory_order_relaxed);
  for (;;) {
    if ((seen & SK_RWLOCK_WRITER) == 0 &&
        atomic_compare_exchange_weak_explicit(&lock->word, &seen, seen | SK_RWLOCK_WRITER,
                                              memory_order_acquire, memory_order_relaxed)) {
      break;
    }
    sk_rwlock_pause(&spins);
    seen = atomic_load_explicit(&lock->word, memory_order_relaxed);
  }
  /* Wait for the readers already inside to leave; new ones back off on the writer bit. */
  while (atomic_load_explicit(&lock->word, memory_order_acquire) != SK_RWLOCK_WRITER) {
    sk_rwlock_pause(&spins);
  }
}

static inline void sk_rwlock_write_unlock(sk_rwlock *lock) {
  atomic_fetch_and_explicit(&lock->word, ~SK_RWLOCK_WRITER, memory_order_release);
}

#endif /* SK_RWLOCK_H */
