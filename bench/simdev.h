/*
 * A simulated writeback device for benchmarks and the demo: callers queue
 * dirty pages (allocated through alloc/), the device "writes" them at a
 * set rate, then frees them and reports the completions to alloc/, so
 * reclaim throttling sees real writeback.  Steady (small batches at the
 * rate) or bursty (the same average rate, completions delivered in clumps
 * at the end of each period).
 */
#ifndef BENCH_SIMDEV_H
#define BENCH_SIMDEV_H

#include <stddef.h>

struct simdev;

/* rate in bytes/s; burst_ms 0 = steady.  Registers itself as alloc/'s
 * writeback kick. */
struct simdev *simdev_start(double rate, unsigned burst_ms);
/* Queue one dirty 4 KiB page (the device frees it once written). */
void simdev_queue(struct simdev *d, void *page);
/* Drain the queue, stop the thread, unregister the kick. */
void simdev_stop(struct simdev *d);
size_t simdev_written(const struct simdev *d);

#endif
