#include "polygons.h"

#include <gdal.h>
#include <gdal_alg.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../error.h"
#include "folder.h"

/* Scenes of at most this many pixels are polygonised from memory. */
#define IN_MEMORY_PIXELS (1L << 22)
/* Rows rasterised at a time when a polygon's pixels are counted. */
#define CHUNK_ROWS 256

struct rr_polygons {
    char *path;
    int wgs84;
    double simplify;
    GDALDatasetH ds;
    int transaction;            /* one is open */
    OGRLayerH layer;            /* made with the first scene */
    OGRSpatialReferenceH srs;   /* the layer's, or NULL */
    /* the scene being written: its mask and its probabilities */
    GDALDatasetH scene[2];
    rr_band_rows rows[2];       /* their writers */
    char scratch[2][64];        /* their temporary GeoTIFFs, or "" */
    int width, height, y;
    rr_georef g;                /* g.crs: crs, a copy */
    char *crs;
};

static const char *driver_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return NULL;
    if (strcasecmp(dot, ".geojson") == 0)
        return "GeoJSON";
    if (strcasecmp(dot, ".gpkg") == 0)
        return "GPKG";
    if (strcasecmp(dot, ".shp") == 0)
        return "ESRI Shapefile";
    return NULL;
}

int rr_polygons_format_known(const char *path) { return driver_of(path) != NULL; }
int rr_polygons_is_geojson(const char *path)
{
    const char *d = driver_of(path);
    return d && strcmp(d, "GeoJSON") == 0;
}

rr_polygons *rr_polygons_open(const char *path, int wgs84, double simplify)
{
    rr_gdal_init();
    const char *name = driver_of(path);
    rr_polygons *v = calloc(1, sizeof *v);
    if (!v || !(v->path = strdup(path))) {
        free(v);
        rr_error("out of memory");
        return NULL;
    }
    v->wgs84 = wgs84;
    v->simplify = simplify;
    GDALDriverH drv = name ? GDALGetDriverByName(name) : NULL;
    int rc = drv ? 0 : rr_error("%s: not a .geojson, .gpkg or .shp name", path);
    if (!rc && rr_path_exists(path) && GDALDeleteDataset(drv, path) != CE_None && unlink(path))
        rc = rr_gdal_error("%s: cannot replace it", path);
    if (!rc && !(v->ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL)))
        rc = rr_gdal_error("%s: cannot create it", path);
    if (rc) {
        free(v->path);
        free(v);
        return NULL;
    }
    /* a GeoPackage's inserts in one transaction (GeoJSON has none) */
    v->transaction = GDALDatasetStartTransaction(v->ds, FALSE) == OGRERR_NONE;
    return v;
}

/* The layer, made on first use with the CRS crs (WKT or NULL). */
static int make_layer(rr_polygons *v, const char *crs)
{
    if (v->wgs84) {
        v->srs = OSRNewSpatialReference(NULL);
        if (OSRImportFromEPSG(v->srs, 4326) != OGRERR_NONE)
            return rr_gdal_error("EPSG:4326");
    } else if (crs) {
        v->srs = OSRNewSpatialReference(NULL);
        if (OSRImportFromWkt(v->srs, (char **)&crs) != OGRERR_NONE)
            return rr_gdal_error("the scene's CRS");
    }
    if (v->srs)
        OSRSetAxisMappingStrategy(v->srs, OAMS_TRADITIONAL_GIS_ORDER);
    char *geojson_opts[] = {"RFC7946=YES", NULL};
    char **opts = v->wgs84 && rr_polygons_is_geojson(v->path) ? geojson_opts : NULL;
    if (!(v->layer = GDALDatasetCreateLayer(v->ds, "masks", v->srs, wkbPolygon, opts)))
        return rr_gdal_error("%s: cannot make the layer", v->path);
    static const struct {
        const char *name;
        OGRFieldType type;
    } fields[] = {{"id", OFTString}, {"sentence", OFTString}, {"pixels", OFTInteger64},
                  {"area_m2", OFTReal}, {"mean_prob", OFTReal}};
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
        OGRFieldDefnH f = OGR_Fld_Create(fields[k].name, fields[k].type);
        OGRErr e = OGR_L_CreateField(v->layer, f, TRUE);
        OGR_Fld_Destroy(f);
        if (e != OGRERR_NONE)
            return rr_gdal_error("%s: cannot make the field %s", v->path, fields[k].name);
    }
    return 0;
}

/* A raster of the scene's size: in memory, or a temporary GeoTIFF whose
 * name goes to scratch (the file is removed when closed: rm_scratch). */
static GDALDatasetH scene_raster(rr_polygons *v, GDALDataType type, char *scratch)
{
    scratch[0] = 0;
    if ((long)v->width * v->height <= IN_MEMORY_PIXELS)
        return GDALCreate(GDALGetDriverByName("MEM"), "", v->width, v->height, 1, type, NULL);
    const char *dir = getenv("TMPDIR");
    snprintf(scratch, 64, "%.40s/rrsis-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(scratch);
    if (fd < 0) {
        rr_error("a temporary file in %s: %m", dir && *dir ? dir : "/tmp");
        scratch[0] = 0;
        return NULL;
    }
    close(fd);
    char *opts[] = {"TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=YES", "SPARSE_OK=YES", NULL};
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), scratch, v->width, v->height, 1, type, opts);
    if (!ds)
        rr_gdal_error("a temporary GeoTIFF of %dx%d", v->width, v->height);
    return ds;
}

static void scene_free(rr_polygons *v)
{
    for (int k = 0; k < 2; k++) {
        rr_band_rows_free(&v->rows[k]);
        if (v->scene[k])
            GDALClose(v->scene[k]);
        v->scene[k] = NULL;
        if (v->scratch[k][0])
            unlink(v->scratch[k]);
        v->scratch[k][0] = 0;
    }
}

int rr_polygons_scene_begin(rr_polygons *v, int width, int height, const rr_georef *g)
{
    v->width = width;
    v->height = height;
    v->y = 0;
    v->g = *g;
    free(v->crs);
    v->crs = NULL;
    if (g->crs && !(v->crs = strdup(g->crs)))
        return rr_error("out of memory");
    v->g.crs = v->crs;
    /* the mask (Byte) and the probabilities (Float32, 0 outside the mask:
     * a sparse scene compresses to little) */
    for (int k = 0; k < 2; k++) {
        GDALDataType type = k ? GDT_Float32 : GDT_Byte;
        if (!(v->scene[k] = scene_raster(v, type, v->scratch[k])) ||
            rr_band_rows_init(&v->rows[k], GDALGetRasterBand(v->scene[k], 1), type, width, height)) {
            scene_free(v);
            return -1;
        }
    }
    return 0;
}

int rr_polygons_scene_rows(rr_polygons *v, int n, const uint8_t *mask, const float *prob)
{
    size_t len = (size_t)n * v->width;
    float *p = malloc(len * sizeof *p);
    if (!p)
        return rr_error("out of memory");
    for (size_t i = 0; i < len; i++)
        p[i] = mask[i] ? prob[i] : 0.0f;
    int rc = rr_band_rows_put(&v->rows[0], n, mask) || rr_band_rows_put(&v->rows[1], n, p) ? -1 : 0;
    free(p);
    v->y += n;
    return rc;
}

/* The pixels of polygon geom (pixel coordinates) and the sum of their
 * probabilities: the polygon rasterised (pixel centres inside) over its
 * bounding box, CHUNK_ROWS rows at a time. */
static int polygon_stats(rr_polygons *v, OGRGeometryH geom, long *pixels, double *sum)
{
    OGREnvelope e;
    OGR_G_GetEnvelope(geom, &e);
    int x0 = (int)floor(e.MinX), x1 = (int)ceil(e.MaxX), y0 = (int)floor(e.MinY), y1 = (int)ceil(e.MaxY);
    int w = x1 - x0, rows = y1 - y0 < CHUNK_ROWS ? y1 - y0 : CHUNK_ROWS;
    uint8_t *burn = malloc((size_t)w * rows);
    float *prob = malloc((size_t)w * rows * sizeof *prob);
    GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", w, rows, 1, GDT_Byte, NULL);
    int rc = burn && prob && mem ? 0 : rr_error("out of memory");
    *pixels = 0;
    *sum = 0;
    for (int y = y0; y < y1 && !rc; y += rows) {
        int h = y1 - y < rows ? y1 - y : rows;
        double gt[6] = {x0, 1, 0, y, 0, 1};
        int band = 1;
        double one = 1;
        GDALRasterBandH b = GDALGetRasterBand(mem, 1);
        if (GDALSetGeoTransform(mem, gt) != CE_None || GDALFillRaster(b, 0, 0) != CE_None ||
            GDALRasterizeGeometries(mem, 1, &band, 1, &geom, NULL, NULL, &one, NULL, NULL, NULL) != CE_None ||
            GDALRasterIO(b, GF_Read, 0, 0, w, h, burn, w, h, GDT_Byte, 0, 0) != CE_None ||
            GDALRasterIO(GDALGetRasterBand(v->scene[1], 1), GF_Read, x0, y, w, h, prob, w, h, GDT_Float32, 0, 0) !=
                CE_None) {
            rc = rr_gdal_error("counting a polygon's pixels");
            break;
        }
        for (size_t i = 0; i < (size_t)w * h; i++)
            if (burn[i]) {
                ++*pixels;
                *sum += prob[i];
            }
    }
    if (mem)
        GDALClose(mem);
    free(burn);
    free(prob);
    return rc;
}

/* Pixel coordinates to the map's, through the geotransform. */
static void to_map(OGRGeometryH geom, const double gt[6])
{
    int parts = OGR_G_GetGeometryCount(geom);
    if (parts > 0) {
        for (int k = 0; k < parts; k++)
            to_map(OGR_G_GetGeometryRef(geom, k), gt);
        return;
    }
    for (int j = 0; j < OGR_G_GetPointCount(geom); j++) {
        double x = OGR_G_GetX(geom, j), y = OGR_G_GetY(geom, j);
        OGR_G_SetPoint_2D(geom, j, gt[0] + x * gt[1] + y * gt[2], gt[3] + x * gt[4] + y * gt[5]);
    }
}

/* The scene's pixel area in square metres, or NAN when its CRS is not a
 * projected one (or unknown). */
static double pixel_area_m2(const rr_georef *g, OGRSpatialReferenceH srs)
{
    if (!g->has_gt || !srs || !OSRIsProjected(srs))
        return NAN;
    double unit = OSRGetLinearUnits(srs, NULL);
    return fabs(g->gt[1] * g->gt[5] - g->gt[2] * g->gt[4]) * unit * unit;
}

/* One polygon of the scene to the layer. */
static int write_feature(rr_polygons *v, OGRGeometryH geom, const char *id, const char *sentence, double area,
                         OGRCoordinateTransformationH ct)
{
    long pixels;
    double sum;
    if (polygon_stats(v, geom, &pixels, &sum))
        return -1;
    if (v->g.has_gt)
        to_map(geom, v->g.gt);
    OGRGeometryH simple = v->simplify > 0 ? OGR_G_SimplifyPreserveTopology(geom, v->simplify) : NULL;
    if (v->simplify > 0 && !simple)
        return rr_gdal_error("simplifying a polygon");
    OGRGeometryH out = simple ? simple : geom;
    int rc = ct && OGR_G_Transform(out, ct) != OGRERR_NONE ? rr_gdal_error("reprojecting a polygon") : 0;
    OGRFeatureH f = rc ? NULL : OGR_F_Create(OGR_L_GetLayerDefn(v->layer));
    if (f) {
        OGR_F_SetFieldString(f, 0, id);
        OGR_F_SetFieldString(f, 1, sentence ? sentence : "");
        OGR_F_SetFieldInteger64(f, 2, pixels);
        if (isnan(area))
            OGR_F_SetFieldNull(f, 3);
        else
            OGR_F_SetFieldDouble(f, 3, (double)pixels * area);
        OGR_F_SetFieldDouble(f, 4, pixels ? sum / (double)pixels : 0.0);
        OGR_F_SetGeometry(f, out);
        if (OGR_L_CreateFeature(v->layer, f) != OGRERR_NONE)
            rc = rr_gdal_error("%s: writing a polygon", v->path);
        OGR_F_Destroy(f);
    }
    if (simple)
        OGR_G_DestroyGeometry(simple);
    return rc;
}

/* The scene's CRS to the layer's: NULL when the same (or both unknown);
 * *srs: the scene's (to free), or NULL. */
static int scene_transform(rr_polygons *v, OGRSpatialReferenceH *srs, OGRCoordinateTransformationH *ct)
{
    *ct = NULL;
    *srs = NULL;
    if (v->g.crs) {
        *srs = OSRNewSpatialReference(NULL);
        const char *wkt = v->g.crs;
        if (OSRImportFromWkt(*srs, (char **)&wkt) != OGRERR_NONE)
            return rr_gdal_error("the scene's CRS (\"crs\") is no WKT GDAL reads");
        OSRSetAxisMappingStrategy(*srs, OAMS_TRADITIONAL_GIS_ORDER);
    }
    if (!v->layer && make_layer(v, v->g.crs))
        return -1;
    if (!*srs && !v->srs)
        return 0;
    if (!*srs)
        return rr_error("the scene has no CRS (no \"crs\" in its records), and its polygons cannot be put in %s; "
                        "--vector-crs native keeps the mask's own coordinates",
                        v->wgs84 ? "EPSG:4326" : "the layer's CRS (the first scene's)");
    if (!v->srs)
        return rr_error("the scene has a CRS, and the layer (the first scene's) has none");
    if (OSRIsSame(*srs, v->srs))
        return 0;
    if (!(*ct = OCTNewCoordinateTransformation(*srs, v->srs)))
        return rr_gdal_error("no transformation from the scene's CRS to the layer's");
    return 0;
}

int rr_polygons_scene_end(rr_polygons *v, const char *id, const char *sentence, int ok)
{
    int rc = ok && v->y != v->height ? rr_error("%d of the scene's %d rows given", v->y, v->height) : 0;
    OGRSpatialReferenceH srs = NULL;
    OGRCoordinateTransformationH ct = NULL;
    GDALDatasetH tmp = NULL;
    OGRLayerH polys = NULL;
    if (ok && !rc && (rr_band_rows_flush(&v->rows[0]) || rr_band_rows_flush(&v->rows[1])))
        rc = -1;
    if (ok && !rc)
        rc = scene_transform(v, &srs, &ct);
    double area = pixel_area_m2(&v->g, srs);
    /* a scene read back from its temporary files: GDAL's cache (global;
     * decoding is one thread) held to two rows of their blocks while it is,
     * as it keeps every block read up to its limit */
    GIntBig cache = GDALGetCacheMax64(), rows = (GIntBig)2 * RR_BAND_ROWS * v->width * 5;
    if (v->scratch[0][0] && rows < cache)
        GDALSetCacheMax64(rows);
    if (ok && !rc) {
        /* polygons of the foreground (the mask as its own mask), in pixel
         * coordinates (the scene rasters have no geotransform) */
        tmp = GDALCreate(GDALGetDriverByName("Memory"), "", 0, 0, 0, GDT_Unknown, NULL);
        polys = tmp ? GDALDatasetCreateLayer(tmp, "p", NULL, wkbPolygon, NULL) : NULL;
        OGRFieldDefnH f = OGR_Fld_Create("v", OFTInteger);
        GDALRasterBandH b = GDALGetRasterBand(v->scene[0], 1);
        if (!polys || OGR_L_CreateField(polys, f, TRUE) != OGRERR_NONE ||
            GDALPolygonize(b, b, polys, 0, NULL, NULL, NULL) != CE_None)
            rc = rr_gdal_error("polygonising the mask");
        OGR_Fld_Destroy(f);
    }
    if (polys && !rc) {
        OGR_L_ResetReading(polys);
        OGRFeatureH f;
        while (!rc && (f = OGR_L_GetNextFeature(polys))) {
            rc = write_feature(v, OGR_F_GetGeometryRef(f), id, sentence, area, ct);
            OGR_F_Destroy(f);
        }
    }
    GDALSetCacheMax64(cache);
    if (tmp)
        GDALClose(tmp);
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (srs)
        OSRDestroySpatialReference(srs);
    scene_free(v);
    return rc ? rr_error_prefix("%s: ", v->path) : 0;
}

int rr_polygons_close(rr_polygons *v, int ok)
{
    int rc = 0;
    scene_free(v);
    if (ok && !v->layer)
        rc = make_layer(v, NULL); /* no scene: an empty layer */
    if (v->transaction && GDALDatasetCommitTransaction(v->ds) != OGRERR_NONE && ok && !rc)
        rc = rr_gdal_error("%s: writing it", v->path);
    CPLErrorReset();
    GDALClose(v->ds);
    if (ok && !rc && CPLGetLastErrorType() >= CE_Failure)
        rc = rr_gdal_error("%s: writing it", v->path);
    if (!ok || rc)
        GDALDeleteDataset(GDALGetDriverByName(driver_of(v->path)), v->path);
    if (v->srs)
        OSRDestroySpatialReference(v->srs);
    free(v->crs);
    free(v->path);
    free(v);
    return rc;
}
