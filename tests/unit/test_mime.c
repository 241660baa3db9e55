/*
 * Blob file names and types (src/core/mime.c), shared by uploads and deliveries.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hl/mime.h"

START_TEST(mime_from_extension)
{
    ck_assert_str_eq(hl_mime_from_name("a.txt"), "text/plain");
    ck_assert_str_eq(hl_mime_from_name("photo.JPEG"), "image/jpeg");
    ck_assert_str_eq(hl_mime_from_name("x.tar.json"), "application/json");
    ck_assert_str_eq(hl_mime_from_name("noext"), "application/octet-stream");
    ck_assert_str_eq(hl_mime_from_name("b.bin"), "application/octet-stream");
    ck_assert_str_eq(hl_mime_from_name(NULL), "application/octet-stream");
}
END_TEST

START_TEST(blob_filenames)
{
    char *f = hl_blob_filename("../dir\\report (1).pdf");
    ck_assert_str_eq(f, "report__1_.pdf");
    free(f);
    f = hl_blob_filename("caf\xc3\xa9.txt");
    ck_assert_str_eq(f, "caf__.txt");
    free(f);
    ck_assert_ptr_null(hl_blob_filename(""));
    ck_assert_ptr_null(hl_blob_filename("a/.."));
    ck_assert_ptr_null(hl_blob_filename("dir/"));
    char longname[400];
    for (size_t i = 0; i < sizeof(longname) - 1; ++i)
        longname[i] = 'x';
    longname[sizeof(longname) - 1] = '\0';
    f = hl_blob_filename(longname);
    ck_assert_uint_eq(strlen(f), 255);
    free(f);
}
END_TEST

Suite *suite_mime(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("mime");
    tcase_add_test(tc, mime_from_extension);
    tcase_add_test(tc, blob_filenames);
    suite_add_tcase(s, tc);
    return s;
}
