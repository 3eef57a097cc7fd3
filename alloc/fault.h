/*
 * Fault injection by call-site name (seed 002: cycle through every point).
 *
 * Spec: rules separated by ';', each "PATTERN:KEY[=VAL],KEY[=VAL]...".
 * PATTERN is an fnmatch(3) glob over site names ("*" = every site).
 * Modes (exactly one):  nth=N    fail the Nth call only (1-based)
 *                       every=N  fail every Nth call
 *                       p=P      fail with probability P (0..1)
 *                       always   fail every call
 * Options:              count=global|thread  who counts calls for nth/every
 *                                            (default global: across threads)
 *                       times=N  stop after N injected failures
 *                       seed=N   seed for p= (default 1; per thread streams)
 * The first matching rule applies.  Counting starts when the rule is
 * installed.  A NOFAIL call is never failed: it is made to loop through the
 * allocator's slow path nofail_fault_loops extra times instead.
 * Installing "" clears every rule.  The environment variable SCOPEFS_FAULT
 * is read at initialisation.
 */
#ifndef MC_FAULT_H
#define MC_FAULT_H

#include <stddef.h>

/* Replace the rule set. -EINVAL and a message naming the bad rule on error
 * (the previous rules then stay in force). Safe while other threads allocate. */
int mc_fault_set(const char *spec, char *err, size_t errlen);
/* The spec in force (as given), into buf. */
void mc_fault_get(char *buf, size_t len);

#endif
