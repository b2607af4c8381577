/* cc_usable_cpus (adapters/common/cpus.h): it counts the CPUs of this
 * thread's affinity mask, so a server started under `taskset -c 0` picks
 * one worker thread; the cap and the floor of 1 hold. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_* */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpus.h"

static cpu_set_t original;

static int save_mask(void **state) {
  (void)state;
  return sched_getaffinity(0, sizeof original, &original);
}

static int restore_mask(void **state) {
  (void)state;
  return sched_setaffinity(0, sizeof original, &original);
}

/* The first n CPUs of the original mask, or -1 if it has fewer. */
static int first_cpus(int n, cpu_set_t *out) {
  CPU_ZERO(out);
  int got = 0;
  for (size_t i = 0; i < CPU_SETSIZE && got < n; i++)
    if (CPU_ISSET(i, &original)) {
      CPU_SET(i, out);
      got++;
    }
  return got == n ? 0 : -1;
}

static void test_counts_the_affinity_mask(void **state) {
  (void)state;
  assert_int_equal(cc_usable_cpus(CPU_SETSIZE), (unsigned)CPU_COUNT(&original));
  cpu_set_t one;
  assert_int_equal(first_cpus(1, &one), 0);
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  assert_int_equal(cc_usable_cpus(8), 1);
  cpu_set_t two;
  if (first_cpus(2, &two) != 0) {
    skip(); /* a one-CPU machine: the count of two cannot be shown */
  }
  assert_int_equal(sched_setaffinity(0, sizeof two, &two), 0);
  assert_int_equal(cc_usable_cpus(8), 2);
}

static void test_cap_and_floor(void **state) {
  (void)state;
  assert_int_equal(cc_usable_cpus(1), 1);
  assert_int_equal(cc_usable_cpus(0), 1); /* a cap of 0 is taken as 1 */
  unsigned all = cc_usable_cpus(CPU_SETSIZE);
  assert_true(all >= 1);
  assert_int_equal(cc_usable_cpus(all + 1), all);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_counts_the_affinity_mask, save_mask, restore_mask),
      cmocka_unit_test_setup_teardown(test_cap_and_floor, save_mask, restore_mask),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
