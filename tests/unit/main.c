/*
 * Runs every unit suite. Add a suite: write tests/unit/test_<name>.c with `Suite *suite_<name>(void)` and list it here.
 */
#include <check.h>
#include <stdlib.h>

Suite *suite_router(void);

int main(void)
{
    SRunner *sr = srunner_create(suite_router());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
