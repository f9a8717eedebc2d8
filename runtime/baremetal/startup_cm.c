/* Cortex-M startup for Kiln's bare-metal tests and firmware example (QEMU mps2-an385 / an386,
 * newlib + librdimon semihosting). Link with
 *   arm-none-eabi-gcc ... --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld
 * Reset: copy .data, zero .bss, enable the FPU when built for one, set up semihosting stdio, run
 * constructors, call main(); exit(status) reaches the host as QEMU's exit status. Any fault ends
 * QEMU with status 1 through semihosting instead of hanging. */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);
extern void initialise_monitor_handles(void); /* librdimon */
extern void __libc_init_array(void);          /* newlib */

void Reset_Handler(void);
void Default_Handler(void);
/* An application may define these; by default they are fatal like every other exception. */
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));

/* -nostartfiles drops crti.o / crtn.o, which define these. */
void _init(void) {}
void _fini(void) {}

/* Semihosting SYS_EXIT (0x18), reason ADP_Stopped_RunTimeErrorUnknown (0x20023): QEMU exits 1. */
void Default_Handler(void) {
  register uint32_t r0 __asm__("r0") = 0x18;
  register uint32_t r1 __asm__("r1") = 0x20023;
  __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
  for (;;) {
  }
}

void Reset_Handler(void) {
  uint32_t *src = &_sidata, *dst = &_sdata;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
#if defined(__ARM_FP)
  /* SCB->CPACR: full access to CP10/CP11 before the first floating-point instruction. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  initialise_monitor_handles();
  __libc_init_array();
  exit(main());
}

/* Vector table: initial stack pointer, reset, then the 14 system exceptions, all faults fatal. */
__attribute__((section(".isr_vector"), used)) const void *const kiln_vector_table[16] = {
    &_estack,
    Reset_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    0,
    0,
    0,
    0,
    Default_Handler,
    Default_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
};
