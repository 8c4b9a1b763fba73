/* Masks as polygons in a vector file (rrsis-decode --vector): GeoJSON,
 * GeoPackage or Shapefile, by the name's extension (.geojson, .gpkg, .shp).
 *
 * Every scene's mask goes through GDALPolygonize with 4-connectedness: a
 * polygon is a set of foreground pixels joined by their edges, so every
 * polygon is a valid simple feature (8-connected pixels touching at a
 * corner alone would make rings that touch themselves, which QGIS, GEOS and
 * PostGIS call invalid, and simplification can break); pixels that touch
 * at a corner only are two features.  Holes stay holes.  Each polygon is
 * one feature of the one layer "masks", whatever the number of scenes,
 * with the attributes
 *   id         the scene's id
 *   sentence   the sentence
 *   pixels     its pixels (counted before any simplification)
 *   area_m2    pixels times a pixel's area in square metres, when the CRS
 *              is projected; null otherwise (degrees have no fixed area)
 *   mean_prob  the mean foreground probability of its pixels
 * The polygons' coordinates follow the scene's geotransform (pixel corners;
 * pixel coordinates when there is none), simplified with
 * OGR_G_SimplifyPreserveTopology by `simplify` map units when > 0, then
 * reprojected to EPSG:4326 (longitude, latitude: GIS order) when wgs84 is
 * set.  A GeoJSON file in EPSG:4326 follows RFC 7946.  Scenes of another
 * CRS than the layer's are reprojected to it.
 *
 *   rr_polygons *v = rr_polygons_open("out.gpkg", 0, 0.0);
 *   rr_polygons_scene_begin(v, w, h, &georef);
 *   rr_polygons_scene_rows(v, n, mask, prob); ...     (every row, in order)
 *   rr_polygons_scene_end(v, id, sentence, 1);
 *   rr_polygons_close(v, 1);
 *
 * A scene's mask and probabilities are kept until its end in memory when
 * small (4M pixels at most: 20 MB), otherwise in a temporary DEFLATE GeoTIFF in
 * $TMPDIR (else /tmp), removed at the end, and read back with GDAL's block
 * cache held to two rows of its blocks: memory stays bounded by rows (and
 * the polygons themselves). */
#ifndef RR_IO_POLYGONS_H
#define RR_IO_POLYGONS_H

#include <stdint.h>

#include "georef.h"

typedef struct rr_polygons rr_polygons;

/* Whether a name has one of the extensions rr_polygons_open takes. */
int rr_polygons_format_known(const char *path);
/* Whether a GeoJSON name (the default CRS of --vector: EPSG:4326). */
int rr_polygons_is_geojson(const char *path);

/* Creates the file (replacing one there); NULL with a message. */
rr_polygons *rr_polygons_open(const char *path, int wgs84, double simplify);
int rr_polygons_scene_begin(rr_polygons *v, int width, int height, const rr_georef *g);
/* The scene's next n rows: mask (nonzero: foreground) and prob (the
 * foreground probability of each pixel). */
int rr_polygons_scene_rows(rr_polygons *v, int n, const uint8_t *mask, const float *prob);
/* Polygonises the scene (ok 0: drops it). */
int rr_polygons_scene_end(rr_polygons *v, const char *id, const char *sentence, int ok);
/* Finishes the file (ok 0: removes it); frees v. */
int rr_polygons_close(rr_polygons *v, int ok);

#endif
