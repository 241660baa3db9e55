/*
 * Where things live: HERMESLINK_HOME (default ~/.hermeslink, 0700) and HERMES_HOME (default ~/.hermes).
 */
#ifndef HL_PATHS_H
#define HL_PATHS_H

#include "hl/common.h"

/** The absolute HermesLink home from HERMESLINK_HOME (trimmed) or ~/.hermeslink. Caller frees. NULL when unresolvable. */
char *hl_resolve_home(void);

/** The absolute Hermes home from HERMES_HOME or ~/.hermes. Caller frees. */
char *hl_resolve_hermes_home(void);

/** Creates the home (and parents) with mode 0700 and tightens an existing one to 0700. 0 or -errno. */
int hl_ensure_home(const char *home) HL_WARN_UNUSED;

#endif
