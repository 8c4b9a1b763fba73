/* libFuzzer target: arbitrary bytes as a model configuration (JSON).
 * Beyond "no crash, no leak, no undefined behaviour", a configuration
 * that is accepted must be written back as JSON that is accepted again and
 * written back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rr_config cfg;
    if (rr_config_parse(&cfg, (const char *)data, size) < 0)
        return 0;
    char *json = rr_config_to_json(&cfg);
    rr_config back;
    if (!json || rr_config_parse(&back, json, strlen(json)) < 0)
        abort();
    char *again = rr_config_to_json(&back);
    if (!again || strcmp(json, again) != 0)
        abort();
    rr_config_hfim_channels(&back);
    free(again);
    free(json);
    return 0;
}
