/*
 * The self-signed ECDSA (P-256) certificate of the TLS port, generated into <home>/tls/ on first start.
 * Main thread or CLI.
 */
#ifndef HL_TLS_CERT_H
#define HL_TLS_CERT_H

#include <stddef.h>

#include "hl/common.h"

typedef struct st_hl_tls_cert_t {
    char *cert_path;
    char *key_path;
    char fingerprint[65]; /* lowercase hex SHA-256 of the certificate's DER */
} hl_tls_cert_t;

/** Loads or creates <home>/tls/cert.pem and key.pem (0600). 0 or -errno with a message in err. */
int hl_tls_cert_ensure(const char *home, hl_tls_cert_t *out, char *err, size_t errlen) HL_WARN_UNUSED;

/** Frees the paths. */
void hl_tls_cert_dispose(hl_tls_cert_t *c);

#endif
