/* Referring sentences for synthetic scenes, from a small grammar, each
 * unambiguous in its scene.
 *
 *   sentence := "the" [SUPERL] [SIZE] [COLOUR] NOUN [POS | HEADING | RELATION]   single
 *             | "all" [SIZE] [COLOUR] NOUNS [POS | HEADING]                     multi, none
 *             | "the" COUNT [SIZE] [COLOUR] NOUNS [POS]                        multi
 *             | "both" [SIZE] [COLOUR] NOUNS [POS]                             multi
 *   SUPERL   := largest | biggest | smallest        (by area, among the NOUNs
 *                                                   of that colour)
 *   SIZE     := large | big | small                 (the object's size class)
 *   COLOUR   := white | red | blue | yellow | green
 *   NOUN     := plane | airplane | ship | boat | car | vehicle | storage tank
 *             | tank | building | house | tennis court
 *   POS      := on the left [side] | on the right [side] | at the top
 *             | at the bottom | at the top left | at the top right
 *             | at the bottom left | at the bottom right
 *             | in the top left corner ... | in the upper left ...
 *                                                  (the half or quadrant of
 *                                                   the object's centre)
 *   HEADING  := heading left | heading right | heading up | heading down
 *   RELATION := next to the [COLOUR] NOUN | beside the [COLOUR] NOUN
 *   COUNT    := two | three | four | five | six
 * The easy preset uses no synonyms (one word a concept: plane, ship, car,
 * storage tank, large, largest, the first POS form), no HEADING and no
 * RELATION.
 *
 * What "unambiguous" means, so that a test can check it independently:
 *   - the attributes (category, colour, size class, half) are crisp;
 *   - HEADING d matches an object heading exactly d; an object 45 degrees
 *     off d (a diagonal) is "unsure": no sentence is made when an unsure
 *     object would otherwise match;
 *   - RELATION: the anchor ("the white building") matches exactly one
 *     object, of another category; the referred object lies within 6
 *     pixels (at 128, Chebyshev distance between the masks) of the anchor
 *     and every other candidate at least 14 pixels from it;
 *   - SUPERL: among at least two candidates, the largest has at least 5/4
 *     of the area of every other (the smallest at most 4/5);
 *   - single: exactly one object matches; multi: the objects that match,
 *     at least two, and COUNT or "both" is their number; none: no object
 *     matches (and none is unsure). */
#ifndef RR_SYNTH_SENTENCE_H
#define RR_SYNTH_SENTENCE_H

#include "io/manifest.h"
#include "synth/scene.h"

/* The dimensions a sentence refers by (the paper's six). */
typedef enum {
    RR_SYNTH_DIM_CATEGORY, /* by category alone ("all ships", "the plane") */
    RR_SYNTH_DIM_COLOUR,
    RR_SYNTH_DIM_SIZE,
    RR_SYNTH_DIM_POSITION,
    RR_SYNTH_DIM_HEADING,
    RR_SYNTH_DIM_RELATION,
    RR_SYNTH_NDIM
} rr_synth_dim;

#define RR_SYNTH_SENTENCE_MAX 96

typedef struct {
    rr_sample_type type;
    int cat;          /* the referred category (the sentence's for none) */
    unsigned targets; /* bit k: object k is referred */
    unsigned dims;    /* bit d: refers by dimension d */
    char text[RR_SYNTH_SENTENCE_MAX];
} rr_synth_sentence;

/* Makes a sentence of the given type for the scene, different from the
 * nprev sentences in prev.  Returns 0, or -1 when the scene has none
 * (a multi-target sentence needs two objects of a category); nothing is
 * recorded with rr_error then. */
int rr_synth_sentence_make(const rr_synth_scene *s, rr_sample_type type, uint64_t seed,
                           const rr_synth_sentence *prev, int nprev, rr_synth_sentence *out);

const char *rr_synth_dim_name(int dim);

/* Chebyshev distance in pixels between two objects' masks, when at most
 * `limit`; otherwise some value above `limit`. */
int rr_synth_distance(const rr_synth_scene *s, int a, int b, int limit);

#endif
