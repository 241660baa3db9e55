/*
 * Which `hermes` executable HermesLink runs (hl/hermes_read.h): the one profile creation, update checks and updates share.
 */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "hl/common.h"
#include "hl/hermes_read.h"
#include "hl/subprocess.h"

char *hl_hermes_binary(bool *broken)
{
    const char *bin = getenv("HERMES_BIN");
    char *found;
    if (bin == NULL || bin[0] == '\0')
        found = hl_find_executable("hermes");
    else if (strchr(bin, '/') == NULL)
        found = hl_find_executable(bin); /* a bare name: looked up on PATH, as a shell would */
    else
        found = access(bin, X_OK) == 0 ? hl_strdup(bin) : NULL;
    if (broken != NULL)
        *broken = found == NULL && bin != NULL && bin[0] != '\0';
    return found;
}
