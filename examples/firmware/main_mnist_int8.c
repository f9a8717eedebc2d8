/* Firmware: the MNIST CNN quantized to int8 on a part with 256 KiB of flash and 64 KiB of RAM
 * (the link enforces both, see CMakeLists.txt). Runs the drawn digit "1" of main.c and prints
 * the probabilities over semihosting as f32 bit patterns (integer printf only: no float
 * formatting code in flash). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "krt.h"
#include "mnist_q8.h"

/* mnist_q8_run uses the model's own workspace (.bss) */
static float image[MNIST_Q8_IN0_SIZE], probs[MNIST_Q8_OUT0_SIZE];

int main(void) {
  for (int r = 0; r < 28; r++) /* a vertical bar: rows 4..23, columns 13..15 */
    for (int c = 0; c < 28; c++) image[r * 28 + c] = r >= 4 && r < 24 && c >= 13 && c < 16;
  int rc = mnist_q8_run(image, probs);
  if (rc != KRT_OK) {
    printf("mnist_q8: %s\n", krt_strerror(rc));
    return 1;
  }
  int best = 0;
  for (int k = 0; k < (int)MNIST_Q8_OUT0_SIZE; k++) {
    uint32_t bits;
    memcpy(&bits, &probs[k], sizeof bits);
    printf("prob %d 0x%08lx\n", k, (unsigned long)bits);
    if (probs[k] > probs[best]) best = k;
  }
  printf("digit %d\n", best);
  return 0;
}
