/* demo.h: types and section placement shared by the sample app and bootloader.
 *
 * Freestanding on purpose: no libc, no system headers, so the DWARF names only
 * files of this directory. Sections follow ESP-IDF's names; the linker scripts
 * in ../ld map them to each chip's real address ranges.
 */
#ifndef DEMO_H
#define DEMO_H

typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;

#define NULL ((void *)0)

/* Code in flash (IROM), code in internal RAM (IRAM), data in internal RAM (DRAM). */
#define FLASH_TEXT __attribute__((section(".flash.text"), noinline, noclone))
#define IRAM_TEXT __attribute__((section(".iram0.text"), noinline, noclone))
#define DRAM_DATA __attribute__((section(".dram0.data")))
/* Read-only data in flash (DROM); `used` keeps records nothing references. */
#define FLASH_RODATA __attribute__((section(".flash.rodata"), used))

/* Set by build.py per chip. */
#ifndef CHIP_NAME
#define CHIP_NAME "ESP32"
#endif
#ifndef UART0_BASE
#define UART0_BASE 0x3FF40000u
#endif

/* The crash chain (app.c); app_desc.c takes their addresses. */
struct sensor;
uint32_t crash_here(struct sensor *s, uint32_t value);
uint32_t do_work(uint32_t item);
void app_main(void);
void main_task(void *arg);

#define UART_FIFO_REG (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATUS_REG (*(volatile uint32_t *)(UART0_BASE + 0x1Cu))

#endif /* DEMO_H */
