/* Referring sentences for synthetic scenes (see sentence.h).
 *
 * A sentence is first a description (quantifier, category, attributes);
 * evaluate() finds the objects it refers to, or says that some object is
 * neither clearly in nor clearly out; only then is it put into words. */
#include "synth/sentence.h"

#include <stdio.h>
#include <string.h>

#include "rng.h"

enum { Q_THE, Q_ALL, Q_NUM, Q_BOTH };
enum { P_NONE, P_LEFT, P_RIGHT, P_TOP, P_BOTTOM, P_TL, P_TR, P_BL, P_BR };

typedef struct {
    int quant;
    int cat;
    int colour;  /* -1: not said */
    int size;    /* -1, 0 small, 1 large */
    int superl;  /* 0, 1 largest, 2 smallest */
    int pos;     /* P_* */
    int heading; /* -1, or 0 right, 1 up, 2 left, 3 down */
    int anchor;  /* -1, or the object "next to" refers to */
    int anchor_colour; /* the anchor's colour is said (else its category is unique) */
    int count;   /* Q_NUM: the number said */
} desc;

static const char *const dim_names[RR_SYNTH_NDIM] = {"category", "colour", "size",
                                                     "position", "heading", "relation"};
const char *rr_synth_dim_name(int d) { return d >= 0 && d < RR_SYNTH_NDIM ? dim_names[d] : "?"; }

static int rnd(rr_rng *r, int n) { return (int)(rr_rng_next(r) % (uint64_t)n); }

/* ---- geometry ------------------------------------------------------------ */

/* A lower bound of the Chebyshev distance between the pixels of two
 * objects, from their tight boxes. */
static int box_distance(const rr_synth_object *a, const rr_synth_object *b)
{
    int dx = a->x0 - (b->x1 - 1), dx2 = b->x0 - (a->x1 - 1);
    int dy = a->y0 - (b->y1 - 1), dy2 = b->y0 - (a->y1 - 1);
    int d = dx > dx2 ? dx : dx2, e = dy > dy2 ? dy : dy2;
    d = d > e ? d : e;
    return d > 0 ? d : 0;
}

int rr_synth_distance(const rr_synth_scene *s, int a, int b, int limit)
{
    const rr_synth_object *oa = &s->obj[a], *ob = &s->obj[b];
    int lb = box_distance(oa, ob);
    if (lb > limit)
        return lb;
    int S = s->size, best = limit + 1;
    const uint8_t *ids = s->ids;
    for (int y = oa->y0; y < oa->y1 && best > lb; y++)
        for (int x = oa->x0; x < oa->x1 && best > lb; x++) {
            int i = y * S + x;
            if (ids[i] != a + 1)
                continue;
            /* the nearest pixels of two sets are on their borders */
            if (x > 0 && x < S - 1 && y > 0 && y < S - 1 && ids[i - 1] == a + 1 && ids[i + 1] == a + 1 &&
                ids[i - S] == a + 1 && ids[i + S] == a + 1)
                continue;
            /* no pixel of b is nearer than b's box */
            int d = ob->x0 - x, e = x - (ob->x1 - 1), f = ob->y0 - y, g = y - (ob->y1 - 1);
            int r0 = d > e ? d : e, r1 = f > g ? f : g;
            r0 = r0 > r1 ? r0 : r1;
            if (r0 < 0)
                r0 = 0;
            /* rings of growing radius, below the best so far */
            for (int r = r0; r < best; r++) {
                int found = 0;
                for (int yy = y - r; yy <= y + r && !found; yy++) {
                    if (yy < ob->y0 || yy >= ob->y1)
                        continue;
                    int step = (yy == y - r || yy == y + r || r == 0) ? 1 : 2 * r;
                    for (int xx = x - r; xx <= x + r; xx += step)
                        if (xx >= ob->x0 && xx < ob->x1 && ids[yy * S + xx] == b + 1) {
                            found = 1;
                            break;
                        }
                }
                if (found) {
                    best = r;
                    break;
                }
            }
        }
    return best;
}

/* ---- evaluation ---------------------------------------------------------- */

static int near_px(const rr_synth_scene *s) { int v = 6 * s->unit / 128; return v < 2 ? 2 : v; }
static int far_px(const rr_synth_scene *s) { return 14 * s->unit / 128; }

static int pos_match(int pos, const rr_synth_object *o)
{
    switch (pos) {
    case P_LEFT: return !o->right;
    case P_RIGHT: return o->right;
    case P_TOP: return !o->bottom;
    case P_BOTTOM: return o->bottom;
    case P_TL: return !o->right && !o->bottom;
    case P_TR: return o->right && !o->bottom;
    case P_BL: return !o->right && o->bottom;
    case P_BR: return o->right && o->bottom;
    }
    return 1;
}

/* The objects the description refers to (*set), ignoring the quantifier.
 * -1 when some object is unsure. */
static int evaluate(const rr_synth_scene *s, const desc *d, unsigned *set)
{
    unsigned yes = 0;
    for (int k = 0; k < s->n; k++) {
        const rr_synth_object *o = &s->obj[k];
        if (o->cat != d->cat || (d->colour >= 0 && o->colour != d->colour) ||
            (d->size >= 0 && o->large != d->size) || !pos_match(d->pos, o) || k == d->anchor)
            continue;
        if (d->heading >= 0) {
            int diff = ((o->heading - 2 * d->heading) % 8 + 8) % 8;
            if (o->heading < 0 || (diff != 0 && diff != 1 && diff != 7))
                continue;
            if (diff)
                return -1;
        }
        yes |= 1u << k;
    }
    if (d->anchor >= 0) {
        unsigned near = 0;
        for (int k = 0; k < s->n; k++) {
            if (!(yes >> k & 1))
                continue;
            int dist = rr_synth_distance(s, k, d->anchor, far_px(s));
            if (dist <= near_px(s))
                near |= 1u << k;
            else if (dist < far_px(s))
                return -1;
        }
        yes = near;
    }
    if (d->superl) {
        int best = -1, n = 0;
        for (int k = 0; k < s->n; k++)
            if (yes >> k & 1) {
                n++;
                int a = s->obj[k].area, b = best >= 0 ? s->obj[best].area : 0;
                if (best < 0 || (d->superl == 1 ? a > b : a < b))
                    best = k;
            }
        if (n < 2)
            return -1;
        for (int k = 0; k < s->n; k++) {
            if (!(yes >> k & 1) || k == best)
                continue;
            long a = s->obj[best].area, b = s->obj[k].area;
            if (d->superl == 1 ? a * 4 < b * 5 : a * 5 > b * 4)
                return -1;
        }
        yes = 1u << best;
    }
    *set = yes;
    return 0;
}

static int popcount(unsigned v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* ---- words --------------------------------------------------------------- */

static const char *const nouns[RR_SYNTH_NCAT][2][2] = {
    /* {singular, plural} x {plain, synonym} */
    {{"plane", "airplane"}, {"planes", "airplanes"}},
    {{"ship", "boat"}, {"ships", "boats"}},
    {{"car", "vehicle"}, {"cars", "vehicles"}},
    {{"storage tank", "tank"}, {"storage tanks", "tanks"}},
    {{"building", "house"}, {"buildings", "houses"}},
    {{"tennis court", "tennis court"}, {"tennis courts", "tennis courts"}},
};
static const char *const counts[] = {"", "one", "two", "three", "four", "five", "six"};
static const char *const pos_words[9][3] = {
    {"", "", ""},
    {"on the left", "on the left side", "on the left"},
    {"on the right", "on the right side", "on the right"},
    {"at the top", "in the upper part", "at the top"},
    {"at the bottom", "in the lower part", "at the bottom"},
    {"at the top left", "in the top left corner", "in the upper left"},
    {"at the top right", "in the top right corner", "in the upper right"},
    {"at the bottom left", "in the bottom left corner", "in the lower left"},
    {"at the bottom right", "in the bottom right corner", "in the lower right"},
};
static const char *const heading_words[4] = {"right", "up", "left", "down"};

static void append(char *out, size_t *len, const char *w)
{
    size_t n = strlen(w);
    if (*len + n + 2 > RR_SYNTH_SENTENCE_MAX)
        return; /* cannot happen: the longest sentence has about 60 bytes */
    if (*len)
        out[(*len)++] = ' ';
    memcpy(out + *len, w, n + 1);
    *len += n;
}

/* Puts the description into words; the full preset draws synonyms. */
static void words(const rr_synth_scene *s, const desc *d, rr_rng *r, char *out)
{
    int full = s->preset == RR_SYNTH_FULL, plural = d->quant != Q_THE;
    int syn = full && rnd(r, 4) == 0;
    size_t len = 0;
    out[0] = 0;
    append(out, &len, d->quant == Q_ALL ? "all" : d->quant == Q_BOTH ? "both" : "the");
    if (d->quant == Q_NUM)
        append(out, &len, counts[d->count]);
    if (d->superl)
        append(out, &len, d->superl == 2 ? "smallest" : syn ? "biggest" : "largest");
    if (d->size >= 0)
        append(out, &len, d->size ? (syn ? "big" : "large") : "small");
    if (d->colour >= 0)
        append(out, &len, rr_synth_colour_name(d->colour));
    append(out, &len, nouns[d->cat][plural][syn]);
    if (d->pos)
        append(out, &len, pos_words[d->pos][full ? rnd(r, 3) : 0]);
    if (d->heading >= 0) {
        append(out, &len, "heading");
        append(out, &len, heading_words[d->heading]);
    }
    if (d->anchor >= 0) {
        const rr_synth_object *a = &s->obj[d->anchor];
        append(out, &len, full && rnd(r, 3) == 0 ? "beside the" : "next to the");
        if (d->anchor_colour)
            append(out, &len, rr_synth_colour_name(a->colour));
        append(out, &len, nouns[a->cat][0][full && rnd(r, 4) == 0]);
    }
}

static unsigned dims_of(const desc *d)
{
    unsigned m = 0;
    if (d->colour >= 0)
        m |= 1u << RR_SYNTH_DIM_COLOUR;
    if (d->size >= 0 || d->superl)
        m |= 1u << RR_SYNTH_DIM_SIZE;
    if (d->pos)
        m |= 1u << RR_SYNTH_DIM_POSITION;
    if (d->heading >= 0)
        m |= 1u << RR_SYNTH_DIM_HEADING;
    if (d->anchor >= 0)
        m |= 1u << RR_SYNTH_DIM_RELATION;
    return m ? m : 1u << RR_SYNTH_DIM_CATEGORY;
}

/* ---- descriptions -------------------------------------------------------- */

/* Which attributes a form says (bits), and how often it is tried. */
enum { A_COLOUR = 1, A_SIZE = 2, A_POS = 4, A_SUPERL = 8, A_HEADING = 16, A_REL = 32, A_OPTCOLOUR = 64 };
typedef struct {
    unsigned attrs;
    int weight, full_only;
} form;

static const form single_forms[] = {
    {0, 2, 0},                     /* the plane */
    {A_COLOUR, 4, 0},              /* the red plane */
    {A_SIZE, 2, 0},                /* the large plane */
    {A_POS, 4, 0},                 /* the plane on the left */
    {A_COLOUR | A_POS, 2, 0},      /* the red plane at the top right */
    {A_SIZE | A_COLOUR, 1, 0},     /* the small white car */
    {A_SUPERL | A_OPTCOLOUR, 3, 0}, /* the largest (red) ship */
    {A_HEADING | A_OPTCOLOUR, 3, 1}, /* the (white) plane heading left */
    {A_REL | A_OPTCOLOUR, 8, 1},   /* the car next to the white building */
};
static const form multi_forms[] = {
    {0, 3, 0},                 /* all planes, the two planes, both planes */
    {A_COLOUR, 3, 0},          /* all white cars */
    {A_SIZE, 2, 0},            /* all small ships */
    {A_POS, 3, 0},             /* the two ships at the bottom */
    {A_COLOUR | A_POS, 1, 0},  /* all red cars on the left */
    {A_HEADING, 2, 1},         /* all cars heading up */
};
static const form none_forms[] = {
    {0, 1, 0},        /* the ship (there is none) */
    {A_COLOUR, 4, 0}, /* the green plane */
    {A_SIZE, 2, 0},   /* the small storage tank */
    {A_POS, 3, 0},    /* the car on the left */
    {A_COLOUR | A_POS, 2, 0},
    {A_HEADING, 2, 1}, /* the plane heading down */
};

/* The forms in a random order, drawn by weight without replacement;
 * returns how many. */
static int order_forms(const form *f, int n, int full, rr_rng *r, const form **out)
{
    int w[16], total = 0, m = 0;
    for (int i = 0; i < n; i++)
        total += w[i] = !f[i].full_only || full ? f[i].weight : 0;
    while (total > 0) {
        int x = rnd(r, total), i = 0;
        while (x >= w[i])
            x -= w[i++];
        out[m++] = &f[i];
        total -= w[i];
        w[i] = 0;
    }
    return m;
}

/* A position that object o is in: a half or its quadrant. */
static int pos_of(const rr_synth_object *o, rr_rng *r)
{
    switch (rnd(r, 3)) {
    case 0: return o->right ? P_RIGHT : P_LEFT;
    case 1: return o->bottom ? P_BOTTOM : P_TOP;
    default: return P_TL + o->right + 2 * o->bottom;
    }
}

/* The description of object t by the attributes of a form (no quantifier). */
static int describe(const rr_synth_scene *s, int t, unsigned attrs, rr_rng *r, desc *d)
{
    const rr_synth_object *o = &s->obj[t];
    *d = (desc){Q_THE, o->cat, -1, -1, 0, P_NONE, -1, -1, 0, 0};
    if (attrs & A_COLOUR || (attrs & A_OPTCOLOUR && rnd(r, 3) == 0))
        d->colour = o->colour;
    if (attrs & A_SIZE)
        d->size = o->large;
    if (attrs & A_POS)
        d->pos = pos_of(o, r);
    if (attrs & A_SUPERL)
        d->superl = 1 + rnd(r, 2);
    if (attrs & A_HEADING) {
        if (o->heading < 0 || o->heading % 2)
            return -1;
        d->heading = o->heading / 2;
    }
    if (attrs & A_REL) {
        /* an anchor of another category right next to t, described by its
           category alone when that is unique, else with its colour */
        int cand[RR_SYNTH_MAX_OBJECTS], nc = 0;
        for (int k = 0; k < s->n; k++)
            if (s->obj[k].cat != o->cat && rr_synth_distance(s, t, k, near_px(s)) <= near_px(s))
                cand[nc++] = k;
        if (!nc)
            return -1;
        int a = cand[rnd(r, nc)], same_cat = 0, same_colour = 0;
        for (int k = 0; k < s->n; k++)
            if (k != a && s->obj[k].cat == s->obj[a].cat) {
                same_cat++;
                same_colour += s->obj[k].colour == s->obj[a].colour;
            }
        if (same_colour)
            return -1;
        d->anchor = a;
        d->anchor_colour = same_cat > 0 || rnd(r, 3) == 0;
    }
    return 0;
}

static int is_new(const char *text, const rr_synth_sentence *prev, int nprev)
{
    for (int i = 0; i < nprev; i++)
        if (strcmp(prev[i].text, text) == 0)
            return 0;
    return 1;
}

/* Finishes a sentence: words, and whether it is new. */
static int finish(const rr_synth_scene *s, const desc *d, rr_sample_type type, unsigned set, rr_rng *r,
                  const rr_synth_sentence *prev, int nprev, rr_synth_sentence *out)
{
    rr_synth_sentence sen;
    sen.type = type;
    sen.cat = d->cat;
    sen.targets = set;
    sen.dims = dims_of(d);
    words(s, d, r, sen.text);
    if (!is_new(sen.text, prev, nprev))
        return -1;
    *out = sen;
    return 0;
}

/* A no-target sentence of form f: a category (mostly one of the scene)
 * with attribute values that no object has. */
static int make_none(const rr_synth_scene *s, const form *f, rr_rng *r, const rr_synth_sentence *prev,
                     int nprev, rr_synth_sentence *out)
{
    for (int t = 0; t < 40; t++) {
        int cat = s->n && rnd(r, 10) < 7 ? s->obj[rnd(r, s->n)].cat : rnd(r, rr_synth_ncat(s->preset));
        desc d = {rnd(r, 5) ? Q_THE : Q_ALL, cat, -1, -1, 0, P_NONE, -1, -1, 0, 0};
        if (f->attrs & A_COLOUR) {
            d.colour = rnd(r, rr_synth_ncolour(s->preset));
            if (!rr_synth_colour_allowed(s->preset, cat, d.colour))
                continue;
        }
        if (f->attrs & A_SIZE)
            d.size = rnd(r, 2);
        if (f->attrs & A_POS)
            d.pos = 1 + rnd(r, 8);
        if (f->attrs & A_HEADING) {
            if (cat != RR_SYNTH_PLANE && cat != RR_SYNTH_SHIP && cat != RR_SYNTH_CAR)
                continue;
            d.heading = rnd(r, 4);
        }
        unsigned set;
        if (evaluate(s, &d, &set) == 0 && set == 0 && finish(s, &d, RR_TYPE_NONE, 0, r, prev, nprev, out) == 0)
            return 0;
    }
    return -1;
}

/* A single- or multi-target sentence of form f, about one of the objects
 * (tried in a random order). */
static int make_some(const rr_synth_scene *s, rr_sample_type type, const form *f, rr_rng *r,
                     const rr_synth_sentence *prev, int nprev, rr_synth_sentence *out)
{
    int order[RR_SYNTH_MAX_OBJECTS];
    for (int i = 0; i < s->n; i++)
        order[i] = i;
    for (int i = s->n - 1; i > 0; i--) {
        int j = rnd(r, i + 1), x = order[i];
        order[i] = order[j], order[j] = x;
    }
    for (int i = 0; i < s->n; i++)
        for (int rep = 0; rep < 3; rep++) { /* the random choices within a form */
            int t = order[i];
            desc d;
            unsigned set;
            if (describe(s, t, f->attrs, r, &d) < 0 || evaluate(s, &d, &set) < 0)
                continue;
            int n = popcount(set);
            if (type == RR_TYPE_SINGLE) {
                if (set != 1u << t)
                    continue;
            } else {
                if (n < 2)
                    continue;
                int q = rnd(r, 4);
                d.quant = q < 2 ? Q_ALL : q == 2 ? Q_NUM : n == 2 ? Q_BOTH : Q_NUM;
                d.count = n;
            }
            if (finish(s, &d, type, set, r, prev, nprev, out) == 0)
                return 0;
        }
    return -1;
}

int rr_synth_sentence_make(const rr_synth_scene *s, rr_sample_type type, uint64_t seed,
                           const rr_synth_sentence *prev, int nprev, rr_synth_sentence *out)
{
    rr_rng r = {seed, 0};
    int full = s->preset == RR_SYNTH_FULL;
    const form *order[16];
    const form *f = type == RR_TYPE_NONE ? none_forms : type == RR_TYPE_SINGLE ? single_forms : multi_forms;
    int nf = type == RR_TYPE_NONE     ? (int)(sizeof none_forms / sizeof *none_forms)
             : type == RR_TYPE_SINGLE ? (int)(sizeof single_forms / sizeof *single_forms)
                                      : (int)(sizeof multi_forms / sizeof *multi_forms);
    int n = order_forms(f, nf, full, &r, order);
    for (int i = 0; i < n; i++)
        if ((type == RR_TYPE_NONE ? make_none(s, order[i], &r, prev, nprev, out)
                                  : make_some(s, type, order[i], &r, prev, nprev, out)) == 0)
            return 0;
    return -1;
}
