/* Firmware: runs LeNet-5 (compiled by Kiln for the Cortex-M4F) on a drawn digit "1" and prints
 * the logits over semihosting: each as its f32 bit pattern and its value. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "krt.h"
#include "lenet5.h"

/* The workspace is the only RAM the model needs; the application decides where it lives. */
static _Alignas(LENET5_WORKSPACE_ALIGN) unsigned char workspace[LENET5_WORKSPACE_SIZE];
static float image[LENET5_IN0_SIZE], logits[LENET5_OUT0_SIZE];

int main(void) {
  for (int r = 0; r < 28; r++) /* a vertical bar: rows 4..23, columns 13..15 */
    for (int c = 0; c < 28; c++) image[r * 28 + c] = r >= 4 && r < 24 && c >= 13 && c < 16;
  int rc = lenet5_run_ws(image, logits, workspace);
  if (rc != KRT_OK) {
    printf("lenet5: %s\n", krt_strerror(rc));
    return 1;
  }
  int best = 0;
  for (int k = 0; k < (int)LENET5_OUT0_SIZE; k++) {
    uint32_t bits;
    memcpy(&bits, &logits[k], sizeof bits);
    printf("logit %d 0x%08lx %.6g\n", k, (unsigned long)bits, (double)logits[k]);
    if (logits[k] > logits[best]) best = k;
  }
  printf("digit %d\n", best);
  return 0;
}
