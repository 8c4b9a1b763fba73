#include "schedule.h"

#include <math.h>
#include <string.h>

static double shape(rr_sched_kind kind, double x, double power)
{
    return kind == RR_SCHED_POLY ? pow(1 - x, power) : (1 + cos(M_PI * x)) / 2;
}

double rr_schedule_lr(const rr_schedule *s, int64_t k)
{
    if (k < 0 || k >= s->total)
        return 0;
    if (k < s->warmup)
        return s->lr * (double)(k + 1) / (double)s->warmup;
    return s->lr * shape(s->kind, (double)(k - s->warmup) / (double)(s->total - s->warmup), s->power);
}

static const char *const names[] = {[RR_SCHED_COSINE] = "cosine", [RR_SCHED_POLY] = "poly"};

int rr_sched_parse(const char *name, rr_sched_kind *out)
{
    for (int k = 0; k < 2; k++)
        if (strcmp(name, names[k]) == 0) {
            *out = (rr_sched_kind)k;
            return 0;
        }
    return -1;
}

const char *rr_sched_name(rr_sched_kind k) { return names[k]; }

/* "backbone.layers.<digits>.<part>." */
static int in_stage_part(const char *name, const char *part)
{
    static const char pre[] = "backbone.layers.";
    if (strncmp(name, pre, sizeof pre - 1) != 0)
        return 0;
    const char *s = name + sizeof pre - 1;
    if (*s < '0' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9')
        s++;
    size_t n = strlen(part);
    return *s == '.' && strncmp(s + 1, part, n) == 0 && s[1 + n] == '.';
}

int rr_lr_pretrained(const char *name)
{
    return strncmp(name, "text_encoder.", 13) == 0 || strncmp(name, "backbone.patch_embed.", 21) == 0 ||
           in_stage_part(name, "blocks") || in_stage_part(name, "downsample");
}

double rr_lr_mult(const char *name, double backbone_lr_mult)
{
    return rr_lr_pretrained(name) ? backbone_lr_mult : 1.0;
}
