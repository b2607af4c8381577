/* A consumer of an installed connectc: prints a few facts. */
#include <connectc/connectc.h>
#include <stdio.h>

int main(void) {
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_UNAVAILABLE, "try %s", "later");
  printf("connectc %s %s %s %d\n", connectc_version(), connectc_code_name(e.code), e.message,
         connectc_code_to_http_status(e.code));
  connectc_error_reset(&e);
  return 0;
}
