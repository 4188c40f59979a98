/* app_desc.c: read-only records of the app image, all in flash-mapped rodata.
 *
 * - esp_app_desc_t, first in the first (DROM) segment so that it sits at image
 *   offset 0x20 as ESP-IDF places it; esptool elf2image fills app_elf_sha256.
 * - vboard_info: what the virtual board needs to act out the crash (it cannot
 *   run the code). Found by scanning flash for its magic.
 * - demo_log_lines: the app's own output, NUL-separated, ending in "".
 */
#include "demo.h"

/* ESP-IDF v5.2 esp_app_desc_t (256 bytes). */
struct esp_app_desc {
    uint32_t magic_word;
    uint32_t secure_version;
    uint32_t reserv1[2];
    char version[32];
    char project_name[32];
    char time[16];
    char date[16];
    char idf_ver[32];
    uint8_t app_elf_sha256[32];
    uint16_t min_efuse_blk_rev_full;
    uint16_t max_efuse_blk_rev_full;
    uint8_t mmu_page_size;
    uint8_t reserv3[3];
    uint32_t reserv2[18];
};

/* Fixed date and time: the build is reproducible. */
const struct esp_app_desc esp_app_desc __attribute__((section(".flash.appdesc"), used)) = {
    .magic_word = 0xABCD5432u,
    .secure_version = 0,
    .version = "1.0.0",
    .project_name = "espmon-demo",
    .time = "12:00:00",
    .date = "Jan  1 2024",
    .idf_ver = "v5.2.1",
    .min_efuse_blk_rev_full = 0,
    .max_efuse_blk_rev_full = 99,
};

extern const char demo_log_lines[];

struct vboard_frame {
    uint32_t pc;
    uint32_t sp;
};

struct vboard_info {
    char magic[8];
    uint32_t n_frames;
    struct vboard_frame frames[8];
    uint32_t fault_addr;
    uint32_t log_lines_vaddr;
};

/* build.py measures the first link and passes the instruction offsets (VB_*_OFF)
 * and stack pointers (VB_SP*) so each frame is a real PC of the function:
 * frame 0 the faulting store, the others the return address of their call. */
#ifndef VB_PC0_OFF
#define VB_PC0_OFF 0
#define VB_PC1_OFF 0
#define VB_PC2_OFF 0
#define VB_PC3_OFF 0
#define VB_SP0 0
#define VB_SP1 0
#define VB_SP2 0
#define VB_SP3 0
#endif

const struct vboard_info vboard_info FLASH_RODATA = {
    .magic = "VBOARD1",
    .n_frames = 4,
    .frames = {
        {(uint32_t)&crash_here + VB_PC0_OFF, VB_SP0},
        {(uint32_t)&do_work + VB_PC1_OFF, VB_SP1},
        {(uint32_t)&app_main + VB_PC2_OFF, VB_SP2},
        {(uint32_t)&main_task + VB_PC3_OFF, VB_SP3},
    },
    .fault_addr = 0, /* demo_sensor.reg */
    .log_lines_vaddr = (uint32_t)demo_log_lines,
};

const char demo_log_lines[] FLASH_RODATA =
    "I (312) demo: hello from espmon-demo on " CHIP_NAME "\0"
    "I (318) demo: app version 1.0.0, built with ESP-IDF v5.2.1\0"
    "I (324) demo: processing 3 work items\0"
    "W (330) demo: sensor register not configured, storing readings anyway\0";
