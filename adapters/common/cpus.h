/*
 * cpus.h: how many CPUs this process may run on, for the adapters that
 * choose a number of worker threads.
 *
 * Internal to connectc's adapters (prefix cc_); not installed.
 */
#ifndef CONNECTC_ADAPTERS_CPUS_H
#define CONNECTC_ADAPTERS_CPUS_H

/* The CPUs in this thread's affinity mask (sched_getaffinity on Linux: a
 * process started under `taskset -c 0` or in a cgroup cpuset counts what it
 * was given, as Go's GOMAXPROCS does), else the online CPUs; at least 1 and
 * at most cap (cap 0 is taken as 1). */
unsigned cc_usable_cpus(unsigned cap);

#endif
