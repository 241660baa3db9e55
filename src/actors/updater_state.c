/*
 * HERMESLINK_HOME/link-state.json (STORAGE.md §1.6): the available Link version and the dismissal of the update notice.
 * The updater actor is its only writer; unknown keys (networkReport) are kept. Atomic JSON, 2-space indent, 0600.
 */
#include <stdlib.h>
#include <string.h>

#include "hl/common.h"
#include "hl/fsutil.h"
#include "updater_internal.h"

#define STATE_MAX_BYTES (256u << 10)

json_t *upd_link_state_read(const char *home)
{
    char *path = hl_path_join(home, "link-state.json"), *text = NULL;
    json_t *o = NULL;
    if (hl_read_file(path, STATE_MAX_BYTES, &text, NULL) == 0)
        o = json_loads(text, 0, NULL);
    free(text);
    free(path);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object(); /* missing or unreadable: the defaults (a broken file is replaced on the next write) */
    }
    return o;
}

int upd_link_state_write(const char *home, json_t *state)
{
    char *text = json_dumps(state, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *with_nl = hl_asprintf("%s\n", text);
    char *path = hl_path_join(home, "link-state.json");
    int ret = hl_write_file_atomic(path, with_nl, strlen(with_nl), 0600);
    free(path);
    free(with_nl);
    free(text);
    return ret;
}
