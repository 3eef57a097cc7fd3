/* The simulated writeback device (see simdev.h). */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "alloc/mc.h"
#include "simdev.h"

#define PAGE 4096

struct simdev {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	void **q;
	size_t head, tail, cap;
	double rate;
	unsigned burst_ms;
	int stop;
	size_t written;
	pthread_t thread;
	struct mc_wb_kicker kicker;
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	nanosleep(&ts, NULL);
}

static size_t take(struct simdev *d, void **batch, size_t max, int wait)
{
	size_t n = 0;

	pthread_mutex_lock(&d->lock);
	while (wait && d->head == d->tail && !d->stop)
		pthread_cond_wait(&d->cv, &d->lock);
	while (n < max && d->head != d->tail)
		batch[n++] = d->q[d->head++ % d->cap];
	pthread_mutex_unlock(&d->lock);
	return n;
}

static void complete(struct simdev *d, void **batch, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mc_free(batch[i]);
	mc_writeback_completed(n);
	__atomic_fetch_add(&d->written, n, __ATOMIC_RELAXED);
}

static void run_steady(struct simdev *d)
{
	uint64_t busy_until = mc_monotonic_ns();
	void *batch[8];

	for (;;) {
		size_t n = take(d, batch, 8, 1);
		if (!n && d->stop)
			return;
		uint64_t now = mc_monotonic_ns();
		if (busy_until < now)
			busy_until = now;           /* idle time banks no credit */
		busy_until += (uint64_t)((double)n * PAGE / d->rate * 1e9);
		if (busy_until > now)
			sleep_ns(busy_until - now);
		complete(d, batch, n);
	}
}

static void run_bursty(struct simdev *d)
{
	size_t per = (size_t)(d->rate * (double)d->burst_ms / 1000.0 / PAGE);
	void **batch = malloc((per ? per : 1) * sizeof(void *));

	for (;;) {
		sleep_ns(d->burst_ms * 1000000ull);
		size_t n = take(d, batch, per ? per : 1, 0);
		if (!n && d->stop)
			break;
		complete(d, batch, n);
	}
	free(batch);
}

static void *device_main(void *arg)
{
	struct simdev *d = arg;

	if (d->burst_ms)
		run_bursty(d);
	else
		run_steady(d);
	return NULL;
}

static void kick(void *arg, size_t pages)
{
	struct simdev *d = arg;

	(void)pages;
	pthread_mutex_lock(&d->lock);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->lock);
}

struct simdev *simdev_start(double rate, unsigned burst_ms)
{
	struct simdev *d = calloc(1, sizeof(*d));

	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->cap = 1 << 20;
	d->q = calloc(d->cap, sizeof(void *));
	d->rate = rate;
	d->burst_ms = burst_ms;
	pthread_create(&d->thread, NULL, device_main, d);
	d->kicker = (struct mc_wb_kicker){ .fn = kick, .arg = d };
	mc_writeback_kicker_register(&d->kicker);
	return d;
}

void simdev_queue(struct simdev *d, void *page)
{
	pthread_mutex_lock(&d->lock);
	d->q[d->tail++ % d->cap] = page;
	mc_writeback_submitted(1);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->lock);
}

void simdev_stop(struct simdev *d)
{
	pthread_mutex_lock(&d->lock);
	d->stop = 1;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	mc_writeback_kicker_unregister(&d->kicker);
	free(d->q);
	free(d);
}

size_t simdev_written(const struct simdev *d)
{
	return __atomic_load_n(&d->written, __ATOMIC_RELAXED);
}
