/* cpus.c: see cpus.h. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "cpus.h"

#include <sched.h>
#include <unistd.h>

unsigned cc_usable_cpus(unsigned cap) {
  long n = 0;
#ifdef __linux__
  cpu_set_t set;
  /* Fails (EINVAL) with more CPUs than a cpu_set_t holds: then online. */
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n <= 0) n = 1;
  if (cap == 0) cap = 1;
  return (unsigned long)n > cap ? cap : (unsigned)n;
}
