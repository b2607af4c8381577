#include <stdio.h>

#include "connectc/connectc.h"

int main(void) {
  printf("connectc %s\n", connectc_version());
  return 0;
}
