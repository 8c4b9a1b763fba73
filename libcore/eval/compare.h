/* Comparison tables: several score files of rrsis-score --format=json
 * (report.h), or run folders holding such files, merged into one table of
 * runs, sets and metrics (rrsis-score --table; report.h prints it).
 *
 * Every score file gives the values of one run and one set:
 *   run     the input's label (--label NAME=PATH), else a folder's name or
 *           a file's name without ".json";
 *   set     the file's "split" when it was scored with --split, else its
 *           manifest's file name without directory and ".jsonl"/".json"
 *           (data/nwpu/val.jsonl: "val");
 *   metric  the metrics of one protocol's "all" group, as percentages.
 * A run folder stands for the files named score*.json in it, in byte order.
 *
 * The three keys are laid out as rows and columns: each key in --rows or
 * --cols (the first key outermost), or in neither when it has one value.
 * Within a key, runs keep the inputs' order, sets the order they are first
 * met (or the --sets list), metrics the --metrics list.
 *
 * Checks, each an error naming the files: a file that is not a score file,
 * a score file without the protocol's scores, two files of the same run and
 * set, files scored at different resolutions, or files of one set that
 * scored different numbers of samples (another manifest or --split). */
#ifndef RR_EVAL_COMPARE_H
#define RR_EVAL_COMPARE_H

#include <stddef.h>

enum { RR_KEY_RUN, RR_KEY_SET, RR_KEY_METRIC, RR_NKEYS };
#define RR_CMP_MAXMETRIC 11

typedef struct {
    const char *label; /* NULL: the folder's or the file's name */
    const char *path;  /* a score file or a run folder */
} rr_cmp_input;

typedef struct {
    int protocol;                   /* RR_PROTOCOL_RMSIN or RR_PROTOCOL_GRES */
    int metric[RR_CMP_MAXMETRIC];   /* rr_cmp_metric_* indices, in order */
    int nmetric;
    char **sets;                    /* the sets to keep, in order; NULL: all */
    size_t nsets;
    int rows[RR_NKEYS], nrows;      /* RR_KEY_* */
    int cols[RR_NKEYS], ncols;
} rr_cmp_opts;

typedef struct {
    int protocol;
    char *resolution;    /* "480", "native", ... */
    int rkey[RR_NKEYS], nrkey, ckey[RR_NKEYS], nckey;
    size_t nrows, ncols;
    const char **row;    /* nrows x nrkey: each row's key values */
    const char **col;    /* ncols x nckey */
    double *v;           /* nrows x ncols percentages; NaN: undefined or no score */
    /* the files read: */
    size_t nfiles;
    char **file, **file_run, **file_set;
    long *file_samples;
    /* storage of the strings above */
    char **runs, **setnames;
    size_t nruns, nsetnames;
} rr_cmp_table;

/* Key and metric names: "run", "set", "metric"; a metric's id ("p70",
 * "oiou") and its heading ("P@0.7", "oIoU").  Metric indices run over the
 * protocol's metrics: rmsin p50 p60 p70 p80 p90 oiou miou, gres p50 p60 p70
 * p80 p90 ciou giou nacc tacc. */
const char *rr_cmp_key_name(int key);
int rr_cmp_nmetrics(int protocol);
const char *rr_cmp_metric_id(int protocol, int m);
const char *rr_cmp_metric_heading(int protocol, int m);
/* The heading of a key's value: a metric's heading, else the value. */
const char *rr_cmp_heading(const rr_cmp_table *t, int key, const char *value);

/* Parse comma-separated lists: keys (run, set, metric) and metrics (ids of
 * the protocol).  0, or -1 with a message naming the word and the choices. */
int rr_cmp_parse_keys(const char *list, int keys[RR_NKEYS], int *n);
int rr_cmp_parse_metrics(const char *list, int protocol, int metric[RR_CMP_MAXMETRIC], int *n);

/* Reads the inputs and lays the table out.  0, or -1 with a message. */
int rr_cmp_build(rr_cmp_table *t, const rr_cmp_input *in, size_t n, const rr_cmp_opts *o);
void rr_cmp_free(rr_cmp_table *t);

#endif
