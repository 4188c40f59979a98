/* app.c: the espmon demo application.
 *
 * It prints a few ESP-IDF style log lines, then processes work items with a
 * sensor whose register pointer was never configured: the first reading is
 * stored through a NULL pointer. The panic backtrace that the virtual board
 * prints (see app_desc.c, vboard_info) is the one this code really has:
 *
 *   store_reading (inlined) <- crash_here <- do_work <- app_main <- main_task
 *
 * Line numbers here are quoted in ../README.md and in tests: keep them stable.
 */
#include "demo.h"

struct sensor {
    volatile uint32_t *reg; /* where readings go; NULL: not configured */
    uint32_t scale;
};

struct sensor demo_sensor DRAM_DATA = {NULL, 3};
uint32_t demo_total DRAM_DATA = 1;

extern const char demo_log_lines[];

static inline __attribute__((always_inline)) void store_reading(volatile uint32_t *reg, uint32_t value)
{
    *reg = value; /* faults: reg is NULL */
}

FLASH_TEXT uint32_t crash_here(struct sensor *s, uint32_t value)
{
    uint32_t scaled = value * s->scale;
    store_reading(s->reg, scaled);
    return scaled + 1;
}

FLASH_TEXT uint32_t do_work(uint32_t item)
{
    uint32_t result = crash_here(&demo_sensor, item);
    demo_total += result;
    return demo_total;
}

FLASH_TEXT void app_main(void)
{
    for (uint32_t item = 1; item <= 3; item++) {
        uint32_t total = do_work(item);
        demo_sensor.scale = total & 0xFu;
    }
}

/* IRAM so that it works with the flash cache disabled, like ESP-IDF's console. */
IRAM_TEXT void log_write_lines(const char *lines)
{
    while (*lines != '\0') {
        for (; *lines != '\0'; lines++) {
            while (((UART_STATUS_REG >> 16) & 0xFFu) >= 120u) {
            }
            UART_FIFO_REG = (uint8_t)*lines;
        }
        UART_FIFO_REG = '\r';
        UART_FIFO_REG = '\n';
        lines++;
    }
}

FLASH_TEXT void main_task(void *arg)
{
    (void)arg;
    log_write_lines(demo_log_lines);
    app_main();
    for (;;) {
        demo_total++; /* ESP-IDF deletes the main task here; there is no scheduler */
    }
}

/* Entry point: the 2nd-stage bootloader jumps here (image header entry address). */
IRAM_TEXT void call_start_cpu0(void)
{
    main_task(NULL);
}
