/* Synthetic aerial scenes for rrsis-synth: a textured background and a few
 * objects seen from above, with an exact object map.
 *
 * A scene is a pure function of (configuration, seed): integer arithmetic
 * only (fixed point in 1/16 pixel, rotations by 45 degrees with cos 45 =
 * 181/256), and the counter-based generator of rng.h, so that the same seed
 * gives the same pixels on every machine.
 *
 * Background: one ground (grass, soil or sand) with a low-frequency value
 * noise (no per-pixel noise: it would make the PNG files twice as slow to
 * write and twice as large), 0 to 2 straight asphalt roads (horizontal or
 * vertical bands with a dashed centre line), sometimes water along one edge
 * with a wavy shore and a beach, and small trees (dark green blobs, part of
 * the background) as clutter.
 *
 * Objects (2 to 6): planes, ships (on water only), cars (on a road, along
 * it, or on the ground), storage tanks, buildings with a gable roof, tennis
 * courts; each with a colour of the palette, a size class (small or large,
 * with a clear gap between the classes of one category), a heading (8
 * directions, planes, ships and cars) and a drop shadow.  Objects never
 * overlap (their bounding boxes keep a gap of 2 pixels at 128), and their
 * centres keep out of a band around the image's middle lines, so that every
 * object is clearly in one half horizontally and one vertically. */
#ifndef RR_SYNTH_SCENE_H
#define RR_SYNTH_SCENE_H

#include <stdint.h>

#include "io/image.h"

typedef enum {
    RR_SYNTH_PLANE,
    RR_SYNTH_SHIP,
    RR_SYNTH_CAR,
    RR_SYNTH_TANK,
    RR_SYNTH_BUILDING,
    RR_SYNTH_COURT,
    RR_SYNTH_NCAT
} rr_synth_cat;

typedef enum {
    RR_SYNTH_WHITE,
    RR_SYNTH_RED,
    RR_SYNTH_BLUE,
    RR_SYNTH_YELLOW,
    RR_SYNTH_GREEN,
    RR_SYNTH_NCOLOUR
} rr_synth_colour;

/* What the scenes and the sentences may use.
 *   easy: planes, ships, cars, storage tanks; white, red, blue, yellow;
 *         sentences by category, colour, size and position only.
 *   full: also buildings and tennis courts, green, sentences by heading
 *         and by relation, and a few synonyms ("airplane", "vehicle"). */
typedef enum { RR_SYNTH_EASY, RR_SYNTH_FULL } rr_synth_preset;

/* Terrain codes of rr_synth_scene.terrain. */
enum { RR_SYNTH_GROUND, RR_SYNTH_ROAD, RR_SYNTH_WATER, RR_SYNTH_BEACH };

#define RR_SYNTH_MIN_SIZE 64
#define RR_SYNTH_MAX_SIZE 1024  /* what --size takes */
/* The largest scene (the scene4096 preset: lengths at 128's scale in a
 * scene of 4096 pixels). */
#define RR_SYNTH_SCENE_MAX_SIZE 4096
#define RR_SYNTH_MAX_OBJECTS 6

typedef struct {
    int cat;     /* rr_synth_cat */
    int colour;  /* rr_synth_colour */
    int large;   /* size class: 0 small, 1 large */
    int heading; /* 0..7: 45-degree steps counter-clockwise from "right"
                    (0 right, 2 up, 4 left, 6 down); -1: none (storage
                    tanks, buildings, courts) */
    int rot;     /* the rotation drawn (heading, or 0 or 2 for buildings
                    and courts, 0 for tanks) */
    int cx16, cy16;     /* centre, in 1/16 pixel */
    int len16, wid16;   /* length along rot and width across, 1/16 pixel */
    int x0, y0, x1, y1; /* bounding box of the object's pixels, [x0, x1) */
    int area;           /* pixels of the object */
    int right, bottom;  /* the half the centre lies in: 0 left/top, 1 right/bottom */
} rr_synth_object;

/* A straight road: a band along y (vertical) or x; centre and half width
 * in pixels. */
typedef struct {
    int vertical, pos, half;
} rr_synth_road;

typedef struct {
    int size; /* width = height */
    rr_synth_preset preset;
    int object_pct;   /* objects' lengths in percent of the standard sizes
                         (100, set by rr_synth_scene_init) */
    int unit;         /* the image size the lengths are scaled to (a car 10
                         to 16 pixels long at 128): size, set by
                         rr_synth_scene_init; 128 in a larger scene keeps
                         objects, roads and relations as small as at 128 */
    rr_image image;   /* size x size, RGB */
    uint8_t *ids;     /* size * size: 0 background, k + 1 object k */
    uint8_t *terrain; /* size * size: RR_SYNTH_GROUND ... */
    int ground;       /* 0 grass, 1 soil, 2 sand */
    int water_side;   /* -1 none, else 0 left, 1 right, 2 top, 3 bottom */
    int nroads;
    rr_synth_road roads[2];
    int n;
    rr_synth_object obj[RR_SYNTH_MAX_OBJECTS];
} rr_synth_scene;

/* Allocates the buffers of a size x size scene (reused by every
 * rr_synth_scene_make). */
int rr_synth_scene_init(rr_synth_scene *s, int size, rr_synth_preset preset);
void rr_synth_scene_free(rr_synth_scene *s);

/* Draws the scene of `seed`.  With need_repeat, some category has at least
 * two objects (what a multi-target sentence needs).  Always succeeds. */
void rr_synth_scene_make(rr_synth_scene *s, uint64_t seed, int need_repeat);

/* The mask of a set of objects (bit k: object k) into a 1-channel image of
 * the scene's size (allocated by the caller): 1 on their pixels, else 0. */
void rr_synth_scene_mask(const rr_synth_scene *s, unsigned objects, rr_image *mask);

/* Names: the manifest's category ("airplane", "ship", "vehicle",
 * "storagetank", "building", "tenniscourt") and the colour word. */
const char *rr_synth_cat_name(int cat);
const char *rr_synth_colour_name(int colour);

/* How many categories and colours a preset uses (the first ones of each
 * enum), and whether a colour is drawn for a category (courts are never
 * white or yellow). */
int rr_synth_ncat(rr_synth_preset p);
int rr_synth_ncolour(rr_synth_preset p);
int rr_synth_colour_allowed(rr_synth_preset p, int cat, int colour);

/* The palette colour of an object's body (before shading and grain). */
void rr_synth_colour_rgb(int colour, uint8_t rgb[3]);

#endif
