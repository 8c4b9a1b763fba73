/* rrsis-score's output: the metric tables of a score (score.h) as aligned
 * text, Markdown, CSV or one JSON object; one JSON line per sample; and the
 * findings and counts of a manifest check.
 *
 * Groups: "all" (every scored sample), then, as asked, one per type
 * (single, multi, none: always these three, in this order), per category
 * and per language (the values found, sorted by bytes; a null category is
 * the empty string).
 *
 * Text, Markdown and CSV print percentages with 2 decimals, as the papers
 * do; JSON prints every number with the fewest digits that read back as
 * the same double (17 at most).  An undefined value (a ratio over nothing)
 * is "-" in text and Markdown, empty in CSV and null in JSON.
 *
 * The JSON object (keys in this order; "rmsin" and "gres" are present when
 * computed, "by" holds the asked breakdowns):
 *   {"program": "rrsis-score", "version": "0.1.0",
 *    "gt": MANIFEST, "pred": DIR or "-", "split": NAME or null,
 *    "resolution": "native" or the size ("480"), "samples": N, "missing": N,
 *    "protocols": ["rmsin", "gres"],
 *    "rmsin": {"all": R, "by": {"type": {"single": R, "multi": R, "none": R},
 *                               "category": {NAME: R, ...}, "lang": {...}}},
 *    "gres":  {"all": G, "by": {...}}}
 *   R = {"samples", "no_target", "cum_i", "cum_u",
 *        "p50", "p60", "p70", "p80", "p90", "oiou", "miou"}
 *   G = {"samples", "targeted", "no_target", "tp", "fn", "fp", "tn",
 *        "cum_i", "cum_u", "p50", "p60", "p70", "p80", "p90",
 *        "ciou", "giou", "nacc", "tacc"}
 * CSV columns: protocol, resolution, breakdown, group, samples, no_target,
 * p50, p60, p70, p80, p90, oiou, miou, ciou, giou, nacc, tacc (a protocol's
 * row leaves the other protocol's columns empty; the "all" row has
 * breakdown and group "all"). */
#ifndef RR_EVAL_REPORT_H
#define RR_EVAL_REPORT_H

#include <stdio.h>

#include "compare.h"
#include "score.h"

typedef enum { RR_FORMAT_TEXT, RR_FORMAT_MD, RR_FORMAT_CSV, RR_FORMAT_JSON } rr_report_format;

enum { RR_PROTOCOL_RMSIN = 1, RR_PROTOCOL_GRES = 2 };
enum { RR_BY_TYPE = 1, RR_BY_CATEGORY = 2, RR_BY_LANG = 4 };

typedef struct {
    rr_report_format format;
    unsigned protocols; /* RR_PROTOCOL_* */
    unsigned by;        /* RR_BY_* */
    const char *gt;     /* the manifest and the predictions, as named on the */
    const char *pred;   /* command line, for the header */
} rr_report_opts;

/* Writes the tables.  Returns 0, or -1 out of memory (write errors are the
 * caller's to check on the stream). */
int rr_report_write(FILE *out, const rr_score *s, const rr_report_opts *o);

/* A comparison table (compare.h).  Text and Markdown: one column per row
 * key (named after it: "run"), then a column per column tuple, headed by
 * its values joined by spaces ("P@0.7 val"), percentages with 2 decimals, "-"
 * where undefined or not scored; with bold_best, Markdown marks the highest
 * value of each column (as printed: ties are all marked) **bold**.  CSV: the
 * same cells, undefined ones empty.  JSON:
 *   {"program": "rrsis-score", "version", "protocol": "rmsin"|"gres",
 *    "resolution", "files": [{"file", "run", "set", "samples"}, ...],
 *    "rows": [{KEY: VALUE, ...}, ...], "columns": [{KEY: VALUE, ...}, ...],
 *    "cells": [[number or null, ...], ...] (rows x columns),
 *    "best": [[true or false, ...], ...] (the highest of each column)}
 * with metrics by their ids (p70, oiou).  Returns 0, or -1 out of memory. */
int rr_report_compare(FILE *out, rr_report_format format, const rr_cmp_table *t, int bold_best);

/* One JSON object a line for each scored sample, in manifest order:
 *   {"id", "split", "type", "category", "lang", "missing" (true when
 *    scored as empty for want of a prediction), "pred" and "gt" (their
 *    foreground pixels), "i", "u", "iou_rmsin", "iou_gres" (fractions),
 *    "gres" ("TP", "FN", "FP" or "TN", ReLA's names: positive means no
 *    target)} */
void rr_report_samples(FILE *out, const rr_score *s);

/* The findings of rr_check_manifest ("PATH:LINE: MESSAGE" a line) and the
 * samples counted by split, type, category and language; text or JSON:
 *   {"manifest": PATH, "level": "files"|"masks"|"images", "samples": N,
 *    "findings": [{"line": N, "message": TEXT}, ...],
 *    "counts": {"split": {NAME: N, ...}, "type": {"single": N, "multi": N,
 *               "none": N}, "category": {...}, "lang": {...}}} */
int rr_report_check(FILE *out, rr_report_format format, const char *path, rr_check_level level,
                    const rr_manifest *m, const rr_findings *f);

#endif
