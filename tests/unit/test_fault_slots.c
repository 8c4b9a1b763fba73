/* RRSIS_FAULT_SLOTS: the way CUDA kernels report a bad input (device.h). */
#include <string.h>

#include "harness.h"

TEST(fault_slots_setting_parsed)
{
    rr_fault_slots w = RR_SLOTS_DEVICE;
    CHECK_OK(rr_fault_slots_parse(NULL, &w));
    CHECK(w == RR_SLOTS_AUTO, "unset: %d, expected auto", (int)w);
    CHECK_OK(rr_fault_slots_parse("", &w));
    CHECK(w == RR_SLOTS_AUTO, "empty: %d, expected auto", (int)w);
    CHECK_OK(rr_fault_slots_parse("mapped", &w));
    CHECK(w == RR_SLOTS_MAPPED, "mapped: %d", (int)w);
    CHECK_OK(rr_fault_slots_parse("device", &w));
    CHECK(w == RR_SLOTS_DEVICE, "device: %d", (int)w);
    const char *bad[] = {"Device", "host", "1", "mapped "};
    for (int i = 0; i < 4; i++) {
        CHECK(rr_fault_slots_parse(bad[i], &w) == -1, "'%s' accepted", bad[i]);
        CHECK(strstr(rr_errmsg(), "RRSIS_FAULT_SLOTS") && strstr(rr_errmsg(), "mapped or device"),
              "'%s': message '%s'", bad[i], rr_errmsg());
    }
}
