/* Synthetic aerial scenes (see scene.h).  Integer arithmetic throughout:
 * lengths in 1/16 pixel ("units"), defined for a 128-pixel image and scaled
 * by unit / 128 (unit: the size, unless a large scene keeps 128's scale). */
#include "synth/scene.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"

/* ---- names and palette --------------------------------------------------- */

static const char *const cat_names[RR_SYNTH_NCAT] = {"airplane", "ship",     "vehicle",
                                                     "storagetank", "building", "tenniscourt"};
static const char *const colour_names[RR_SYNTH_NCOLOUR] = {"white", "red", "blue", "yellow", "green"};
static const uint8_t palette[RR_SYNTH_NCOLOUR][3] = {
    {236, 236, 232}, {206, 42, 38}, {38, 86, 214}, {238, 204, 44}, {56, 176, 64}};

const char *rr_synth_cat_name(int cat) { return cat >= 0 && cat < RR_SYNTH_NCAT ? cat_names[cat] : "?"; }
const char *rr_synth_colour_name(int c) { return c >= 0 && c < RR_SYNTH_NCOLOUR ? colour_names[c] : "?"; }
int rr_synth_ncat(rr_synth_preset p) { return p == RR_SYNTH_EASY ? 4 : RR_SYNTH_NCAT; }
int rr_synth_ncolour(rr_synth_preset p) { return p == RR_SYNTH_EASY ? 4 : RR_SYNTH_NCOLOUR; }

int rr_synth_colour_allowed(rr_synth_preset p, int cat, int colour)
{
    if (cat < 0 || cat >= rr_synth_ncat(p) || colour < 0 || colour >= rr_synth_ncolour(p))
        return 0;
    if (cat == RR_SYNTH_COURT) /* courts have white lines; yellow ones look like sand */
        return colour == RR_SYNTH_RED || colour == RR_SYNTH_BLUE || colour == RR_SYNTH_GREEN;
    return 1;
}

void rr_synth_colour_rgb(int colour, uint8_t rgb[3]) { memcpy(rgb, palette[colour], 3); }

/* ---- small helpers ------------------------------------------------------- */

/* An integer in [0, n). */
static int rnd(rr_rng *r, int n) { return (int)(rr_rng_next(r) % (uint64_t)n); }
/* An integer in [lo, hi]. */
static int rnd_in(rr_rng *r, int lo, int hi) { return lo + rnd(r, hi - lo + 1); }

static int clamp8(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }
static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* A length given in 1/16 pixel at 128 pixels, scaled to the scene. */
static int sc(const rr_synth_scene *s, int units128) { return units128 * s->unit / 128; }
/* Whole pixels at 128, scaled, at least `min` pixels. */
static int scpx(const rr_synth_scene *s, int px128, int min)
{
    return imax(min, px128 * s->unit / 128);
}

/* Direction of heading h (45-degree steps counter-clockwise from +x, with
 * y pointing down), times 256. */
static const int dir_c[8] = {256, 181, 0, -181, -256, -181, 0, 181};
static const int dir_s[8] = {0, -181, -256, -181, 0, 181, 256, 181};

int rr_synth_scene_init(rr_synth_scene *s, int size, rr_synth_preset preset)
{
    memset(s, 0, sizeof *s);
    if (size < RR_SYNTH_MIN_SIZE || size > RR_SYNTH_SCENE_MAX_SIZE)
        return rr_error("synth: image size %d is not in %d..%d", size, RR_SYNTH_MIN_SIZE,
                        RR_SYNTH_SCENE_MAX_SIZE);
    s->size = size;
    s->unit = size;
    s->preset = preset;
    s->object_pct = 100;
    s->ids = malloc((size_t)size * size);
    s->terrain = malloc((size_t)size * size);
    if (!s->ids || !s->terrain || rr_image_alloc(&s->image, size, size, 3) < 0) {
        rr_synth_scene_free(s);
        return rr_error("synth: out of memory");
    }
    return 0;
}

void rr_synth_scene_free(rr_synth_scene *s)
{
    if (!s)
        return;
    free(s->ids);
    free(s->terrain);
    rr_image_free(&s->image);
    memset(s, 0, sizeof *s);
}

/* ---- background ---------------------------------------------------------- */

typedef rr_synth_road road;

/* Value noise: a lattice of random values in [-128, 127] every `g` pixels,
 * interpolated bilinearly, a row at a time; values in [-128, 127]. */
typedef struct {
    int g, n;
    int8_t *v;
    int *ix, *fx; /* per x: the lattice column left of x, and the weight of the next */
    int *col;     /* the lattice interpolated along y for the current row */
} lattice;

static void lattice_free(lattice *l)
{
    free(l->v);
    free(l->ix);
    free(l->fx);
    free(l->col);
    memset(l, 0, sizeof *l);
}

static int lattice_make(lattice *l, int size, int g, uint64_t seed)
{
    l->g = g;
    l->n = size / g + 2;
    l->v = malloc((size_t)l->n * l->n);
    l->ix = malloc((size_t)size * sizeof *l->ix);
    l->fx = malloc((size_t)size * sizeof *l->fx);
    l->col = malloc((size_t)l->n * sizeof *l->col);
    if (!l->v || !l->ix || !l->fx || !l->col) {
        lattice_free(l);
        return -1;
    }
    for (int i = 0; i < l->n * l->n; i++)
        l->v[i] = (int8_t)(rr_rand64(seed, (uint64_t)i) >> 56);
    for (int x = 0; x < size; x++) {
        l->ix[x] = x / g;
        l->fx[x] = (x % g) * 256 / g;
    }
    return 0;
}

/* Row y of the noise into out[0..size). */
static void lattice_row(const lattice *l, int y, int size, int *out)
{
    if (!l->v) {
        memset(out, 0, (size_t)size * sizeof *out);
        return;
    }
    int iy = y / l->g, fy = (y % l->g) * 256 / l->g;
    const int8_t *a = l->v + (size_t)iy * l->n, *b = a + l->n;
    for (int i = 0; i < l->n; i++)
        l->col[i] = a[i] * (256 - fy) + b[i] * fy;
    for (int x = 0; x < size; x++) {
        int k = l->ix[x], f = l->fx[x];
        out[x] = (l->col[k] * (256 - f) + l->col[k + 1] * f) >> 16;
    }
}

/* The same along one axis. */
static int noise1(uint64_t seed, int t, int g)
{
    int i = t / g, f = (t % g) * 256 / g;
    int a = (int8_t)(rr_rand64(seed, (uint64_t)i) >> 56), b = (int8_t)(rr_rand64(seed, (uint64_t)i + 1) >> 56);
    return (a * (256 - f) + b * f) >> 8;
}

static const uint8_t ground_rgb[3][3] = {{88, 118, 62}, {132, 108, 82}, {184, 168, 132}};
static const int ground_amp[3] = {22, 18, 12};
static const uint8_t road_rgb[3] = {92, 92, 96};
static const uint8_t water_rgb[3] = {32, 62, 92};
static const uint8_t beach_rgb[3] = {196, 182, 146};

/* Fine grain (for trees): a byte a pixel from one 64-bit draw per 8
 * pixels. */
static int grain(uint64_t seed, int i, int amp)
{
    uint64_t r = rr_rand64(seed, (uint64_t)i >> 3);
    int b = (int)((r >> ((i & 7) * 8)) & 255);
    return (b - 128) * amp / 128;
}

static void fill(uint8_t *row, int S, int x0, int x1, int t)
{
    x0 = imax(x0, 0), x1 = imin(x1, S);
    if (x1 > x0)
        memset(row + x0, t, (size_t)(x1 - x0));
}

static void draw_background(rr_synth_scene *s, rr_rng *r, const road *roads, int nroads, int water_depth)
{
    int S = s->size;
    uint64_t tex = rr_rng_next(r), shore = rr_rng_next(r);
    lattice big = {0}, water = {0};
    /* out of memory: a flat background is still a valid scene */
    lattice_make(&big, S, scpx(s, 16, 4), tex);
    lattice_make(&water, S, scpx(s, 24, 6), tex ^ 1);
    int g = s->ground, amp = ground_amp[g];
    int beach = g == 2 ? 0 : scpx(s, 2, 1), wob = scpx(s, 16, 4), dash = scpx(s, 4, 2), line = scpx(s, 1, 1);
    int *edge = malloc((size_t)S * sizeof *edge), *nb = malloc((size_t)S * sizeof *nb),
        *nw = malloc((size_t)S * sizeof *nw);
    if (!edge || !nb || !nw) { /* out of memory: flat */
        free(edge), free(nb), free(nw);
        memset(s->terrain, RR_SYNTH_GROUND, (size_t)S * S);
        for (int i = 0; i < S * S; i++)
            memcpy(s->image.data + 3 * i, ground_rgb[g], 3);
        lattice_free(&big);
        lattice_free(&water);
        return;
    }
    /* the water's depth along the shore */
    for (int a = 0; a < S; a++)
        edge[a] = water_depth + noise1(shore, a, wob) * scpx(s, 3, 1) / 128;
    for (int y = 0; y < S; y++) {
        uint8_t *t = s->terrain + (size_t)y * S;
        memset(t, RR_SYNTH_GROUND, (size_t)S);
        for (int k = 0; k < nroads; k++) {
            const road *rd = &roads[k];
            if (rd->vertical)
                fill(t, S, rd->pos - rd->half, rd->pos + rd->half, RR_SYNTH_ROAD);
            else if (y >= rd->pos - rd->half && y < rd->pos + rd->half)
                fill(t, S, 0, S, RR_SYNTH_ROAD);
        }
        switch (s->water_side) {
        case 0:
            fill(t, S, edge[y], edge[y] + beach, RR_SYNTH_BEACH);
            fill(t, S, 0, edge[y], RR_SYNTH_WATER);
            break;
        case 1:
            fill(t, S, S - edge[y] - beach, S - edge[y], RR_SYNTH_BEACH);
            fill(t, S, S - edge[y], S, RR_SYNTH_WATER);
            break;
        case 2:
        case 3:
            for (int x = 0; x < S; x++) {
                int depth = s->water_side == 2 ? y : S - 1 - y;
                if (depth < edge[x])
                    t[x] = RR_SYNTH_WATER;
                else if (depth < edge[x] + beach)
                    t[x] = RR_SYNTH_BEACH;
            }
            break;
        }
        lattice_row(&big, y, S, nb);
        lattice_row(&water, y, S, nw);
        /* smooth textures only: noise in every pixel would make the PNG
           files about twice as slow to write and twice as large */
        for (int x = 0; x < S; x++) {
            int i = y * S + x;
            const uint8_t *base;
            int n;
            switch (t[x]) {
            case RR_SYNTH_ROAD: base = road_rgb, n = nb[x] * 5 / 128; break;
            case RR_SYNTH_WATER: base = water_rgb, n = nw[x] * 8 / 128; break;
            case RR_SYNTH_BEACH: base = beach_rgb, n = 0; break;
            default: base = ground_rgb[g], n = nb[x] * amp / 128;
            }
            uint8_t *p = s->image.data + 3 * i;
            p[0] = (uint8_t)clamp8(base[0] + n);
            p[1] = (uint8_t)clamp8(base[1] + n);
            p[2] = (uint8_t)clamp8(base[2] + n);
        }
    }
    /* dashed centre lines */
    for (int k = 0; k < nroads; k++)
        for (int a = 0; a < S; a++) {
            if ((a / dash) % 2)
                continue;
            for (int w = 0; w < line; w++) {
                int x = roads[k].vertical ? roads[k].pos - line / 2 + w : a;
                int y = roads[k].vertical ? a : roads[k].pos - line / 2 + w;
                if (x < 0 || y < 0 || x >= S || y >= S || s->terrain[y * S + x] != RR_SYNTH_ROAD)
                    continue;
                uint8_t *p = s->image.data + 3 * (y * S + x);
                p[0] = 205, p[1] = 205, p[2] = 195;
            }
        }
    lattice_free(&big);
    lattice_free(&water);
    free(edge);
    free(nb);
    free(nw);
}

/* ---- object shapes ------------------------------------------------------- */

/* Local half extents: along the object's axis (u) and across (v). */
static void half_extents(const rr_synth_object *o, int *hu, int *hv)
{
    *hu = o->len16 / 2;
    *hv = o->cat == RR_SYNTH_PLANE ? o->len16 * 7 / 16 : o->wid16 / 2;
}

/* Half extents of the rotated shape in x and y, units, with some slack. */
static void box_extents(const rr_synth_object *o, int *ex, int *ey)
{
    int hu, hv;
    half_extents(o, &hu, &hv);
    if (o->rot % 2) {
        *ex = *ey = (hu + hv) * 181 / 256 + 12;
    } else if (o->rot % 4 == 0) {
        *ex = hu + 8, *ey = hv + 8;
    } else {
        *ex = hv + 8, *ey = hu + 8;
    }
}

/* Parts: 0 outside, 1 body, 2 dark detail (glass), 3 light detail
 * (superstructure), 4 white markings, 5 shaded body (roof side). */
static int part_at(const rr_synth_object *o, int u, int v, int lw)
{
    int L = o->len16, W = o->wid16, h = L / 2, hw = W / 2, av = v < 0 ? -v : v, au = u < 0 ? -u : u;
    switch (o->cat) {
    case RR_SYNTH_PLANE: {
        int fw = imax(L / 14, 12);
        if (u >= -h && av <= fw && 3 * av <= h - u)
            return 1; /* fuselage, pointed nose */
        if (av <= L * 7 / 16 && u >= -L / 10 - av / 4 && u <= L / 8 - av / 2)
            return 1; /* swept wings */
        if (av <= L * 3 / 16 && u >= -h && u <= -h + L / 7 - av / 2)
            return 1; /* tailplane */
        return 0;
    }
    case RR_SYNTH_SHIP:
        if (u < -h || u > h || av > hw || 2 * av > h - u)
            return 0;
        if (u >= -h + L / 12 && u <= -h + L / 12 + L / 5 && av <= imax(hw / 2, 8))
            return 3;
        return 1;
    case RR_SYNTH_CAR:
        if (au > h || av > hw || au + av > h + hw - W / 4)
            return 0;
        if (av <= hw - W / 6 && ((u >= L / 10 && u <= L / 10 + L / 6) || (u <= -L / 4 && u >= -L / 4 - L / 10)))
            return 2;
        return 1;
    case RR_SYNTH_TANK: {
        int d2 = u * u + v * v, r1 = h * 7 / 10, r2 = h * 8 / 10, r0 = h / 6;
        if (d2 > h * h)
            return 0;
        return (d2 >= r1 * r1 && d2 <= r2 * r2) || d2 <= r0 * r0 ? 2 : 1;
    }
    case RR_SYNTH_BUILDING:
        if (au > h || av > hw)
            return 0;
        return v < 0 ? 1 : 5;
    case RR_SYNTH_COURT:
        if (au > h || av > hw)
            return 0;
        if (au > h - lw || av > hw - lw || au <= lw / 2 || (av <= lw / 2 && au <= L / 4) ||
            (abs(au - L / 4) <= lw / 2 && av <= hw - lw))
            return 4;
        return 1;
    }
    return 0;
}

/* Conservative bounding box of an object (pixels, [x0, x1)), optionally
 * grown by `grow` pixels. */
static void object_box(const rr_synth_object *o, int grow, int *x0, int *y0, int *x1, int *y1)
{
    int ex, ey;
    box_extents(o, &ex, &ey);
    *x0 = ((o->cx16 - ex) >> 4) - grow;
    *y0 = ((o->cy16 - ey) >> 4) - grow;
    *x1 = ((o->cx16 + ex) >> 4) + 1 + grow;
    *y1 = ((o->cy16 + ey) >> 4) + 1 + grow;
}

/* Calls part_at for the pixel (x, y) of object o, displaced by (ox, oy)
 * units (a shadow). */
static int part_px(const rr_synth_object *o, int x, int y, int ox, int oy, int lw)
{
    int dx = x * 16 + 8 - o->cx16 - ox, dy = y * 16 + 8 - o->cy16 - oy;
    int c = dir_c[o->rot], sn = dir_s[o->rot];
    int u = (dx * c + dy * sn) / 256, v = (-dx * sn + dy * c) / 256;
    return part_at(o, u, v, lw);
}

static void darken(uint8_t *p, int num)
{
    for (int c = 0; c < 3; c++)
        p[c] = (uint8_t)(p[c] * num / 256);
}

static void draw_shadow(rr_synth_scene *s, const rr_synth_object *o, int off, int lw)
{
    int S = s->size, x0, y0, x1, y1;
    object_box(o, 0, &x0, &y0, &x1, &y1);
    x1 += (off >> 4) + 1, y1 += (off >> 4) + 1;
    for (int y = imax(y0, 0); y < imin(y1, S); y++)
        for (int x = imax(x0, 0); x < imin(x1, S); x++)
            if (part_px(o, x, y, off, off, lw) && !part_px(o, x, y, 0, 0, lw))
                darken(s->image.data + 3 * (y * S + x), 150);
}

static void draw_object(rr_synth_scene *s, int k, uint64_t seed, int lw)
{
    rr_synth_object *o = &s->obj[k];
    int S = s->size, x0, y0, x1, y1;
    object_box(o, 0, &x0, &y0, &x1, &y1);
    x0 = imax(x0, 0), y0 = imax(y0, 0), x1 = imin(x1, S), y1 = imin(y1, S);
    int jitter = (int)(rr_rand64(seed, 0) % 17) - 8;
    uint8_t body[3];
    for (int c = 0; c < 3; c++)
        body[c] = (uint8_t)clamp8(palette[o->colour][c] + jitter);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            int part = part_px(o, x, y, 0, 0, lw);
            if (!part)
                continue;
            int i = y * S + x;
            s->ids[i] = (uint8_t)(k + 1);
            uint8_t *p = s->image.data + 3 * i;
            for (int c = 0; c < 3; c++) {
                int v;
                switch (part) {
                case 2: v = 40 + 4 * c; break;
                case 3: v = o->colour == RR_SYNTH_WHITE ? 150 : 228; break;
                case 4: v = 240; break;
                case 5: v = body[c] * 200 / 256; break;
                default: v = body[c];
                }
                p[c] = (uint8_t)v;
            }
        }
    /* a darker rim, the tight box and the area */
    int area = 0, bx0 = S, by0 = S, bx1 = 0, by1 = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            int i = y * S + x;
            if (s->ids[i] != k + 1)
                continue;
            area++;
            bx0 = imin(bx0, x), by0 = imin(by0, y), bx1 = imax(bx1, x + 1), by1 = imax(by1, y + 1);
            int edge = x == 0 || y == 0 || x == S - 1 || y == S - 1 || s->ids[i - 1] != k + 1 ||
                       s->ids[i + 1] != k + 1 || s->ids[i - S] != k + 1 || s->ids[i + S] != k + 1;
            if (edge)
                darken(s->image.data + 3 * i, 196);
        }
    o->area = area;
    o->x0 = bx0, o->y0 = by0, o->x1 = bx1, o->y1 = by1;
}

/* ---- layout -------------------------------------------------------------- */

/* Object sizes at 128 pixels: length (diameter for tanks), small and large
 * ranges in pixels, before the scene's object_pct. */
static const int len_range[RR_SYNTH_NCAT][2][2] = {
    {{17, 21}, {28, 34}}, /* plane */
    {{15, 19}, {26, 32}}, /* ship */
    {{10, 11}, {14, 16}}, /* car */
    {{10, 12}, {17, 22}}, /* tank */
    {{13, 16}, {24, 30}}, /* building */
    {{18, 20}, {26, 30}}, /* court */
};

static void pick_shape(rr_synth_scene *s, rr_rng *r, rr_synth_object *o)
{
    const int *lr = len_range[o->cat][o->large];
    o->len16 = sc(s, rnd_in(r, lr[0] * 16, lr[1] * 16)) * s->object_pct / 100;
    switch (o->cat) {
    case RR_SYNTH_SHIP: o->wid16 = imax(o->len16 / 4, 40); break;
    case RR_SYNTH_CAR: o->wid16 = o->len16 * 9 / 20; break;
    case RR_SYNTH_TANK: o->wid16 = o->len16; break;
    case RR_SYNTH_BUILDING: o->wid16 = o->len16 * rnd_in(r, 55, 85) / 100; break;
    case RR_SYNTH_COURT: o->wid16 = o->len16 * 11 / 24; break;
    default: o->wid16 = o->len16 * 7 / 8;
    }
    if (o->cat == RR_SYNTH_PLANE || o->cat == RR_SYNTH_SHIP || o->cat == RR_SYNTH_CAR) {
        o->heading = o->rot = rnd(r, 8);
    } else {
        o->heading = -1;
        o->rot = o->cat == RR_SYNTH_TANK ? 0 : 2 * rnd(r, 2);
    }
}

/* Whether object o (not yet placed) can stand where it is. */
static int fits(const rr_synth_scene *s, const rr_synth_object *o, int on_road, int gap)
{
    int S = s->size, x0, y0, x1, y1;
    object_box(o, 0, &x0, &y0, &x1, &y1);
    if (x0 < 1 || y0 < 1 || x1 > S - 1 || y1 > S - 1)
        return 0;
    int band = S * 16 / 12; /* centres keep out of the middle band, units */
    if (abs(o->cx16 - S * 8) < band || abs(o->cy16 - S * 8) < band)
        return 0;
    for (int k = 0; k < s->n; k++) {
        int a0, b0, a1, b1;
        object_box(&s->obj[k], gap, &a0, &b0, &a1, &b1);
        if (x0 < a1 && a0 < x1 && y0 < b1 && b0 < y1)
            return 0;
    }
    /* terrain under the box grown by a pixel */
    int gx0 = imax(x0 - 1, 0), gy0 = imax(y0 - 1, 0), gx1 = imin(x1 + 1, S), gy1 = imin(y1 + 1, S);
    for (int y = gy0; y < gy1; y++)
        for (int x = gx0; x < gx1; x++) {
            int t = s->terrain[y * S + x];
            int inner = x >= x0 && x < x1 && y >= y0 && y < y1;
            if (o->cat == RR_SYNTH_SHIP) {
                if (t != RR_SYNTH_WATER)
                    return 0;
            } else if (on_road) {
                if (inner && t != RR_SYNTH_ROAD)
                    return 0;
            } else if (t == RR_SYNTH_WATER || t == RR_SYNTH_ROAD || (t == RR_SYNTH_BEACH && inner)) {
                return 0;
            }
        }
    return 1;
}

/* Tries to place object o; appends it to the scene on success. */
static int place(rr_synth_scene *s, rr_rng *r, rr_synth_object o, const road *roads, int nroads)
{
    int S = s->size, gap = scpx(s, 2, 2);
    for (int t = 0; t < 60; t++) {
        int on_road = 0;
        int ex, ey;
        if (o.cat == RR_SYNTH_CAR && nroads && rnd(r, 10) < 6) {
            /* along a road, in a lane */
            const road *rd = &roads[rnd(r, nroads)];
            int back = rnd(r, 2), lane = rnd_in(r, 0, rd->half * 16 / 2);
            o.heading = o.rot = rd->vertical ? (back ? 6 : 2) : (back ? 4 : 0);
            /* right-hand traffic: the lane to the right of the heading */
            int across = rd->pos * 16 + ((o.rot == 0 || o.rot == 2) ? lane : -lane);
            int along = rnd_in(r, 0, S * 16 - 1);
            o.cx16 = rd->vertical ? across : along;
            o.cy16 = rd->vertical ? along : across;
            on_road = 1;
        } else if (s->n && rnd(r, 10) < 4) {
            /* right next to an object placed before, of another category
               when there is one */
            const rr_synth_object *a = &s->obj[rnd(r, s->n)];
            for (int k = 0; k < s->n && a->cat == o.cat; k++)
                a = &s->obj[k];
            int a0, b0, a1, b1, side = rnd(r, 4), g = rnd_in(r, gap, gap + scpx(s, 1, 1));
            object_box(a, 0, &a0, &b0, &a1, &b1);
            box_extents(&o, &ex, &ey);
            if (side < 2) {
                o.cx16 = side == 0 ? (a0 - g) * 16 - ex - 8 : (a1 + g) * 16 + ex + 8;
                o.cy16 = a->cy16 + rnd_in(r, -(b1 - b0) * 8, (b1 - b0) * 8);
            } else {
                o.cy16 = side == 2 ? (b0 - g) * 16 - ey - 8 : (b1 + g) * 16 + ey + 8;
                o.cx16 = a->cx16 + rnd_in(r, -(a1 - a0) * 8, (a1 - a0) * 8);
            }
        } else {
            box_extents(&o, &ex, &ey);
            int lo = 16 + ex, hi = S * 16 - 16 - ex;
            if (hi <= lo)
                return 0;
            o.cx16 = rnd_in(r, lo, hi);
            lo = 16 + ey, hi = S * 16 - 16 - ey;
            o.cy16 = rnd_in(r, lo, hi);
        }
        if (fits(s, &o, on_road, gap)) {
            o.right = o.cx16 > S * 8;
            o.bottom = o.cy16 > S * 8;
            s->obj[s->n++] = o;
            return 1;
        }
    }
    return 0;
}

static void draw_trees(rr_synth_scene *s, rr_rng *r)
{
    int S = s->size, count = s->ground == 0 ? rnd_in(r, 2, 10) : rnd(r, 4);
    int margin = scpx(s, 3, 2), off = sc(s, 24);
    uint64_t seed = rr_rng_next(r);
    for (int t = 0; t < count; t++) {
        int rad = sc(s, rnd_in(r, 32, 56)), cx = rnd_in(r, 0, S * 16 - 1), cy = rnd_in(r, 0, S * 16 - 1);
        int x0 = (cx - rad) >> 4, y0 = (cy - rad) >> 4, x1 = ((cx + rad + off) >> 4) + 1, y1 = ((cy + rad + off) >> 4) + 1;
        if (x0 < 0 || y0 < 0 || x1 > S || y1 > S)
            continue;
        int ok = 1;
        for (int k = 0; k < s->n && ok; k++) {
            int a0, b0, a1, b1;
            object_box(&s->obj[k], margin, &a0, &b0, &a1, &b1);
            b1 += (sc(s, 32) >> 4) + 1, a1 += (sc(s, 32) >> 4) + 1; /* the object's shadow */
            ok = !(x0 < a1 && a0 < x1 && y0 < b1 && b0 < y1);
        }
        for (int y = y0; y < y1 && ok; y++)
            for (int x = x0; x < x1 && ok; x++)
                ok = s->terrain[y * S + x] == RR_SYNTH_GROUND;
        if (!ok)
            continue;
        for (int pass = 0; pass < 2; pass++)
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                    int dx = x * 16 + 8 - cx - (pass ? 0 : off), dy = y * 16 + 8 - cy - (pass ? 0 : off);
                    if (dx * dx + dy * dy > rad * rad)
                        continue;
                    int i = y * S + x;
                    uint8_t *p = s->image.data + 3 * i;
                    if (!pass) {
                        darken(p, 160);
                        continue;
                    }
                    int light = (dx + dy < -rad / 2) ? 14 : 0, n = grain(seed, i, 10);
                    p[0] = (uint8_t)clamp8(40 + light + n);
                    p[1] = (uint8_t)clamp8(76 + light + n);
                    p[2] = (uint8_t)clamp8(36 + light / 2 + n);
                }
    }
}

/* The scene's background: ground, roads, water (and the terrain map). */
static void background(rr_synth_scene *s, rr_rng *r)
{
    int S = s->size;
    s->ground = rnd(r, 3);
    s->water_side = rnd(r, 10) < 4 ? rnd(r, 4) : -1;
    int depth = S * rnd_in(r, 38, 58) / 100;
    road roads[2];
    int nr = rnd(r, 20), nroads = nr < 7 ? 0 : nr < 16 ? 1 : 2;
    for (int k = 0; k < nroads; k++) {
        roads[k].vertical = k ? !roads[0].vertical : rnd(r, 2);
        roads[k].half = scpx(s, rnd_in(r, 6, 8), 3);
        roads[k].pos = S * rnd_in(r, 15, 85) / 100;
    }
    draw_background(s, r, roads, nroads, depth);
    s->nroads = nroads;
    memcpy(s->roads, roads, sizeof roads);
}

/* Chooses the objects and places them (no drawing). */
static void layout(rr_synth_scene *s, rr_rng *r, int need_repeat)
{
    int ncat = rr_synth_ncat(s->preset);
    s->n = 0;
    /* categories of the scene: ships only where there is water */
    int cats[RR_SYNTH_NCAT], nc = 0;
    for (int c = 0; c < ncat; c++)
        if (c != RR_SYNTH_SHIP || s->water_side >= 0)
            cats[nc++] = c;
    for (int i = nc - 1; i > 0; i--) {
        int j = rnd(r, i + 1), t = cats[i];
        cats[i] = cats[j], cats[j] = t;
    }
    if (s->water_side >= 0 && rnd(r, 10) < 8)
        for (int i = 0; i < nc; i++)
            if (cats[i] == RR_SYNTH_SHIP) {
                cats[i] = cats[0], cats[0] = RR_SYNTH_SHIP;
            }
    int nobj = rnd_in(r, 2, RR_SYNTH_MAX_OBJECTS), k = imin(rnd_in(r, 1, 3), nobj);
    rr_synth_object want[RR_SYNTH_MAX_OBJECTS];
    memset(want, 0, sizeof want);
    for (int i = 0; i < nobj; i++) {
        want[i].cat = i < k ? cats[i] : cats[rnd(r, k)];
        if (need_repeat && i == 1 && k >= nobj)
            want[i].cat = want[0].cat;
        do
            want[i].colour = rnd(r, rr_synth_ncolour(s->preset));
        while (!rr_synth_colour_allowed(s->preset, want[i].cat, want[i].colour));
        want[i].large = rnd(r, 2);
        pick_shape(s, r, &want[i]);
    }
    /* largest first: they are the hardest to fit */
    for (int i = 1; i < nobj; i++)
        for (int j = i; j > 0 && want[j].len16 * want[j].wid16 > want[j - 1].len16 * want[j - 1].wid16; j--) {
            rr_synth_object t = want[j];
            want[j] = want[j - 1], want[j - 1] = t;
        }
    for (int i = 0; i < nobj; i++)
        place(s, r, want[i], s->roads, s->nroads);
}

static int has_repeat(const rr_synth_scene *s)
{
    for (int i = 0; i < s->n; i++)
        for (int j = i + 1; j < s->n; j++)
            if (s->obj[i].cat == s->obj[j].cat)
                return 1;
    return 0;
}

void rr_synth_scene_make(rr_synth_scene *s, uint64_t seed, int need_repeat)
{
    int S = s->size, lw = imax(sc(s, 16), 12), off = sc(s, 32);
    for (int attempt = 0;; attempt++) {
        rr_rng r = {rr_rand64(seed, (uint64_t)attempt), 0};
        background(s, &r);
        /* a few layouts on one background before drawing a new one */
        int ok = 0;
        for (int t = 0; t < 8 && !ok; t++) {
            layout(s, &r, need_repeat);
            ok = s->n >= 2 && (!need_repeat || has_repeat(s));
        }
        if (!ok && attempt < 50)
            continue;
        memset(s->ids, 0, (size_t)S * S);
        for (int k = 0; k < s->n; k++)
            draw_shadow(s, &s->obj[k], off, lw);
        uint64_t obj_seed = rr_rng_next(&r);
        for (int k = 0; k < s->n; k++)
            draw_object(s, k, rr_rand64(obj_seed, (uint64_t)k), lw);
        draw_trees(s, &r);
        return;
    }
}

void rr_synth_scene_mask(const rr_synth_scene *s, unsigned objects, rr_image *mask)
{
    size_t n = (size_t)s->size * s->size;
    for (size_t i = 0; i < n; i++) {
        int id = s->ids[i];
        mask->data[i] = id && (objects >> (id - 1) & 1u);
    }
}
