/* bootloader.c: a tiny 2nd-stage "bootloader" image.
 *
 * It only has to look like ESP-IDF's to the ROM: its segments load at the
 * chip's real bootloader addresses (the ROM prints one `load:` line per
 * segment) and its entry point is where the ROM jumps. It prints its banner
 * line and waits; loading the app is the virtual board's job.
 */
#include "demo.h"

/* ESP-IDF v5.2 esp_bootloader_desc_t, first in the DRAM segment (image offset 0x20). */
struct esp_bootloader_desc {
    uint8_t magic_byte;
    uint8_t reserved[3];
    uint32_t version;
    char idf_ver[32];
    char date_time[24];
    uint8_t reserved2[16];
};

const struct esp_bootloader_desc esp_bootloader_desc __attribute__((section(".dram0.bootdesc"), used)) = {
    .magic_byte = 0x50,
    .version = 1,
    .idf_ver = "v5.2.1",
    .date_time = "Jan  1 2024 12:00:00",
};

static const char banner[] __attribute__((section(".dram0.rodata"))) =
    "I (29) boot: ESP-IDF v5.2.1 2nd stage bootloader\r\n";

/* Loader code: ESP-IDF keeps what runs while the cache is off in iram_loader_seg. */
__attribute__((section(".iram_loader.text"), noinline)) static void uart_write(const char *s)
{
    for (; *s != '\0'; s++) {
        while (((UART_STATUS_REG >> 16) & 0xFFu) >= 120u) {
        }
        UART_FIFO_REG = (uint8_t)*s;
    }
}

__attribute__((section(".iram.text"), noinline)) static void bootloader_main(void)
{
    uart_write(banner);
    for (;;) {
    }
}

/* The ROM jumps here; ld/bootloader.entry-in-*.ld put it where each chip's ESP-IDF entry is. */
__attribute__((section(".entry.text"))) void call_start_cpu0(void)
{
    bootloader_main();
}
