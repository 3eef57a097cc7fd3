/*
 * A watchdog for the harness itself: a workload run or a crash-point check
 * that stops making progress is reported with where it was (and the
 * command that reproduces it) and the process aborts, instead of sitting
 * until the test runner's timeout kills it with nothing said.
 *
 * The limit is SCOPEFS_CRASH_STUCK seconds (default 300; 0 turns it off).
 */
#ifndef CRASH_STUCK_H
#define CRASH_STUCK_H

/* Start the watchdog thread (once; later calls do nothing). */
void crash_stuck_start(void);
/* Progress: the harness is now at the place @fmt describes. */
void crash_stuck_at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
