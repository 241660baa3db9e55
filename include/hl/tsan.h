/*
 * ThreadSanitizer annotations for hand-offs it cannot see: liburcu (the mailbox queue, the RCU token table) is not
 * instrumented, so its ordering guarantees have to be told to TSan explicitly. No-ops in other builds.
 */
#ifndef HL_TSAN_H
#define HL_TSAN_H

#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define HL_TSAN_RELEASE(p) __tsan_release(p)
#define HL_TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define HL_TSAN_RELEASE(p) ((void)(p))
#define HL_TSAN_ACQUIRE(p) ((void)(p))
#endif

#endif
