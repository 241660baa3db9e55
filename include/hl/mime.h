/*
 * What a stored file is called and which type it is served as (spec/API.md §7 "Blobs"): shared by uploads and
 * deliveries (core layer, pure functions).
 */
#ifndef HL_MIME_H
#define HL_MIME_H

/** The MIME type guessed from a file name's extension (.jpg … .json, spec/API.md §7), else application/octet-stream. */
const char *hl_mime_from_name(const char *name);

/**
 * A blob's file name from a client's: its basename, every character outside [A-Za-z0-9_.-] replaced by '_', cut to 255
 * bytes; NULL when nothing usable is left ("", ".", ".."). Caller frees.
 */
char *hl_blob_filename(const char *name);

#endif
