/*
 * The version and names every layer may print (core layer).
 */
#ifndef HL_VERSION_H
#define HL_VERSION_H

#ifndef HL_VERSION
#define HL_VERSION "0.0.0"
#endif
#define HL_API_VERSION 1
#define HL_DISPLAY_NAME "Hermes Link"

/** The git revision this binary was built from (`git describe --always --dirty`), "unknown" outside a git checkout.
 * A static string; any thread. */
const char *hl_build_revision(void);

#endif
